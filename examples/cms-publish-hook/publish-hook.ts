/**
 * The CMS publish hook: every publish of an article makes sure its short link exists and says
 * what the article says now.
 *
 * - First publish: POST /v1/links with `external_id` = the article and an Idempotency-Key derived
 *   from the article id and the link's content → `created`.
 * - The same article published again: the same key, so the API replays its first answer and writes
 *   nothing → `unchanged`.
 * - A changed article: a new key; the create answers 409 (`external_id_conflict`, or
 *   `path_conflict` on its own path), so the hook finds the article's link by `external_id` and
 *   PATCHes what changed → `updated` (or `unchanged` when the stored link already matches, e.g. a
 *   re-publish after the 24 h idempotency window).
 * - A path held by another article's link stays a `path_conflict` error: never overwrite someone
 *   else's link.
 */
import { ConflictError, type Linkplane, type Link } from '@linkplane/sdk';
import { articleExternalId, articleLinkFields, publishKey, type Article, type ArticleLinkFields, type SiteConfig } from './article-link.js';

export type PublishAction = 'created' | 'unchanged' | 'updated';

export async function onPublish(lp: Linkplane, article: Article, site: SiteConfig): Promise<{ action: PublishAction; link: Link }> {
  const fields = articleLinkFields(article, site);
  const externalId = articleExternalId(article);
  const key = publishKey(article, fields, article.slug);
  try {
    // lp.request (rather than lp.links.create) tells whether the API replayed an earlier answer
    const res = await lp.request<Link>({
      method: 'POST', path: '/v1/links', idempotencyKey: key,
      body: { json: { domain: site.domain, path: article.slug, external_id: externalId, ...fields } },
    });
    return { action: res.replayed ? 'unchanged' : 'created', link: res.data };
  } catch (err) {
    if (!(err instanceof ConflictError) || (err.code !== 'external_id_conflict' && err.code !== 'path_conflict')) throw err;
    const [existing] = await lp.links.list({ domain: site.domain, external_id: externalId, limit: 1 }).toArray(1);
    if (!existing) throw err; // the path belongs to another link
    if (sameFields(existing, fields)) return { action: 'unchanged', link: existing };
    return { action: 'updated', link: await lp.links.update(existing.id, fields, { idempotencyKey: `${key}:update` }) };
  }
}

function sameFields(link: Link, want: ArticleLinkFields): boolean {
  const have = { destination_url: link.destination_url, utm: link.utm, tags: link.tags, metadata: link.metadata };
  return canonical(have) === canonical(want);
}

/** JSON with object keys sorted and null members dropped, so equal content compares equal. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v).filter(([, x]) => x !== null && x !== undefined).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}
