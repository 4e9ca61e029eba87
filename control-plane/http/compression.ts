/**
 * Response compression: gzip or brotli as the client's Accept-Encoding asks, for JSON (the API,
 * the OpenAPI document), the NDJSON/CSV exports and SVG QR codes, from 1 KB up (streams always).
 * Already-compressed bodies (PNG QR codes) go out as they are. Request bodies are not inflated
 * (a body is read as sent, so BODY_LIMIT_BYTES and BULK_MAX_BYTES bound what is parsed; no zip bombs).
 */
import compress from '@fastify/compress';
import type { FastifyInstance } from 'fastify';

/** Smaller answers gain nothing worth the CPU (a link or an error is ~0.5 KB). */
export const COMPRESS_THRESHOLD_BYTES = 1024;

/** The media types we compress; anything else (image/png) is sent as is. */
export const COMPRESSIBLE = /^(?:application\/(?:[\w.-]+\+)?json|application\/x-ndjson|text\/csv|image\/svg\+xml)(?:;|$)/;

/** Register before the routes: the plugin hooks each route as it is added. */
export async function registerCompression(app: FastifyInstance): Promise<void> {
  await app.register(compress, {
    globalCompression: true,
    globalDecompression: false,
    encodings: ['br', 'gzip'],
    threshold: COMPRESS_THRESHOLD_BYTES,
    customTypes: COMPRESSIBLE,
  });
}
