/**
 * The admin console (console/, built by `npm run build` into dist/ui) served under /ui/. It is an
 * API client like any other: these routes only hand out its files, public, outside the OpenAPI
 * document. Files are read once at start (the bundle is small) with their precompressed .br/.gz
 * twins; hashed asset names are immutable, the index is revalidated on every load. Every answer
 * carries a strict Content-Security-Policy: scripts, styles and connections from this origin only,
 * no inline code, images from here or blob: (QR previews), nothing may frame the console.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errors } from '../errors.js';

export const UI_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob: data:",
  "connect-src 'self'",
  "font-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** `name-HASH.ext`: content-addressed by the build, so cacheable forever. */
const HASHED = /-[A-Z0-9]{8,}\.[a-z0-9]+$/;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.map': 'application/json',
};

interface UiFile {
  type: string;
  body: Buffer;
  br: Buffer | null;
  gz: Buffer | null;
  etag: string;
  cache: string;
}

/** The build's output beside this checkout: dist/ui under the folder holding package.json. */
export function defaultUiDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return join(dir, 'dist', 'ui');
}

/** Reads the built console: path under /ui/ → file. Empty when there is no build. */
export function loadUiFiles(dir: string): Map<string, UiFile> {
  const files = new Map<string, UiFile>();
  if (!existsSync(join(dir, 'index.html'))) return files;
  const walk = (sub: string) => {
    for (const name of readdirSync(join(dir, sub))) {
      const rel = sub ? `${sub}/${name}` : name;
      const full = join(dir, rel);
      if (statSync(full).isDirectory()) {
        walk(rel);
        continue;
      }
      const type = TYPES[extname(name)];
      if (!type) continue; // .br/.gz twins are read with their file
      const body = readFileSync(full);
      const twin = (ext: string) => (existsSync(`${full}${ext}`) ? readFileSync(`${full}${ext}`) : null);
      files.set(rel, {
        type,
        body,
        br: twin('.br'),
        gz: twin('.gz'),
        etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
        cache: HASHED.test(name) ? 'public, max-age=31536000, immutable' : 'no-cache',
      });
    }
  };
  walk('');
  return files;
}

function send(req: FastifyRequest, reply: FastifyReply, file: UiFile) {
  reply
    .header('Content-Security-Policy', UI_CSP)
    .header('X-Content-Type-Options', 'nosniff')
    .header('Referrer-Policy', 'no-referrer')
    .header('Cross-Origin-Opener-Policy', 'same-origin')
    .header('Cache-Control', file.cache)
    .header('ETag', file.etag)
    .header('Vary', 'Accept-Encoding')
    .type(file.type);
  if (req.headers['if-none-match'] === file.etag) return reply.code(304).send();
  const accept = String(req.headers['accept-encoding'] ?? '');
  if (file.br && /\bbr\b/.test(accept)) return reply.header('Content-Encoding', 'br').send(file.br);
  if (file.gz && /\bgzip\b/.test(accept)) return reply.header('Content-Encoding', 'gzip').send(file.gz);
  return reply.send(file.body);
}

/** Registers /ui/ when `dir` holds a build; returns whether it did. */
export function registerUi(app: FastifyInstance, dir: string): boolean {
  const files = loadUiFiles(dir);
  const index = files.get('index.html');
  if (!index) return false;
  const route = { config: { public: true }, schema: { hide: true }, compress: false as const };
  app.get('/ui', route, async (_req, reply) => reply.redirect('/ui/', 308));
  app.get('/ui/', route, async (req, reply) => send(req, reply, index));
  app.get('/ui/*', route, async (req, reply) => {
    const rel = (req.params as { '*': string })['*'];
    const file = files.get(rel);
    // the API's own 404 (not callNotFound: that would answer 405, this route taking GET)
    if (!file || rel === 'index.html') throw errors.route_not_found({ method: req.method, url: req.url.split('?')[0] });
    return send(req, reply, file);
  });
  return true;
}
