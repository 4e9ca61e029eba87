/**
 * bench/targets.json: the targets of design §5 by scenario and name, with a looser `quick` value
 * for the short CI run. A scenario reports each measured value with its own idea of the target;
 * targets.json, when it names the target, wins. A target targets.json lists but the scenario did
 * not report counts as missed (the harness rotted), unless the scenario said why it skipped it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './processes.js';
import { met, type ScenarioResult, type TargetOp } from './scenario.js';

export interface TargetSpec {
  op: TargetOp;
  full: number;
  quick: number;
  why?: string;
}

export type TargetsFile = Record<string, Record<string, TargetSpec>>;

export interface JudgedTarget {
  name: string;
  value: number;
  target: number;
  op: TargetOp;
  verdict: 'met' | 'missed' | 'skipped';
  source: 'targets.json' | 'scenario';
  note?: string;
}

export const TARGETS_PATH = join(REPO_ROOT, 'bench', 'targets.json');

export function loadTargets(path = TARGETS_PATH): TargetsFile {
  const raw = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  const out: TargetsFile = {};
  for (const [scenario, entries] of Object.entries(raw)) {
    if (scenario.startsWith('$') || typeof entries !== 'object' || entries === null) continue;
    out[scenario] = {};
    for (const [name, spec] of Object.entries(entries as Record<string, TargetSpec>)) {
      if (name.startsWith('$')) continue;
      if ((spec.op !== '<=' && spec.op !== '>=') || typeof spec.full !== 'number' || typeof spec.quick !== 'number') {
        throw new Error(`${path}: ${scenario} / ${name} needs op ("<=" or ">="), full and quick numbers`);
      }
      out[scenario][name] = spec;
    }
  }
  return out;
}

export function judge(scenario: string, result: Pick<ScenarioResult, 'targets' | 'skipped'>, quick: boolean, file: TargetsFile): JudgedTarget[] {
  const listed = file[scenario] ?? {};
  const out: JudgedTarget[] = [];
  const seen = new Set<string>();
  for (const t of result.targets) {
    seen.add(t.name);
    const spec = listed[t.name];
    const target = spec ? (quick ? spec.quick : spec.full) : t.target;
    const op = spec ? spec.op : t.op;
    out.push({ name: t.name, value: t.value, target, op, verdict: met({ value: t.value, target, op }) ? 'met' : 'missed', source: spec ? 'targets.json' : 'scenario' });
  }
  for (const [name, spec] of Object.entries(listed)) {
    if (seen.has(name)) continue;
    const skip = result.skipped?.find((s) => s.name === name);
    out.push({
      name,
      value: NaN,
      target: quick ? spec.quick : spec.full,
      op: spec.op,
      verdict: skip ? 'skipped' : 'missed',
      source: 'targets.json',
      note: skip ? skip.reason : 'not reported by the scenario',
    });
  }
  return out;
}

export function describeTarget(t: JudgedTarget): string {
  const mark = t.verdict === 'met' ? 'ok     ' : t.verdict === 'skipped' ? 'SKIPPED' : 'MISSED ';
  const value = Number.isNaN(t.value) ? 'not measured' : String(Math.round(t.value * 1000) / 1000);
  return `${mark} ${t.name}: ${value} (target ${t.op} ${t.target})${t.note ? ` — ${t.note}` : ''}`;
}
