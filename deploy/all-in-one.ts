/**
 * `npm start`: the whole product on one machine. Postgres is the embedded one (data under
 * DATA_DIR) unless DATABASE_URL is set; NATS is the one at NATS_URL if it answers, else
 * `nats-server -js` started from PATH. Then the control plane and one redirect node, an admin
 * key, a demo domain, and a curl to paste. Ctrl-C stops everything, planes first.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig } from '../shared/index.js';
import { allInOneSchema } from './local/all-in-one-schema.js';
import { NODE_START_ENV, NODE_START_FLAGS } from '../data-plane/start-flags.js';
import { startChild, type Child } from './local/child.js';
import { NATS_INSTALL_HELP, probeNats, startLocalNats, type LocalNats } from './local/nats.js';
import { startLocalPostgres, type LocalPostgres } from './local/postgres.js';

const say = (line = '') => process.stdout.write(`${line}\n`);

interface LocalState {
  adminKey: string;
  /** SECRETS_KEY of the local control plane: seals webhook and callback secrets in the local database. */
  secretsKey: string;
  postgresPort: number;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const s = createServer();
    s.once('error', () => done(false));
    s.listen(port, '127.0.0.1', () => s.close(() => done(true)));
  });
}

async function pickPort(preferred: number): Promise<number> {
  if (await portFree(preferred)) return preferred;
  return new Promise((done) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => done(typeof addr === 'object' && addr ? addr.port : preferred));
    });
  });
}

async function loadState(dir: string): Promise<LocalState> {
  const file = join(dir, 'all-in-one.json');
  const saved: Partial<LocalState> = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Partial<LocalState>) : {};
  const state: LocalState = {
    adminKey: saved.adminKey ?? `lp_admin_${randomBytes(24).toString('base64url')}`,
    secretsKey: saved.secretsKey ?? randomBytes(32).toString('base64'),
    postgresPort: await pickPort(saved.postgresPort ?? 54329),
  };
  writeFileSync(file, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600); // also when the file was already there: it holds the admin key and SECRETS_KEY
  return state;
}

async function waitReady(child: Child, url: string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void child.exited.then(() => (exited = true));
  for (;;) {
    if (exited) throw new Error(`${child.name} exited during start (see its messages above)`);
    const ok = await fetch(url).then((r) => r.ok, () => false);
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${child.name} not ready at ${url} after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Waits until the node answers for `domain` (its branded 404 page): the printed curl then works at once. */
async function nodeKnowsDomain(node: string, domain: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const branded = await new Promise<boolean>((done) => {
      const req = request(`${node}/`, { headers: { host: domain } }, (res) => {
        res.resume();
        done(String(res.headers['content-type']).startsWith('text/html'));
      });
      req.on('error', () => done(false));
      req.end();
    });
    if (branded) return;
    if (Date.now() > deadline) throw new Error(`the redirect node did not receive ${domain} within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function main(): Promise<number> {
  let config;
  try {
    config = loadConfig(allInOneSchema);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`all-in-one: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  const dataDir = resolve(config.DATA_DIR);
  mkdirSync(dataDir, { recursive: true });
  const local = await loadState(dataDir);
  const here = fileURLToPath(new URL('.', import.meta.url));
  // the planes inherit the launcher's environment (PATH, locale…), plus their own settings
  // eslint-disable-next-line no-restricted-properties
  const baseEnv = process.env;

  let pg: LocalPostgres | null = null;
  let nats: LocalNats | null = null;
  const children: Child[] = [];
  let stopping: Promise<void> | null = null;
  const stopAll = () =>
    (stopping ??= (async () => {
      await Promise.all(children.map((c) => c.stop()));
      await nats?.stop();
      await pg?.stop();
    })());

  let interrupted = false;
  const onSignal = () => {
    if (interrupted) return;
    interrupted = true;
    say('\nstopping: redirect node and control plane, then NATS and Postgres…');
    void stopAll().then(() => {
      say('stopped.');
      process.exit(0);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    let databaseUrl = config.DATABASE_URL;
    if (!databaseUrl) {
      pg = await startLocalPostgres(dataDir, local.postgresPort, say, { stagingDir: config.POSTGRES_STAGING_DIR, env: baseEnv });
      databaseUrl = pg.url;
    }

    const probe = await probeNats(config.NATS_URL);
    if (probe === 'no_jetstream') throw new Error(`the NATS server at ${config.NATS_URL} has JetStream disabled: restart it with -js (or unset NATS_URL to let npm start run one)`);
    if (probe === 'unreachable') nats = await startLocalNats(config.NATS_URL, join(dataDir, 'nats'));

    const common = { NATS_URL: config.NATS_URL, NATS_PREFIX: config.NATS_PREFIX, LOG_LEVEL: config.LOG_LEVEL };
    const opts = { verbose: config.VERBOSE, baseEnv };
    const cp = startChild('control-plane', join(here, '../control-plane/main.js'), {
      ...common, PORT: String(config.API_PORT), HOST: '127.0.0.1', DATABASE_URL: databaseUrl, BOOTSTRAP_ADMIN_KEY: local.adminKey,
      SECRETS_KEY: local.secretsKey,
      // each child its own operations port: an OPS_PORT inherited from the launcher would collide
      OPS_PORT: String(config.API_OPS_PORT), OPS_HOST: '127.0.0.1',
    }, opts);
    children.push(cp);
    const node = startChild('redirect-node', join(here, '../data-plane/main.js'), {
      ...NODE_START_ENV, ...common, PORT: String(config.REDIRECT_PORT), HOST: '127.0.0.1', NODE_ID: 'local', LMDB_PATH: join(dataDir, 'node-local'), WORKERS: '1',
      OPS_PORT: String(config.REDIRECT_OPS_PORT), OPS_HOST: '127.0.0.1',
    }, { ...opts, nodeFlags: NODE_START_FLAGS });
    children.push(node);
    const api = `http://127.0.0.1:${config.API_PORT}`;
    const redirects = `http://127.0.0.1:${config.REDIRECT_PORT}`;
    await Promise.all([waitReady(cp, `${api}/readyz`), waitReady(node, `${redirects}/readyz`)]);

    const domain = await fetch(`${api}/v1/domains`, {
      method: 'POST',
      headers: { authorization: `Bearer ${local.adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ hostname: config.DEMO_DOMAIN }),
    });
    if (domain.status === 401) {
      throw new Error(`the database already has API keys, and not the one in ${join(dataDir, 'all-in-one.json')}: put yours there (adminKey) or use a fresh DATA_DIR/DATABASE_URL`);
    }
    if (domain.status !== 201 && domain.status !== 409) throw new Error(`registering ${config.DEMO_DOMAIN} failed: ${domain.status} ${await domain.text()}`);
    await nodeKnowsDomain(redirects, config.DEMO_DOMAIN);

    for (const c of children) {
      void c.exited.then((code) => {
        if (stopping) return;
        say(`${c.name} exited unexpectedly (code ${code}); stopping everything`);
        void stopAll().then(() => process.exit(1));
      });
    }

    const path = `hello-${randomBytes(3).toString('hex')}`;
    const create = `curl -s -X POST ${api}/v1/links -H 'Authorization: Bearer ${local.adminKey}' -H 'Content-Type: application/json' -d '{"domain":"${config.DEMO_DOMAIN}","path":"${path}","destination_url":"https://example.com/"}'`;
    const follow = `curl -si -H 'Host: ${config.DEMO_DOMAIN}' ${redirects}/${path}`;
    say('');
    say('linkplane is running');
    say(`  API (control plane)  ${api}            OpenAPI: ${api}/v1/openapi.json`);
    say(`  Admin console        ${api}/ui/            sign in with the admin API key below`);
    say(`  Redirect node        ${redirects}            serves ${config.DEMO_DOMAIN} (send it as the Host header)`);
    const opsUrl = (port: number) => (port === 0 ? 'a free port (see its log)' : `http://127.0.0.1:${port}/metrics`);
    say(`  Metrics (Prometheus) control plane ${opsUrl(config.API_OPS_PORT)}, redirect node ${opsUrl(config.REDIRECT_OPS_PORT)}`);
    say(`  Postgres             ${pg ? `embedded, data in ${pg.dir} (port ${local.postgresPort})` : 'DATABASE_URL'}`);
    say(`  NATS                 ${config.NATS_URL}${nats ? ` (nats-server started here, data in ${join(dataDir, 'nats')})` : ''}`);
    say(`  Admin API key        ${local.adminKey}`);
    say('');
    say('Create a link and follow it (paste this):');
    say(`  ${create}; echo; sleep 0.5; ${follow}`);
    say('');
    say('Ctrl-C stops everything.');
    return -1; // keep running until a signal
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`\nall-in-one: ${message === NATS_INSTALL_HELP ? message : `could not start: ${message}`}\n`);
    await stopAll();
    return 1;
  }
}

const code = await main();
if (code >= 0) process.exit(code);
