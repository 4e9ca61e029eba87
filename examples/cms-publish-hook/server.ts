/**
 * The hook as an HTTP endpoint your CMS calls on publish: `POST /cms/published` with the article
 * as JSON and `Authorization: Bearer <CMS_HOOK_TOKEN>`; answers `{action, link_id, short_url}`.
 */
import { timingSafeEqual } from 'node:crypto';
import type { RequestListener } from 'node:http';
import { LinkplaneError, type Linkplane } from '@linkplane/sdk';
import { asyncListener, readBody, sendJson } from '../lib/http.js';
import type { Article, SiteConfig } from './article-link.js';
import { onPublish } from './publish-hook.js';

export function publishHookHandler(opts: { lp: Linkplane; site: SiteConfig; hookToken: string }): RequestListener {
  const expected = Buffer.from(`Bearer ${opts.hookToken}`);
  return asyncListener(async (req, res) => {
    if (req.method !== 'POST' || req.url !== '/cms/published') return sendJson(res, 404, { error: 'not_found' });
    const given = Buffer.from(req.headers.authorization ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return sendJson(res, 401, { error: 'unauthorized' });
    let article: Article;
    try {
      article = parseArticle(JSON.parse((await readBody(req)).toString('utf8')));
    } catch (err) {
      return sendJson(res, 400, { error: 'bad_article', message: (err as Error).message });
    }
    try {
      const { action, link } = await onPublish(opts.lp, article, opts.site);
      sendJson(res, 200, { action, link_id: link.id, short_url: link.short_url });
    } catch (err) {
      if (!(err instanceof LinkplaneError)) throw err;
      // a refusal the editor can act on (path taken, bad URL) is a 422; a refused key is the hook's
      // own setup (500); the API being away or overloaded is a 502 worth retrying
      const status = err.status === 401 || err.status === 403 ? 500 : err.status >= 400 && err.status < 500 ? 422 : 502;
      sendJson(res, status, { error: err.code, message: err.message, request_id: err.requestId });
    }
  });
}

function parseArticle(v: unknown): Article {
  const a = v as Record<string, unknown>;
  for (const f of ['id', 'slug', 'title', 'author', 'category'] as const) {
    if (typeof a?.[f] !== 'string' || a[f] === '') throw new Error(`article.${f} must be a non-empty string`);
  }
  if (a.campaign !== undefined && a.campaign !== null && typeof a.campaign !== 'string') throw new Error('article.campaign must be a string');
  return { id: a.id as string, slug: a.slug as string, title: a.title as string, author: a.author as string, category: a.category as string, campaign: (a.campaign as string | null | undefined) ?? null };
}
