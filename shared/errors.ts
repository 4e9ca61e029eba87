/**
 * Error building blocks shared by both planes. Each plane declares its own catalog of
 * API error codes (control-plane/errors.ts); infrastructure errors here keep their cause.
 */

export interface ErrorSpec {
  readonly status: number;
  readonly message: string;
}

/** An error with a stable machine code, rendered as `{"error":{"code","message","details"}}`. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
    readonly details?: Record<string, unknown>,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'ApiError';
  }

  toBody(): { error: { code: string; message: string; details?: Record<string, unknown> } } {
    const details = this.details && Object.keys(this.details).length > 0 ? { details: this.details } : {};
    return { error: { code: this.code, message: this.message, ...details } };
  }
}

/** Builds a typed factory per code from a catalog: `errors.link_not_found({ id })`. */
export function defineErrors<C extends Record<string, ErrorSpec>>(catalog: C) {
  const out = {} as {
    [K in keyof C]: (details?: Record<string, unknown>, message?: string, options?: ErrorOptions) => ApiError;
  };
  for (const code of Object.keys(catalog) as (keyof C & string)[]) {
    const spec = catalog[code]!;
    out[code] = (details, message, options) => new ApiError(code, spec.status, message ?? spec.message, details, options);
  }
  return out;
}

/** A failure of NATS, LMDB or Postgres plumbing; `cause` carries the underlying error. */
export class InfraError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}
export class SyncError extends InfraError {}
export class StoreError extends InfraError {}
export class PublishError extends InfraError {}

/**
 * One line for a fatal message: the error's message followed by each cause's (`a: b: c`), so a
 * start failure reported across a thread boundary or on stderr still names what is underneath.
 */
export function errorChain(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e !== undefined && e !== null && depth < 8; depth++) {
    const text = e instanceof Error ? e.message : String(e);
    if (text && !parts.some((p) => p.includes(text))) parts.push(text);
    e = e instanceof Error ? e.cause : undefined;
  }
  return parts.join(': ');
}
