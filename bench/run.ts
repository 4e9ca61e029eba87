/**
 * `npm run bench` — every scenario; `npm run bench -- <scenario> [<scenario>…]` — some;
 * `--quick` — the short version of each (CI), judged against the `quick` targets.
 *
 * Each scenario starts what it needs (real control plane, nodes, nginx, NATS, Postgres), measures,
 * tears everything down and returns rows + target checks. This prints a table per scenario,
 * writes bench/results/<scenario>[.quick].json (with the machine), regenerates
 * bench/results/summary.md from the full results, and exits 1 naming every missed target.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BenchContext } from './lib/bench-context.js';
import { cpuPlan } from './lib/cpu-pin.js';
import { currentLoad, machineInfo } from './lib/machine.js';
import { killAll } from './lib/processes.js';
import { readResult, RESULTS_DIR, summaryMarkdown, writeResult, type ScenarioRecord } from './lib/results.js';
import type { ScenarioOptions, ScenarioResult } from './lib/scenario.js';
import { groupRows, textTable } from './lib/table.js';
import { describeTarget, judge, loadTargets } from './lib/targets.js';

/** Run order: the redirect scenarios share one 1 M-link node, so they go first and together. */
export const SCENARIOS = ['redirect', 'redirect-vs-nginx', 'propagation', 'api', 'clicks', 'bulk', 'webhooks'] as const;
/** Scenarios that use the shared redirect fixture (released once none of them is left to run). */
const REDIRECT_FIXTURE_USERS = new Set(['redirect', 'redirect-vs-nginx', 'instructions']);

type ScenarioModule = { run(opts: ScenarioOptions): Promise<ScenarioResult> };

function scenarioFile(name: string): URL {
  return new URL(`./scenarios/${name}.js`, import.meta.url);
}

function usage(): string {
  return `usage: npm run bench [-- [--quick] [scenario ...]]\nscenarios: ${SCENARIOS.join(', ')}`;
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    console.log(usage());
    return 0;
  }
  const quick = args.includes('--quick');
  const unknownFlags = args.filter((a) => a.startsWith('-') && a !== '--quick');
  const named = args.filter((a) => !a.startsWith('-'));
  const bad = named.filter((n) => !(SCENARIOS as readonly string[]).includes(n) && !existsSync(fileURLToPath(scenarioFile(n))));
  if (unknownFlags.length > 0 || bad.length > 0) {
    console.error(`unknown ${[...unknownFlags, ...bad].join(', ')}\n${usage()}`);
    return 2;
  }
  const wanted = named.length > 0 ? named : [...SCENARIOS];
  const targetsFile = loadTargets();
  const ctx = new BenchContext();
  const stop = (signal: NodeJS.Signals) => {
    console.error(`\n${signal}: stopping every process this run started`);
    killAll();
    void ctx.close().finally(() => process.exit(130));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);

  const plan = cpuPlan();
  const m0 = machineInfo();
  console.log(`linkplane bench${quick ? ' --quick' : ''}: ${wanted.join(', ')}`);
  console.log(`machine: ${m0.cores} cores, ${m0.cpuModel}, Node ${m0.node}, load ${m0.loadAtStart}; server CPU ${plan.server ?? '-'}, client CPU ${plan.client ?? '-'}${plan.note ? ` (${plan.note})` : ''}`);
  if (m0.loadAtStart > m0.cores) console.log(`warning: the load average (${m0.loadAtStart}) is above the core count — others are busy; latencies will suffer`);

  const records: ScenarioRecord[] = [];
  let failed = false;
  try {
    for (const [index, name] of wanted.entries()) {
      if (!wanted.slice(index).some((n) => REDIRECT_FIXTURE_USERS.has(n))) await ctx.releaseRedirectFixture();
      const file = scenarioFile(name);
      console.log(`\n=== ${name}${quick ? ' (quick)' : ''} ===`);
      if (!existsSync(fileURLToPath(file))) {
        console.log(`not present yet (${fileURLToPath(file)}): skipped`);
        continue;
      }
      const machine = machineInfo();
      const startedAt = new Date().toISOString();
      const t0 = performance.now();
      let result: ScenarioResult;
      let error: string | undefined;
      try {
        const mod = (await import(file.href)) as ScenarioModule;
        result = await mod.run({ quick, context: ctx });
      } catch (err) {
        error = err instanceof Error ? err.message : String(err);
        console.error(`${name} failed: ${err instanceof Error ? err.stack : error}`);
        result = { rows: [], targets: [] };
        failed = true;
      }
      const judged = judge(name, result, quick, targetsFile);
      const rec: ScenarioRecord = {
        scenario: name,
        quick,
        startedAt,
        seconds: Math.round((performance.now() - t0) / 100) / 10,
        machine: { ...machine, ...result.machine, loadAtEnd: currentLoad() },
        rows: result.rows,
        targets: judged,
        notes: result.notes ?? [],
        ...(error ? { error } : {}),
      };
      records.push(rec);
      writeResult(rec);
      for (const group of groupRows(rec.rows)) console.log(`${textTable(group)}\n`);
      for (const n of rec.notes) console.log(`  · ${n}`);
      for (const t of judged) console.log(`  ${describeTarget(t)}`);
      console.log(`  (${rec.seconds} s, load average ${rec.machine.loadAtStart} → ${rec.machine.loadAtEnd})`);
    }
  } finally {
    await ctx.close();
  }

  if (!quick) {
    const all = SCENARIOS.map((s) => readResult(s, false)).filter((r): r is ScenarioRecord => r !== null);
    writeFileSync(`${RESULTS_DIR}/summary.md`, summaryMarkdown(all));
  }
  const missed = records.flatMap((r) => r.targets.filter((t) => t.verdict === 'missed').map((t) => `${r.scenario}: ${describeTarget(t)}`));
  const errored = records.filter((r) => r.error).map((r) => `${r.scenario}: failed — ${r.error}`);
  console.log('\n=== summary ===');
  for (const r of records) for (const t of r.targets) console.log(`${r.scenario}: ${describeTarget(t)}`);
  if (missed.length > 0 || errored.length > 0 || failed) {
    console.log(`\n${missed.length} target(s) missed, ${errored.length} scenario(s) failed:`);
    for (const line of [...errored, ...missed]) console.log(`  ${line}`);
    return 1;
  }
  console.log('\nevery target met');
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    killAll();
    process.exit(1);
  },
);
