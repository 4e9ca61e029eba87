/**
 * What several scenarios of one run share, built lazily and torn down once at the end:
 * the redirect fixture (a private nats-server holding 1 M compiled links, and one redirect node,
 * one worker thread, pinned to the server core, that synced them into its LMDB). `redirect` and
 * `redirect-vs-nginx` use the same fixture, so the same node and keys are compared.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startNatsServer, type NatsServer } from '../../shared/testing/index.js';
import { cpuPlan } from './cpu-pin.js';
import { fetchMetrics, metricValue, sleep, waitForAnswer } from './http-probe.js';
import { BENCH_DOMAIN, plainPath, publishLinks, rulePath, unknownPath, visitorHeaderSets } from './link-dataset.js';
import { mappedRssOf, rssBreakdownOf, type RssBreakdown } from './proc-stat.js';
import { describeExit, startPlane, type Proc } from './processes.js';

export interface BenchNode {
  port: number;
  opsPort: number;
  proc: Proc;
  pid: number;
  lmdbPath: string;
  /** The node's /metrics text (from its operations port). */
  metrics(): Promise<string>;
  rssBytes(): number;
  memory(): NodeMemory;
  stop(): Promise<void>;
}

export interface NodeMemory extends RssBreakdown {
  /** Resident pages of the LMDB map (page cache of the store file, shared and reclaimable). */
  lmdb: number;
  /** RSS minus the LMDB map: what the node holds besides the data (heap, code, geo database…). */
  withoutLmdb: number;
}

export interface RedirectFixture {
  count: number;
  ruleCount: number;
  host: string;
  node: BenchNode;
  natsUrl: string;
  prefix: string;
  load: {
    puts: number;
    publishSeconds: number;
    /** Node start → ready (every link replayed into LMDB). */
    syncSeconds: number;
    memoryAfterSync: NodeMemory;
    lmdbBytes: number;
  };
  headerSets: Record<string, string>[];
  plainPaths: string[];
  rulePaths: string[];
  unknownPaths: string[];
}

export const BENCH_PREFIX = 'lpbench';

export interface NodeOptions {
  natsUrl: string;
  prefix: string;
  lmdbPath: string;
  cpus: string | null;
  env?: Record<string, string>;
  readyTimeoutMs?: number;
  /** Another build's dist directory (default: this checkout's). */
  dist?: string;
}

/** A redirect node from dist/, one worker thread, that trusts 127.0.0.1 as its proxy (X-Forwarded-For → geo). */
export async function startBenchNode(o: NodeOptions): Promise<BenchNode> {
  const port = await freePort();
  const opsPort = await freePort();
  const proc = startPlane('data-plane/main.js', {
    PORT: String(port),
    OPS_PORT: String(opsPort),
    HOST: '127.0.0.1',
    NATS_URL: o.natsUrl,
    NATS_PREFIX: o.prefix,
    LMDB_PATH: o.lmdbPath,
    NODE_ID: `bench-${port}`,
    WORKERS: '1',
    TRUSTED_PROXIES: '127.0.0.1/32',
    SHUTDOWN_GRACE_MS: '200',
    LOG_LEVEL: 'warn',
    ...o.env,
  }, o.cpus, o.dist);
  try {
    await waitForAnswer({ port, path: '/readyz', status: 200, timeoutMs: o.readyTimeoutMs ?? 120_000, everyMs: 100, alive: proc.alive });
  } catch (err) {
    await proc.stop(2000);
    throw new Error(`redirect node did not become ready: ${String(err)}\n${describeExit(proc)}`, { cause: err });
  }
  return {
    port,
    opsPort,
    proc,
    pid: proc.pid,
    metrics: () => fetchMetrics(opsPort),
    lmdbPath: o.lmdbPath,
    rssBytes: () => rssBreakdownOf(proc.pid).total,
    memory: () => {
      const rss = rssBreakdownOf(proc.pid);
      const lmdb = mappedRssOf(proc.pid, o.lmdbPath);
      return { ...rss, lmdb, withoutLmdb: rss.total - lmdb };
    },
    stop: () => proc.stop(),
  };
}

export class BenchContext {
  readonly root: string;
  #redirect: Promise<RedirectFixture> | null = null;
  #redirectQuick: boolean | null = null;
  readonly #cleanups: (() => Promise<void>)[] = [];
  /** Cleanups of the redirect fixture alone, so it can be released before the run ends. */
  readonly #redirectCleanups: (() => Promise<void>)[] = [];

  constructor() {
    this.root = mkdtempSync(join(tmpdir(), 'lp-bench-'));
  }

  /** A fresh directory under this run's scratch root. */
  scratch(name: string): string {
    return mkdtempSync(join(this.root, `${name}-`));
  }

  onClose(fn: () => Promise<void>): void {
    this.#cleanups.push(fn);
  }

  redirectFixture(quick: boolean): Promise<RedirectFixture> {
    if (this.#redirect && this.#redirectQuick === quick) return this.#redirect;
    if (this.#redirect) throw new Error('redirect fixture already built with another size');
    this.#redirectQuick = quick;
    this.#redirect = this.#buildRedirect(quick);
    return this.#redirect;
  }

  async #buildRedirect(quick: boolean): Promise<RedirectFixture> {
    const count = quick ? 20_000 : 1_000_000;
    const ruleCount = quick ? 500 : 5_000;
    const nats: NatsServer = await startNatsServer();
    this.#redirectCleanups.push(() => nats.destroy());
    const prefix = BENCH_PREFIX;
    const published = await publishLinks(nats.url, prefix, count, ruleCount);
    const lmdbPath = this.scratch('node-lmdb');
    const t0 = performance.now();
    const node = await startBenchNode({ natsUrl: nats.url, prefix, lmdbPath, cpus: cpuPlan().server, readyTimeoutMs: 900_000 });
    this.#redirectCleanups.push(() => node.stop());
    // ready means caught up with the stream as it was at start; confirm every link is there
    let text = '';
    for (let i = 0; i < 100; i++) {
      text = await node.metrics();
      if (metricValue(text, 'linkplane_node_links') >= count + ruleCount) break;
      await sleep(100);
    }
    const syncSeconds = (performance.now() - t0) / 1000;
    const links = metricValue(text, 'linkplane_node_links');
    if (!(links >= count + ruleCount)) throw new Error(`node holds ${links} links, expected ${count + ruleCount}`);
    return {
      count,
      ruleCount,
      host: BENCH_DOMAIN,
      node,
      natsUrl: nats.url,
      prefix,
      load: {
        puts: published.puts,
        publishSeconds: published.seconds,
        syncSeconds,
        memoryAfterSync: node.memory(),
        lmdbBytes: metricValue(text, 'linkplane_node_lmdb_bytes'),
      },
      headerSets: visitorHeaderSets(quick ? 200 : 1000),
      plainPaths: Array.from({ length: count }, (_, i) => plainPath(i)),
      rulePaths: Array.from({ length: ruleCount }, (_, i) => rulePath(i)),
      unknownPaths: Array.from({ length: quick ? 2000 : 20_000 }, (_, i) => unknownPath(i)),
    };
  }

  /** Stops the redirect fixture's node and nats-server (no later scenario needs them). */
  async releaseRedirectFixture(): Promise<void> {
    const pending = this.#redirect;
    this.#redirect = null;
    this.#redirectQuick = null;
    if (pending) await pending.catch(() => undefined);
    for (const fn of this.#redirectCleanups.splice(0).reverse()) {
      try {
        await fn();
      } catch (err) {
        process.stderr.write(`bench cleanup: ${String(err)}\n`);
      }
    }
  }

  async close(): Promise<void> {
    await this.releaseRedirectFixture();
    for (const fn of this.#cleanups.reverse()) {
      try {
        await fn();
      } catch (err) {
        process.stderr.write(`bench cleanup: ${String(err)}\n`);
      }
    }
    this.#cleanups.length = 0;
    rmSync(this.root, { recursive: true, force: true });
  }
}
