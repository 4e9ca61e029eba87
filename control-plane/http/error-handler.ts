/**
 * One JSON error shape for everything: our ApiErrors, Fastify's validation/body/media-type
 * errors, unknown routes (404), known routes asked with another method (405 with `Allow`). Bad input is never a 500; a 500 never leaks internals.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../shared/index.js';
import { errors } from '../errors.js';
import { ID_BODY } from '../ids.js';
import { trackAllowedMethods } from './allowed-methods.js';
import { isPreflight } from './cors.js';

interface AjvError {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: Record<string, unknown>;
}

/** `/routing/rules/0/url` + context `body` → `routing.rules[0].url`. */
export function fieldOf(e: AjvError): string {
  const parts = (e.instancePath ?? '').split('/').filter(Boolean);
  if (e.keyword === 'required' && typeof e.params?.missingProperty === 'string') parts.push(e.params.missingProperty);
  if (e.keyword === 'additionalProperties' && typeof e.params?.additionalProperty === 'string') parts.push(e.params.additionalProperty);
  return parts.reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '');
}

function reasonOf(e: AjvError): string {
  if (e.keyword === 'additionalProperties') return 'unknown_field';
  if (e.keyword === 'required') return 'required';
  return e.keyword ?? 'invalid';
}

export function toApiError(err: FastifyError | ApiError | Error): ApiError {
  if (err instanceof ApiError) return err;
  const fe = err as FastifyError & { validation?: AjvError[]; validationContext?: string };
  if (fe.validation && fe.validation.length > 0) {
    const first = fe.validation[0]!;
    const field = fieldOf(first);
    const where = fe.validationContext ?? 'body';
    const pattern = first.keyword === 'pattern' ? String(first.params?.pattern ?? '') : '';
    if (pattern.includes(ID_BODY)) {
      const expected = `${pattern.slice(1, pattern.indexOf('_'))}_ + 26 Crockford base32 characters`;
      return errors.invalid_id({ field: field || where, in: where, expected }, `${where}.${field} is not an id of the form ${expected}`);
    }
    const message = `${where}${field ? `.${field}` : ''} ${first.message ?? 'is invalid'}`;
    return errors.validation_failed({ field: field || where, in: where, reason: reasonOf(first) }, message);
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return errors.body_too_large();
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return errors.unsupported_media_type({ content_type: fe.message.replace(/^Unsupported Media Type:?\s*/i, '') || null });
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return errors.invalid_json({ reason: 'empty' }, 'the body is empty but Content-Type is application/json');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return errors.invalid_json({ reason: 'syntax' });
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return errors.validation_failed({ field: 'content-length', in: 'headers', reason: 'mismatch' }, 'Content-Length does not match the body');
  }
  if (err instanceof SyntaxError || fe.statusCode === 400) {
    return errors.invalid_json({ reason: 'syntax' }, `the body could not be parsed: ${err.message}`);
  }
  if (fe.statusCode === 413) return errors.body_too_large();
  if (fe.statusCode === 415) return errors.unsupported_media_type();
  const pgCode = (err as { code?: string }).code;
  if (pgCode === 'ECONNREFUSED' || pgCode === '57P01' || pgCode === '08006' || /Connection terminated|timeout exceeded when trying to connect/i.test(err.message)) {
    return errors.service_unavailable({}, undefined, { cause: err });
  }
  return errors.internal_error({}, undefined, { cause: err });
}

export function sendError(reply: FastifyReply, err: ApiError): FastifyReply {
  if (err.status === 503) reply.header('Retry-After', '5');
  return reply.code(err.status).type('application/json; charset=utf-8').send(JSON.stringify(err.toBody()));
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
    let apiErr = toApiError(err);
    if (apiErr.code === 'unsupported_media_type' && apiErr.details?.content_type == null) {
      // Fastify's message does not name the type; the client should see which one was refused
      const sent = req.headers['content-type'];
      apiErr = typeof sent === 'string'
        ? errors.unsupported_media_type({ content_type: sent.slice(0, 100) }, `unsupported Content-Type: ${sent.slice(0, 100)}`)
        : errors.unsupported_media_type({ content_type: null }, 'the request has a body but no Content-Type');
    }
    if (apiErr.status >= 500) req.log.error({ err }, 'request failed');
    else req.log.info({ code: apiErr.code, details: apiErr.details }, 'request rejected');
    return sendError(reply, apiErr);
  });
  const allowed = trackAllowedMethods(app); // before any route is registered
  app.setNotFoundHandler((req, reply) => {
    const allow = allowed.forPath(req.url);
    if (allow.length === 0) return sendError(reply, errors.route_not_found({ method: req.method, url: req.url.split('?')[0] }));
    reply.header('Allow', allow.join(', '));
    // a preflight CORS did not accept (no CORS_ORIGINS, or another origin): an empty 204 without any
    // Access-Control-* header, so the browser refuses the call; never a 405 the browser would report instead
    if (isPreflight(req.method, req.headers)) return reply.code(204).send();
    return sendError(reply, errors.method_not_allowed({ method: req.method, allowed: allow }, `${req.method} is not allowed here; use ${allow.join(', ')}`));
  });
}
