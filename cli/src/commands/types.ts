import type { Command } from 'commander';
import type { Context } from '../context.js';

/** Wraps a command's action: builds the context from the global options; the number returned is the exit code. */
export type Action = <A extends unknown[]>(fn: (ctx: Context, ...args: A) => Promise<number | void>) => (...args: unknown[]) => Promise<void>;

export type Register = (program: Command, action: Action) => void;

/** Collects a repeatable option into an array. */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** A positive integer option. */
export function int(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`"${value}" is not a whole number`);
  return n;
}
