/** Every variable `npm start` (deploy/all-in-one.ts) reads; the planes it starts read their own schemas. */
import { commonSchema, type ConfigSchema } from '../../shared/index.js';

export const allInOneSchema = {
  ...commonSchema,
  DATABASE_URL: { kind: 'url', protocols: ['postgres', 'postgresql'], doc: 'use this Postgres instead of the embedded one' },
  API_PORT: { kind: 'int', default: 8080, min: 1, max: 65535, doc: 'control plane (API) port' },
  REDIRECT_PORT: { kind: 'int', default: 8081, min: 1, max: 65535, doc: 'redirect node port' },
  API_OPS_PORT: { kind: 'int', default: 9080, min: 0, max: 65535, doc: 'control plane operations port (/metrics); 0: a free port' },
  REDIRECT_OPS_PORT: { kind: 'int', default: 9081, min: 0, max: 65535, doc: 'redirect node operations port (/metrics); 0: a free port' },
  DATA_DIR: { kind: 'string', default: '.data', doc: 'embedded Postgres, local NATS store, node replica, admin key and SECRETS_KEY (all-in-one.json, mode 600)' },
  POSTGRES_STAGING_DIR: { kind: 'string', default: '/var/lib/linkplane', doc: 'as root, when the postgres user cannot enter DATA_DIR or node_modules (a clone under /root): where the embedded Postgres binaries and data go' },
  DEMO_DOMAIN: { kind: 'string', default: 'go.localhost', doc: 'branded domain registered for the printed curl' },
  VERBOSE: { kind: 'bool', default: false, doc: 'relay every log line of the planes (default: warnings and errors)' },
} as const satisfies ConfigSchema;
