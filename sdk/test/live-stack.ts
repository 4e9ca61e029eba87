/**
 * A live stack for SDK, CLI and recipe tests: a real control-plane process (dist/, built by the
 * vitest global setup) on its own database and NATS prefix, with an admin key and a domain —
 * job workers and webhook dispatcher included. `close()` stops it and removes what it made.
 */
import { Linkplane } from '@linkplane/sdk';
import { cleanupNatsPrefix, createTestDatabase, freePort, startProcess, testPrefix, waitForHttp, type RunningProcess, type TestDatabase } from '../../shared/testing/index.js';

export interface LiveStack {
  apiUrl: string;
  adminKey: string;
  /** A domain created for the test's links. */
  domain: string;
  /** The NATS prefix of this stack (clicks: `<prefix>.clicks.<node>`). */
  prefix: string;
  process: RunningProcess;
  db: TestDatabase;
  /** An SDK client with the admin key. */
  client(opts?: Partial<ConstructorParameters<typeof Linkplane>[0]>): Linkplane;
  close(): Promise<void>;
}

export async function startLiveStack(label: string, env: Record<string, string> = {}): Promise<LiveStack> {
  const db = await createTestDatabase(label);
  const prefix = testPrefix(label);
  const port = await freePort();
  const adminKey = `lp_live_${label.replace(/[^a-z0-9]/gi, '')}_admin_0123456789abcdef`;
  const cp = startProcess('control-plane/main.js', {
    PORT: String(port),
    DATABASE_URL: db.url,
    NATS_PREFIX: prefix,
    BOOTSTRAP_ADMIN_KEY: adminKey,
    SHORT_URL_SCHEME: 'http',
    WEBHOOK_ALLOW_PRIVATE: 'true',
    WEBHOOK_POLL_MS: '50',
    JOB_POLL_MS: '50',
    LOG_LEVEL: 'warn',
    ...env,
  });
  const apiUrl = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${apiUrl}/readyz`, 200, 30_000);
  } catch (err) {
    await cp.stop();
    await db.drop();
    throw new Error(`control plane did not start: ${cp.output.slice(-20).join('\n')}`, { cause: err });
  }
  const client = (opts: Partial<ConstructorParameters<typeof Linkplane>[0]> = {}) => new Linkplane({ apiUrl, apiKey: adminKey, ...opts });
  const domain = `go-${label.replace(/[^a-z0-9]/gi, '').toLowerCase()}-${Math.random().toString(36).slice(2, 7)}.example.com`;
  await client().domains.create({ hostname: domain });
  return {
    apiUrl,
    adminKey,
    domain,
    prefix,
    process: cp,
    db,
    client,
    async close() {
      await cp.stop();
      await db.drop();
      await cleanupNatsPrefix(prefix).catch(() => undefined);
    },
  };
}
