/**
 * The contract between `bench/run.ts` and a scenario file (`bench/scenarios/<name>.ts`): a scenario
 * exports `run(opts)`, starts what it needs, measures, tears everything down and returns rows for
 * the table plus the target checks. `machine` and `notes` are optional extensions.
 */
import type { BenchContext } from './bench-context.js';

export type TargetOp = '<=' | '>=';

export interface TargetCheck {
  /** Stable name; `bench/targets.json` may override `target` by this name (full and --quick). */
  name: string;
  value: number;
  target: number;
  op: TargetOp;
}

export interface ScenarioResult {
  rows: Record<string, number | string>[];
  targets: TargetCheck[];
  /** Free-form facts printed under the table (what limited a number, what was skipped). */
  notes?: string[];
  /** Anything machine-specific the scenario learned (e.g. nginx version). */
  machine?: Record<string, string | number>;
  /** Targets the scenario could not measure here (e.g. nginx not installed): reported, not failed. */
  skipped?: { name: string; reason: string }[];
}

export interface ScenarioOptions {
  /** Short version for CI: smaller data, shorter runs, targets from `quick` in targets.json. */
  quick: boolean;
  /**
   * Fixtures shared by the scenarios of one run (bench/lib/bench-context.ts). Absent when a
   * scenario runs alone: it then builds and closes its own.
   */
  context?: BenchContext;
}

export type ScenarioRun = (opts: ScenarioOptions) => Promise<ScenarioResult>;

export function met(t: Pick<TargetCheck, 'value' | 'target' | 'op'>): boolean {
  if (!Number.isFinite(t.value)) return false;
  return t.op === '<=' ? t.value <= t.target : t.value >= t.target;
}
