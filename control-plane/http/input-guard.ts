/**
 * The guard every parsed input passes before a handler sees it (design §4: bad input is a 4xx,
 * never a 500). JSON schemas cannot say "no NUL byte anywhere", "no lone surrogate", "no
 * Infinity" or "not 5 000 levels deep", and each of those reaches Postgres or a recursive
 * function as a crash: text columns refuse NUL (22021) and invalid UTF-16 (22P05), `limit=Infinity`
 * and `1e400` coerce to Infinity (ajv checks the type before it coerces, and `minimum`/`maximum`
 * never see it), and deep JSON overflows the stack of whatever walks it.
 *
 * The walk is iterative (an explicit stack), so a 5 000-deep body costs a few microseconds, not a
 * stack overflow. It runs twice: before validation on the body, query and params (strings and
 * depth), and after validation (the numbers ajv coerced). The one header stored in Postgres,
 * Idempotency-Key, has its own stricter check (visible ASCII) in the idempotency hook.
 */
import type { FastifyInstance } from 'fastify';
import { errors } from '../errors.js';

/** Deepest nesting of objects/arrays accepted anywhere (the body itself is level 1). */
export const MAX_INPUT_DEPTH = 32;

export type InputProblemReason = 'nul_character' | 'lone_surrogate' | 'non_finite_number' | 'too_deep';

export interface InputProblem {
  /** Keys from the root to the bad value (or to the first container past MAX_INPUT_DEPTH). */
  path: (string | number)[];
  reason: InputProblemReason;
}

/** NUL, or a UTF-16 surrogate that is not half of a pair (in `u` mode a valid pair is one code point). */
// eslint-disable-next-line no-control-regex -- finding NUL is the point
const BAD_TEXT = /[\u0000\p{Cs}]/u;

const BAD_TEXT_ALL = new RegExp(BAD_TEXT.source, 'gu');

/** `s` with each NUL and lone surrogate written as `\uXXXX`: safe to echo and to store (Postgres text). */
export function escapeUnstorable(s: string): string {
  return BAD_TEXT.test(s) ? s.replace(BAD_TEXT_ALL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) : s;
}

function textProblem(s: string): InputProblemReason | null {
  if (!BAD_TEXT.test(s)) return null;
  return s.includes('\u0000') ? 'nul_character' : 'lone_surrogate';
}

interface Frame {
  value: unknown;
  depth: number;
  parent: Frame | null;
  key: string | number | null;
}

function pathOf(f: Frame): (string | number)[] {
  const out: (string | number)[] = [];
  for (let x: Frame | null = f; x && x.key !== null; x = x.parent) out.push(x.key);
  return out.reverse();
}

/** The first NUL, lone surrogate, non-finite number or too-deep container in `root`, or null. */
export function findInputProblem(root: unknown, maxDepth = MAX_INPUT_DEPTH): InputProblem | null {
  const stack: Frame[] = [{ value: root, depth: 0, parent: null, key: null }];
  while (stack.length > 0) {
    const f = stack.pop()!;
    const v = f.value;
    if (typeof v === 'string') {
      const reason = textProblem(v);
      if (reason) return { path: pathOf(f), reason };
    } else if (typeof v === 'number') {
      if (!Number.isFinite(v)) return { path: pathOf(f), reason: 'non_finite_number' };
    } else if (v !== null && typeof v === 'object') {
      const depth = f.depth + 1;
      if (depth > maxDepth) return { path: pathOf(f), reason: 'too_deep' };
      if (Array.isArray(v)) {
        for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], depth, parent: f, key: i });
      } else {
        const keys = Object.keys(v);
        for (let i = keys.length - 1; i >= 0; i--) {
          const k = keys[i]!;
          const child: Frame = { value: (v as Record<string, unknown>)[k], depth, parent: f, key: k };
          const reason = textProblem(k);
          if (reason) return { path: pathOf(child), reason };
          stack.push(child);
        }
      }
    }
  }
  return null;
}

/** `['routing','rules',0,'url']` → `routing.rules[0].url` (the API's field spelling; a bad key escaped). */
export function fieldName(path: (string | number)[]): string {
  return path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${escapeUnstorable(p)}` : escapeUnstorable(p)), '');
}

/** `['metadata','a/b']` → `/metadata/a~1b` (RFC 6901; a bad key escaped). */
export function jsonPointer(path: (string | number)[]): string {
  return path.map((p) => `/${escapeUnstorable(String(p)).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

const WHY: Record<InputProblemReason, string> = {
  nul_character: 'must not contain a NUL character',
  lone_surrogate: 'must not contain a lone UTF-16 surrogate (invalid Unicode)',
  non_finite_number: 'must be a finite number',
  too_deep: `nests deeper than ${MAX_INPUT_DEPTH} levels`,
};

export type InputPart = 'body' | 'querystring' | 'params' | 'headers';

/** The field (API spelling, '' for the root) and the sentence for a problem. */
export function describeInputProblem(p: InputProblem): { field: string; message: string } {
  const field = fieldName(p.path);
  return { field, message: `${field || 'the value'} ${WHY[p.reason]}` };
}

/** Throws validation_failed naming the field when `value` (one part of the request) has a problem. */
export function assertCleanInput(value: unknown, part: InputPart): void {
  if (value === undefined || value === null) return;
  const p = findInputProblem(value);
  if (!p) return;
  // query/params/headers are flat: their field is the parameter's name (a repeated one: name[i])
  const field = fieldName(p.path) || part;
  throw errors.validation_failed(
    { field, in: part, reason: p.reason, ...(part === 'body' ? { pointer: jsonPointer(p.path) } : {}) },
    `${part}${field === part ? '' : `.${field}`} ${WHY[p.reason]}`,
  );
}

/** Registers the guard; call before hooks that read the body or write to Postgres (idempotency). */
export function registerInputGuard(app: FastifyInstance): void {
  app.addHook('preValidation', async (req) => {
    assertCleanInput(req.params, 'params');
    assertCleanInput(req.query, 'querystring');
    assertCleanInput(req.body, 'body');
  });
  // ajv has coerced query, params and body by now: `limit=Infinity` is the number Infinity
  app.addHook('preHandler', async (req) => {
    assertCleanInput(req.params, 'params');
    assertCleanInput(req.query, 'querystring');
    assertCleanInput(req.body, 'body');
  });
}
