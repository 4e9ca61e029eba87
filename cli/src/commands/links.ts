/** `linkplane links create|get|list|update|delete|qr`. */
import { writeFile } from 'node:fs/promises';
import type { CreateLinkBody, Link, UpdateLinkBody } from '@linkplane/sdk';
import type { Context } from '../context.js';
import { keyValues } from '../output.js';
import { collect, int, type Register } from './types.js';

function printLink(ctx: Context, link: Link): void {
  ctx.out.result(link, () => {
    ctx.out.line(`${link.short_url} → ${link.destination_url}`);
    ctx.out.line(`id ${link.id}  version ${link.version}  ${link.disabled ? 'disabled' : link.status}${link.tags.length ? `  tags ${link.tags.join(',')}` : ''}`);
  });
}

interface LinkOptions {
  domain?: string;
  path?: string;
  destination?: string;
  tag?: string[];
  externalId?: string;
  redirectStatus?: number;
  expiresAt?: string;
  metadata?: string[];
  disable?: boolean;
  enable?: boolean;
  idempotencyKey?: string;
}

function linkFields(o: LinkOptions): Partial<CreateLinkBody> {
  return {
    ...(o.domain !== undefined && { domain: o.domain }),
    ...(o.path !== undefined && { path: o.path }),
    ...(o.tag !== undefined && { tags: o.tag }),
    ...(o.externalId !== undefined && { external_id: o.externalId }),
    ...(o.redirectStatus !== undefined && { redirect_status: o.redirectStatus as 301 | 302 | 307 | 308 }),
    ...(o.expiresAt !== undefined && { expires_at: o.expiresAt }),
    ...(o.metadata !== undefined && { metadata: keyValues(o.metadata) }),
  };
}

export const registerLinks: Register = (program, action) => {
  const links = program.command('links').description('create, read, list, change and delete links');

  links
    .command('create')
    .description('create a link (retried safely: one Idempotency-Key for every attempt)')
    .argument('<destination>', 'the destination URL')
    .requiredOption('--domain <hostname>', 'the short domain')
    .option('--path <path>', 'the short path (else generated)')
    .option('--tag <tag>', 'a tag (repeat for more)', collect)
    .option('--external-id <id>', 'your id for the link')
    .option('--redirect-status <code>', '301, 302, 307 or 308', int)
    .option('--expires-at <time>', 'ISO 8601 time after which the link expires')
    .option('--metadata <name=value>', 'a metadata entry (repeat for more)', collect)
    .option('--idempotency-key <key>', 'your Idempotency-Key (the same key returns the same link)')
    .action(action(async (ctx, destination: string, o: LinkOptions) => {
      const body = { ...linkFields(o), destination_url: destination } as CreateLinkBody;
      printLink(ctx, await ctx.client().links.create(body, { idempotencyKey: o.idempotencyKey }));
    }));

  links
    .command('get')
    .argument('<id>', 'the link id (ln_…)')
    .description('show a link')
    .action(action(async (ctx, id: string) => printLink(ctx, await ctx.client().links.get(id))));

  links
    .command('list')
    .description('list links (newest first), following pages')
    .option('--domain <hostname>')
    .option('--tag <tag>')
    .option('--q <text>', 'search path, destination and external id')
    .option('--external-id <id>')
    .option('--limit <n>', 'at most this many (default 100)', int, 100)
    .option('--all', 'every link, however many')
    .action(action(async (ctx, o: { domain?: string; tag?: string; q?: string; externalId?: string; limit: number; all?: boolean }) => {
      const list = ctx.client().links.list({ domain: o.domain, tag: o.tag, q: o.q, external_id: o.externalId, limit: Math.min(200, o.all ? 200 : Math.max(1, o.limit)) });
      const rows = await list.toArray(o.all ? Infinity : o.limit);
      ctx.out.result(rows, () => ctx.out.table(rows, ['id', 'short_url', 'destination_url', 'tags']));
    }));

  links
    .command('update')
    .argument('<id>', 'the link id')
    .description('change a link (only the fields given)')
    .option('--destination <url>')
    .option('--domain <hostname>')
    .option('--path <path>')
    .option('--tag <tag>', 'replace the tags (repeat for more)', collect)
    .option('--external-id <id>')
    .option('--redirect-status <code>', '301, 302, 307 or 308', int)
    .option('--expires-at <time>')
    .option('--metadata <name=value>', 'replace the metadata (repeat for more)', collect)
    .option('--disable', 'stop redirecting')
    .option('--enable', 'redirect again')
    .option('--idempotency-key <key>')
    .action(action(async (ctx, id: string, o: LinkOptions) => {
      const body: UpdateLinkBody = {
        ...linkFields(o),
        ...(o.destination !== undefined && { destination_url: o.destination }),
        ...(o.disable ? { disabled: true } : o.enable ? { disabled: false } : {}),
      } as UpdateLinkBody;
      if (Object.keys(body).length === 0) throw new Error('nothing to change: give at least one option (see linkplane links update --help)');
      printLink(ctx, await ctx.client().links.update(id, body, { idempotencyKey: o.idempotencyKey }));
    }));

  links
    .command('delete')
    .argument('<id>', 'the link id')
    .description('delete a link')
    .action(action(async (ctx, id: string) => {
      const link = await ctx.client().links.delete(id);
      ctx.out.result(link, () => ctx.out.line(`deleted ${link.id} (${link.short_url})`));
    }));

  links
    .command('qr')
    .argument('<id>', 'the link id')
    .description("write the link's QR code to a file")
    .requiredOption('--out <file>', 'where to write it (e.g. qr.png)')
    .option('--format <png|svg>', 'image format (default: from --out, else png)')
    .option('--size <px>', 'width in pixels', int)
    .action(action(async (ctx, id: string, o: { out: string; format?: string; size?: number }) => {
      const format = (o.format ?? (o.out.toLowerCase().endsWith('.svg') ? 'svg' : 'png')) as 'png' | 'svg';
      const bytes = await ctx.client().links.qr(id, { format, ...(o.size !== undefined && { size: o.size }) });
      await writeFile(o.out, bytes);
      ctx.out.result({ file: o.out, format, bytes: bytes.byteLength }, () => ctx.out.line(`wrote ${o.out} (${format}, ${bytes.byteLength} bytes)`));
    }));
};
