/**
 * A real control plane for a scenario: its own database on the local Postgres, the compiled
 * `dist/control-plane/main.js` with an admin key and rate limits out of the way, a small JSON
 * client, and teardown (stop, drop the database).
 */
import { createTestDatabase, freePort, type TestDatabase } from '../../shared/testing/index.js';
import { waitForAnswer } from './http-probe.js';
import { describeExit, startPlane, type Proc } from './processes.js';

export const BENCH_ADMIN_KEY = 'lp_bench_admin_secret_not_for_production_0001';

export interface BenchControlPlane {
  port: number;
  url: string;
  key: string;
  proc: Proc;
  db: TestDatabase;
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; json: Record<string, unknown> }>;
  close(): Promise<void>;
}

/** `dist`: another build's compiled tree (default: this checkout's dist/), for before/after in one run. */
export async function startBenchControlPlane(opts: { label: string; natsUrl: string; prefix: string; cpus?: string | null; env?: Record<string, string>; dist?: string }): Promise<BenchControlPlane> {
  const db = await createTestDatabase(`bench_${opts.label}`);
  const port = await freePort();
  let proc: Proc;
  try {
    proc = startPlane('control-plane/main.js', {
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: db.url,
      NATS_URL: opts.natsUrl,
      NATS_PREFIX: opts.prefix,
      BOOTSTRAP_ADMIN_KEY: BENCH_ADMIN_KEY,
      RATE_LIMIT_BURST: '10000000',
      RATE_LIMIT_PER_SEC: '10000000',
      LOG_LEVEL: 'warn',
      ...opts.env,
    }, opts.cpus ?? null, opts.dist);
  } catch (err) {
    await db.drop().catch(() => undefined);
    throw err;
  }
  const url = `http://127.0.0.1:${port}`;
  const close = async () => {
    await proc.stop();
    await db.drop().catch(() => undefined);
  };
  try {
    await waitForAnswer({ port, path: '/readyz', status: 200, timeoutMs: 120_000, alive: proc.alive });
  } catch (err) {
    await close();
    throw new Error(`control plane did not become ready: ${String(err)}\n${describeExit(proc)}`, { cause: err });
  }
  return {
    port,
    url,
    key: BENCH_ADMIN_KEY,
    proc,
    db,
    async call(method, path, body, headers) {
      const res = await fetch(`${url}${path}`, {
        method,
        headers: { authorization: `Bearer ${BENCH_ADMIN_KEY}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
    },
    close,
  };
}
