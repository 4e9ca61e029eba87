/**
 * bench/results/<scenario>.json (full runs) and <scenario>.quick.json (--quick): rows, judged
 * targets, notes and the machine, plus bench/results/summary.md — every full result as Markdown,
 * what docs/performance.md shows.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MachineInfo } from './machine.js';
import { REPO_ROOT } from './processes.js';
import { groupRows, markdownTable } from './table.js';
import type { JudgedTarget } from './targets.js';

export const RESULTS_DIR = join(REPO_ROOT, 'bench', 'results');

export interface ScenarioRecord {
  scenario: string;
  quick: boolean;
  startedAt: string;
  seconds: number;
  machine: MachineInfo & Record<string, string | number | null | undefined>;
  rows: Record<string, number | string>[];
  targets: JudgedTarget[];
  notes: string[];
  /** Set when the scenario threw: its message. */
  error?: string;
}

export function resultPath(scenario: string, quick: boolean): string {
  return join(RESULTS_DIR, `${scenario}${quick ? '.quick' : ''}.json`);
}

export function writeResult(rec: ScenarioRecord): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const path = resultPath(rec.scenario, rec.quick);
  // NaN is not JSON: write null for a value that could not be measured
  writeFileSync(path, `${JSON.stringify(rec, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);
  return path;
}

export function readResult(scenario: string, quick: boolean): ScenarioRecord | null {
  const path = resultPath(scenario, quick);
  if (!existsSync(path)) return null;
  return JSON.parse(readFileSync(path, 'utf8')) as ScenarioRecord;
}

function targetLine(scenario: string, t: JudgedTarget): string {
  const value = t.value === null || Number.isNaN(t.value) ? 'not measured' : String(Math.round(t.value * 1000) / 1000);
  const mark = t.verdict === 'met' ? '✅ met' : t.verdict === 'skipped' ? '⏭ skipped' : '❌ **missed**';
  return `| ${scenario} | ${t.name} | ${value} | ${t.op} ${t.target} | ${mark}${t.note ? ` (${t.note})` : ''} |`;
}

const machineLine = (m: ScenarioRecord['machine']): string =>
  `${m.cores} cores (${m.cpuModel}), ${m.memoryGB} GB, Linux ${m.kernel}, Node ${m.node}; server pinned to CPU ${m.serverCpus ?? '—'}, load generator to CPU ${m.clientCpus ?? '—'}`;

export function summaryMarkdown(records: readonly ScenarioRecord[]): string {
  const out: string[] = [];
  // result files are kept per scenario, so scenarios re-run later may come from another machine
  const machines = [...new Set(records.map((r) => machineLine(r.machine)))];
  if (machines.length === 1) out.push(`Machine: ${machines[0]}.`, '');
  else if (machines.length > 1) out.push('Machines (scenarios run at different times; each one\'s is named under its run):', ...machines.map((l) => `- ${l}`), '');
  out.push('| scenario | target | measured | target | verdict |', '|---|---|---:|---:|---|');
  for (const r of records) for (const t of r.targets) out.push(targetLine(r.scenario, t));
  for (const r of records) {
    const on = machines.length > 1 ? ` on ${r.machine.cpuModel}` : '';
    out.push('', `#### ${r.scenario}`, '', `Run ${r.startedAt}${on}, ${Math.round(r.seconds)} s, load average ${r.machine.loadAtStart} → ${r.machine.loadAtEnd ?? '?'}.`, '');
    if (r.error) out.push(`**Failed:** ${r.error}`, '');
    for (const group of groupRows(r.rows)) out.push(markdownTable(group), '');
    for (const n of r.notes) out.push(`- ${n}`);
  }
  return `${out.join('\n')}\n`;
}
