/**
 * What operators import, checked against running processes (issue 15, "Metrics and logs"):
 * `promtool check metrics` passes on the /metrics of a real control plane and a real node; the
 * standard process/Node.js metrics carry their stock names on both; `promtool check rules` passes
 * on deploy/prometheus/alerts.yml; and every metric the alert rules and the Grafana dashboard name
 * is exported by one of the two processes (so a rename cannot silently blind an alert); the
 * dashboard's queries are valid PromQL.
 *
 * Needs promtool (Debian package `prometheus`; .ci/run installs it): skipped, saying so, without it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { DOMAIN, LinksBucket, linkSource, request, startTestNode, type TestNode } from '../../data-plane/test/harness.js';
import {
  cleanupNatsPrefix, createTestDatabase, docBlocks, freePort, REPO_ROOT, startProcess, TEST_NATS_URL, testPrefix, waitForHttp,
  type RunningProcess, type TestDatabase,
} from '../../shared/testing/index.js';

const PROMTOOL = spawnSync('promtool', ['--version']).status === 0 ? 'promtool' : null;
if (!PROMTOOL) console.warn('deploy/test/prometheus.test.ts: promtool not found (Debian package `prometheus`; .ci/run installs it) — skipping the Prometheus checks');

const ALERTS = join(REPO_ROOT, 'deploy/prometheus/alerts.yml');

function promtool(args: string[], input?: string): { status: number | null; out: string } {
  const r = spawnSync(PROMTOOL!, args, { input, encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** Metric families a scrape declares (# TYPE lines), with the series names a histogram or summary adds. */
function exported(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = m as unknown as [string, string, string];
    names.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
    if (type === 'summary') for (const s of ['_sum', '_count']) names.add(name + s);
  }
  return names;
}

/** Every query of deploy/grafana/linkplane.json. */
function dashboardExprs(): string[] {
  type Panel = { targets?: { expr: string }[]; panels?: Panel[] };
  const walk = (ps: Panel[]): string[] => ps.flatMap((p) => [...(p.targets ?? []).map((t) => t.expr), ...walk(p.panels ?? [])]);
  return walk((JSON.parse(readFileSync(join(REPO_ROOT, 'deploy/grafana/linkplane.json'), 'utf8')) as { panels: Panel[] }).panels);
}

/** Series Prometheus makes itself for every target. */
const SCRAPE_SERIES = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped']);

/** Metric names a PromQL expression selects (ours and the standard ones; label matchers and strings ignored). */
export function metricNames(expr: string): string[] {
  const bare = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""').replace(/\{[^}]*\}/g, '').replace(/\[[^\]]*\]/g, '');
  const names = bare.match(/\b(?:linkplane|process|nodejs)_[a-zA-Z0-9_:]+|\bup\b/g) ?? [];
  return [...new Set(names)];
}

describe.skipIf(!PROMTOOL)('Prometheus: metrics, alert rules and dashboard against running processes', () => {
  let db: TestDatabase;
  let cp: RunningProcess;
  let cpOps: number;
  let bucket: LinksBucket;
  let node: TestNode;
  const cpPrefix = testPrefix('promcp');
  const nodePrefix = testPrefix('promdp');
  const scrape = async (port: number) => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();

  beforeAll(async () => {
    db = await createTestDatabase('prometheus_check');
    const port = await freePort();
    cpOps = await freePort();
    cp = startProcess('control-plane/main.js', { PORT: String(port), OPS_PORT: String(cpOps), DATABASE_URL: db.url, NATS_PREFIX: cpPrefix });
    bucket = await LinksBucket.open(TEST_NATS_URL, nodePrefix);
    await bucket.putDomain();
    await bucket.putLink(linkSource({ path: 'plain' }));
    node = await startTestNode({ natsUrl: TEST_NATS_URL, prefix: nodePrefix });
    await waitForHttp(`http://127.0.0.1:${port}/readyz`);
    // a sample in each labelled family that needs one to be written out
    await fetch(`http://127.0.0.1:${port}/v1/links`);
    await request(node.port, { path: '/plain', host: DOMAIN.hostname });
  });
  afterAll(async () => {
    await node?.destroy();
    await cp?.stop();
    await bucket?.close();
    await db?.drop();
    await cleanupNatsPrefix(cpPrefix);
    await cleanupNatsPrefix(nodePrefix);
  });

  it('promtool check metrics passes on the control plane', async () => {
    expect(promtool(['check', 'metrics'], await scrape(cpOps))).toEqual({ status: 0, out: '' });
  });

  it('promtool check metrics passes on the node', async () => {
    expect(promtool(['check', 'metrics'], await scrape(node.opsPort))).toEqual({ status: 0, out: '' });
  });

  it('the standard process and Node.js metrics have their stock names on both, unprefixed', async () => {
    const stock = ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'process_start_time_seconds', 'process_open_fds',
      'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_gc_duration_seconds', 'nodejs_active_handles', 'nodejs_version_info'];
    for (const port of [cpOps, node.opsPort]) {
      const text = await scrape(port);
      const names = exported(text);
      for (const n of stock) expect(names.has(n), `${n} on :${port}`).toBe(true);
      expect([...names].filter((n) => n.startsWith('linkplane_cp_') || /^(process|nodejs)_.*_total$/.test(n) && !n.endsWith('_seconds_total'))).toEqual([]);
      expect(text.match(/^process_start_time_seconds \d+$/gm)).toHaveLength(1);
    }
  });

  it('promtool check rules passes on deploy/prometheus/alerts.yml', () => {
    const r = promtool(['check', 'rules', ALERTS]);
    expect(r.status, r.out).toBe(0);
    expect(r.out).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('every metric an alert rule names is exported by the control plane or the node', async () => {
    const names = new Set([...exported(await scrape(cpOps)), ...exported(await scrape(node.opsPort)), ...SCRAPE_SERIES]);
    const rules = (parse(readFileSync(ALERTS, 'utf8')) as { groups: { rules: { alert: string; expr: string }[] }[] }).groups.flatMap((g) => g.rules);
    const missing = rules.flatMap((r) => metricNames(r.expr).filter((n) => !names.has(n)).map((n) => `${r.alert}: ${n}`));
    expect(missing).toEqual([]);
    expect(rules.flatMap((r) => metricNames(r.expr)).filter((n) => n.startsWith('linkplane_node_')).length).toBeGreaterThan(0);
    expect(rules.flatMap((r) => metricNames(r.expr)).filter((n) => n.startsWith('linkplane_') && !n.startsWith('linkplane_node_')).length).toBeGreaterThan(0);
  });

  it('the Grafana dashboard: every query is valid PromQL (promtool) and names only exported metrics', async () => {
    const names = new Set([...exported(await scrape(cpOps)), ...exported(await scrape(node.opsPort)), ...SCRAPE_SERIES]);
    const exprs = dashboardExprs();
    expect(exprs.length).toBe(32);
    const missing = exprs.flatMap((e) => metricNames(e).filter((n) => !names.has(n)).map((n) => `${n} in ${e}`));
    expect(missing).toEqual([]);
    // Grafana's interval variable is not PromQL: promtool checks each query as a recording rule
    const dir = mkdtempSync(join(tmpdir(), 'lp-grafana-'));
    try {
      const file = join(dir, 'queries.yml');
      const rules = exprs.map((e, i) => ({ record: `dashboard:query_${i}`, expr: e.replaceAll('$__rate_interval', '5m') }));
      writeFileSync(file, stringify({ groups: [{ name: 'dashboard', rules }] }));
      const r = promtool(['check', 'rules', file]);
      expect(r.status, r.out).toBe(0);
      expect(r.out).toContain(`SUCCESS: ${exprs.length} rules found`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!PROMTOOL)('alert rules fire on the metrics they watch', () => {
  it('promtool test rules deploy/prometheus/alerts.test.yml (redirect 5xx above/below 0.1 %, sync lag, click drops and backlog, webhook DLQ)', () => {
    const r = promtool(['test', 'rules', join(REPO_ROOT, 'deploy/prometheus/alerts.test.yml')]);
    expect(r.status, r.out).toBe(0);
    expect(r.out).toContain('SUCCESS');
  });
});

describe('the outbox alert rules of docs/operations.md', () => {
  it('are the ones deploy/prometheus/alerts.yml ships (same expr, for and severity), except the blackbox probe', () => {
    type Rule = { alert: string; expr: string; for?: string; labels?: Record<string, string> };
    const blocks = docBlocks('docs/operations.md', 'yaml', { section: 'Faults: what you see', min: 1 });
    expect(blocks.length).toBe(1);
    const documented = (parse(blocks[0]!) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules).filter((r) => !r.expr.includes('probe_success'));
    const shipped = new Map((parse(readFileSync(ALERTS, 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules).map((r) => [r.alert, r]));
    expect(documented.map((r) => r.alert)).toEqual(['LinkplaneOutboxBacklog', 'LinkplaneOutboxRelayFailing', 'LinkplaneOutboxNoRelay']);
    for (const r of documented) {
      const s = shipped.get(r.alert);
      expect({ expr: s?.expr.trim(), for: s?.for, severity: s?.labels?.severity }, r.alert).toEqual({ expr: r.expr.trim(), for: r.for, severity: r.labels?.severity });
    }
  });
});

describe('metricNames (the PromQL scan the checks rely on)', () => {
  it('finds selected metrics, not functions, labels, strings or ranges', () => {
    expect(metricNames('sum by (job) (rate(linkplane_node_requests_total{status=~"5..",job="linkplane_x"}[5m])) / sum(rate(linkplane_node_requests_total[5m])) > 0.001'))
      .toEqual(['linkplane_node_requests_total']);
    expect(metricNames('histogram_quantile(0.99, sum by (le) (rate(linkplane_node_decision_seconds_bucket[5m]))) > 0.0025 and up == 1'))
      .toEqual(['linkplane_node_decision_seconds_bucket', 'up']);
    expect(metricNames('time() - process_start_time_seconds < 60 or nodejs_heap_size_used_bytes offset 5m')).toEqual(['process_start_time_seconds', 'nodejs_heap_size_used_bytes']);
  });
});
