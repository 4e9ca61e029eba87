import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import QRCode from 'qrcode';
import type { Pool } from '../db/pool.js';
import { shortUrl } from '../links/link-row.js';
import { getLink } from '../links/link-service.js';
import { authOf } from './request-context.js';
import { errorResponses, IdParams, WithDefault } from './schemas.js';

/** The URL a QR code encodes: the short URL marked `qr=1`, which nodes count as a scan. */
export function qrTarget(scheme: string, domain: string, path: string): string {
  return `${shortUrl(scheme, domain, path)}?qr=1`;
}

export const qrRoutes =
  (pool: Pool, scheme: string): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.get('/v1/links/:id/qr', {
      config: { scope: 'links:read' },
      schema: {
        tags: ['links'],
        operationId: 'getLinkQrCode', summary: 'QR code of the short URL (PNG or SVG); scans are counted as qr.scan events',
        params: IdParams('ln'),
        querystring: Type.Object(
          {
            format: WithDefault(Type.Union([Type.Literal('png'), Type.Literal('svg')], { default: 'png' })),
            size: WithDefault(Type.Integer({ minimum: 128, maximum: 2048, default: 512 })),
            margin: WithDefault(Type.Integer({ minimum: 0, maximum: 16, default: 2 })),
            ecl: WithDefault(Type.Union([Type.Literal('L'), Type.Literal('M'), Type.Literal('Q'), Type.Literal('H')], { default: 'M' })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: { description: 'image/png or image/svg+xml', content: { 'image/png': { schema: { type: 'string', format: 'binary' } }, 'image/svg+xml': { schema: { type: 'string' } } } },
          ...errorResponses(400, 401, 403, 404, 429),
        },
      },
    }, async (req, reply) => {
      const link = await getLink(pool, authOf(req), req.params.id);
      const text = qrTarget(scheme, link.domain, link.path);
      const { format, size, margin, ecl } = req.query;
      const opts = { width: size, margin, errorCorrectionLevel: ecl };
      reply.header('Cache-Control', 'private, max-age=300');
      if (format === 'svg') return reply.type('image/svg+xml').send(await QRCode.toString(text, { ...opts, type: 'svg' }));
      return reply.type('image/png').send(await QRCode.toBuffer(text, { ...opts, type: 'png' }));
    });
  };
