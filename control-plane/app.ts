/**
 * buildApp(deps): the control plane's HTTP API, wired but not listening (main.ts listens;
 * tests use app.inject() or listen on port 0). Dependencies come in; nothing is global.
 */
import { randomUUID } from 'node:crypto';
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from '../shared/index.js';
import type { ControlPlaneConfig } from './config.js';
import type { Pool } from './db/pool.js';
import { analyticsRoutes } from './http/analytics-routes.js';
import { auditRoutes } from './http/audit-routes.js';
import { registerDeprecation } from './http/deprecation.js';
import { oauthClientRoutes, oauthTokenRoutes } from './http/oauth-routes.js';
import { SigningKeys, verifyToken } from './oauth/index.js';
import { workspacesRoutes } from './http/workspaces-routes.js';
import { domainsRoutes } from './http/domains-routes.js';
import { registerCompression } from './http/compression.js';
import { registerCors } from './http/cors.js';
import { clientErrorHandler, frameworkErrorHandler, MAX_PARAM_LENGTH, registerRequestChecks } from './http/client-error.js';
import { registerErrorHandling } from './http/error-handler.js';
import { registerInputGuard } from './http/input-guard.js';
import { finishOpenApi } from './http/openapi.js';
import { parseTrustProxy, type TrustProxy } from './http/trust-proxy.js';
import { idempotencyRoutes } from './http/idempotency-routes.js';
import { jobsRoutes } from './http/jobs-routes.js';
import { keysRoutes } from './http/keys-routes.js';
import { linksRoutes } from './http/links-routes.js';
import { opsRoutes, type ReadinessProbe } from './http/ops-routes.js';
import { qrRoutes } from './http/qr-routes.js';
import './http/request-context.js';
import { SHARED_SCHEMAS } from './http/schemas.js';
import { Link } from './links/link-schema.js';
import { policyRoutes } from './http/policy-routes.js';
import { Policy } from './policies/policy-schema.js';
import { registerIdempotency } from './idempotency/idempotency-hook.js';
import { registerAuth } from './keys/auth-hook.js';
import { KeyCache } from './keys/key-cache.js';
import { LastUsed } from './keys/last-used.js';
import { AuthFailureLimit } from './rate-limit/auth-failure-limit.js';
import { registerScopeCheck } from './keys/scope-hook.js';
import { ERROR_CATALOG } from './errors.js';
import { createMetrics, type Metrics } from './metrics.js';
import { registerRateLimit } from './rate-limit/rate-limit-hook.js';
import { secretBoxFrom, type SecretBox } from './secrets/index.js';
import { webhooksRoutes } from './http/webhooks-routes.js';
import { registerRequestTracing, type Tracing } from './tracing/index.js';
import { defaultUiDir, registerUi } from './http/ui-routes.js';

export interface AppDeps {
  pool: Pool;
  config: ControlPlaneConfig;
  log: Logger;
  metrics?: Metrics;
  /** Extra readiness checks (e.g. NATS connected). */
  probes?: ReadinessProbe[];
  /** The keys that sign OAuth access tokens; by default kept in Postgres (oauth/signing-keys.ts). */
  signingKeys?: SigningKeys;
  /** Seals secrets at rest; by default the box of config.SECRETS_KEY (no valid key: a ConfigError). */
  secrets?: SecretBox;
  /** Span export (main.ts startTracing); without it a caller's traceparent is carried, nothing recorded. */
  tracing?: Pick<Tracing, 'enabled'>;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

function trustProxySetting(raw: string): Exclude<TrustProxy, number> | ((addr: string, hop: number) => boolean) {
  const parsed = parseTrustProxy(raw);
  if (!('value' in parsed)) return false;
  const v = parsed.value;
  // a hop count: the N addresses nearest us are our proxies (what proxy-addr does for a number)
  return typeof v === 'number' ? (_addr: string, hop: number) => hop < v : v;
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { pool, config } = deps;
  const secrets = deps.secrets ?? secretBoxFrom(config);
  const metrics = deps.metrics ?? createMetrics();
  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    bodyLimit: config.BODY_LIMIT_BYTES,
    trustProxy: trustProxySetting(config.TRUST_PROXY),
    // one line per request (completed), none for probes and scrapes
    logController: new LogController({
      requestIdLogLabel: 'request_id',
      disableRequestLogging: (req) => req.url === '/healthz' || req.url === '/readyz' || req.url === '/metrics',
    }),
    genReqId: (req) => {
      const incoming = req.headers['x-request-id'];
      return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false } },
    // errors raised before any route runs get the documented shape too (http/client-error.ts)
    clientErrorHandler: clientErrorHandler(deps.log),
    frameworkErrors: frameworkErrorHandler,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    return503OnClosing: false,
    http: {
      requireHostHeader: false, // checked in registerRequestChecks, to answer with the documented shape
      headersTimeout: config.HEADERS_TIMEOUT_MS,
      connectionsCheckingInterval: Math.min(1000, Math.max(50, Math.floor(config.HEADERS_TIMEOUT_MS / 4))),
    },
  }).withTypeProvider<TypeBoxTypeProvider>();
  // only JSON bodies (and the bulk upload's own media types): text/plain is 415 like any other
  app.removeContentTypeParser('text/plain');
  // first: every later hook, and the handler, run inside the request's trace context
  registerRequestTracing(app, { record: deps.tracing?.enabled ?? false });

  for (const s of [...SHARED_SCHEMAS, Link, Policy]) app.addSchema(s);
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'linkplane API',
        version: '1.0.0',
        description: 'Branded short links: links, domains, keys, QR codes. Errors: `{"error":{"code","message","details"}}`.',
      },
      servers: [{ url: '/' }],
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'an API key (`Authorization: Bearer lp_…`) or an OAuth access token from POST /oauth/token (a JWT)' },
          clientBasic: { type: 'http', scheme: 'basic', description: 'OAuth client authentication at POST /oauth/token: client_id and client_secret' },
        },
      },
      security: [{ bearer: [] }],
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
    transformObject: (doc) => ('openapiObject' in doc ? finishOpenApi(doc.openapiObject, { errors: ERROR_CATALOG }) : doc.swaggerObject),
  });

  registerErrorHandling(app);
  registerRequestChecks(app);
  app.addHook('onRequest', async (req, reply) => {
    reply.header('X-Request-Id', req.id);
  });
  registerDeprecation(app); // before auth: a refused call to a deprecated route says so too
  app.addHook('onResponse', async (req, reply) => {
    const labels = { method: req.method, route: req.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) };
    metrics.httpRequests.inc(labels);
    metrics.httpDuration.observe(labels, reply.elapsedTime / 1000);
  });
  await registerCors(app, config.CORS_ORIGINS); // before auth: a preflight is answered without a key
  const tokens = { issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE, ttlSeconds: config.JWT_TTL_SECONDS };
  const signingKeys = deps.signingKeys ?? new SigningKeys(pool, secrets, { rotationMs: config.JWT_KEY_ROTATION_HOURS * 3_600_000, tokenTtlMs: config.JWT_TTL_SECONDS * 1000 });
  app.decorate('signingKeys', signingKeys);
  const lastUsed = new LastUsed(pool, { granularityMs: 60_000, flushMs: config.KEY_LAST_USED_FLUSH_MS, log: deps.log.child({ module: 'last-used' }) });
  lastUsed.start();
  app.addHook('onClose', async () => lastUsed.stop());
  app.decorate('lastUsed', lastUsed);
  // one failure budget per client address for every credential: API keys, JWTs and OAuth client secrets
  const authFailures = new AuthFailureLimit({ burst: config.AUTH_FAILURE_BURST, perSec: config.AUTH_FAILURE_PER_SEC });
  const keyCache = new KeyCache({ ttlMs: config.KEY_CACHE_TTL_MS });
  registerAuth(app, pool, authFailures, {
    lastUsed,
    keyCache,
    verifyJwt: (token) => verifyToken(pool, signingKeys, tokens, token),
  });
  registerRateLimit(app, { burst: config.RATE_LIMIT_BURST, perSec: config.RATE_LIMIT_PER_SEC });
  registerScopeCheck(app);
  // bad text, numbers and nesting are refused before the idempotency hook stores anything
  registerInputGuard(app);
  registerIdempotency(app, pool);

  await registerCompression(app); // before the routes: it hooks each route as it is added
  await app.register(opsRoutes(pool, deps.probes ?? []));
  app.get('/v1/openapi.json', { config: { public: true }, schema: { hide: true } }, async () => app.swagger());
  await app.register(keysRoutes(pool, { burst: config.RATE_LIMIT_BURST, perSec: config.RATE_LIMIT_PER_SEC }, keyCache));
  await app.register(domainsRoutes(pool));
  await app.register(linksRoutes(pool, config.SHORT_URL_SCHEME));
  await app.register(qrRoutes(pool, config.SHORT_URL_SCHEME));
  await app.register(idempotencyRoutes(pool));
  await app.register(jobsRoutes({ pool, config, secrets }));
  await app.register(webhooksRoutes(pool, config, secrets));
  await app.register(analyticsRoutes(pool, config.SHORT_URL_SCHEME));
  await app.register(auditRoutes(pool));
  await app.register(workspacesRoutes(pool));
  await app.register(policyRoutes(pool));
  const oauth = { pool, keys: signingKeys, tokens, authFailures, rateLimits: { burst: config.RATE_LIMIT_BURST, perSec: config.RATE_LIMIT_PER_SEC } };
  await app.register(oauthClientRoutes(oauth));
  await app.register(oauthTokenRoutes(oauth));
  const uiDir = config.UI_DIR || defaultUiDir();
  if (!registerUi(app, uiDir)) deps.log.info({ ui_dir: uiDir }, 'no admin console build there (npm run build): /ui/ is not served');
  return app;
}
