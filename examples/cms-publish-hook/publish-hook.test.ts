/**
 * The CMS publish hook against a live stack (control plane process, Postgres, NATS): first publish
 * creates, the same publish again writes nothing, a changed article updates its link in place,
 * and another article's path is never taken over. Also through the HTTP endpoint, as a CMS calls it.
 */
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { Linkplane } from '@linkplane/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLiveStack, type LiveStack } from '../testing/live-stack.js';
import type { Article, SiteConfig } from './article-link.js';
import { onPublish } from './publish-hook.js';
import { publishHookHandler } from './server.js';

const DOMAIN = 'go.cms.example.com';
const site: SiteConfig = { domain: DOMAIN, siteUrl: 'https://www.cms.example.com' };
const article: Article = { id: '4711', slug: 'why-short-links', title: 'Why short links', author: 'ada', category: 'guides', campaign: null };

let stack: LiveStack;
let lp: Linkplane;

beforeAll(async () => {
  stack = await startLiveStack('cms');
  await stack.domain(DOMAIN);
  // a publisher key limited to the CMS's domain, as the README's step 7 makes one
  lp = new Linkplane({ apiUrl: stack.apiUrl, apiKey: await stack.key('publisher', [DOMAIN]) });
});
afterAll(async () => {
  await stack?.close();
});

describe('CMS publish hook', () => {
  it('creates the link, then a re-publish of the same article writes nothing', async () => {
    const first = await onPublish(lp, article, site);
    expect(first.action).toBe('created');
    expect(first.link).toMatchObject({
      domain: DOMAIN,
      path: 'why-short-links',
      short_url: `https://${DOMAIN}/why-short-links`,
      destination_url: 'https://www.cms.example.com/why-short-links',
      utm: { source: 'cms', medium: 'content', campaign: 'evergreen' },
      tags: ['content', 'guides'],
      metadata: { author: 'ada', article_id: '4711', title: 'Why short links' },
      external_id: 'cms-article-4711',
      version: 1,
    });
    const again = await onPublish(lp, article, site);
    expect(again.action).toBe('unchanged');
    expect(again.link).toEqual(first.link);
    const stored = await lp.links.get(first.link.id);
    expect(stored.version).toBe(1);
    expect(stored.updated_at).toBe(first.link.updated_at);
  });

  it('a changed article updates its own link in place (same id and path, new version)', async () => {
    const changed = { ...article, slug: 'why-short-links-2026', campaign: 'spring_26', category: 'news' };
    const r = await onPublish(lp, changed, site);
    expect(r.action).toBe('updated');
    expect(r.link).toMatchObject({
      path: 'why-short-links', // a short link already shared keeps working
      destination_url: 'https://www.cms.example.com/why-short-links-2026',
      utm: { source: 'cms', medium: 'content', campaign: 'spring_26' },
      tags: ['content', 'news'],
      version: 2,
    });
    expect((await onPublish(lp, changed, site)).action).toBe('unchanged');
    // without the idempotency record (kept 24 h, per API key) the hook still writes nothing: it compares.
    // Another key of the workspace has no record of these keys, as after the 24 h.
    const fresh = new Linkplane({ apiUrl: stack.apiUrl, apiKey: await stack.key('publisher', [DOMAIN]) });
    expect((await onPublish(fresh, changed, site)).action).toBe('unchanged');
    const all = await lp.links.list({ domain: DOMAIN }).toArray();
    expect(all.map((l) => [l.external_id, l.version])).toEqual([['cms-article-4711', 2]]);
  });

  it("never takes over another article's path", async () => {
    const other: Article = { ...article, id: '4712', title: 'Copycat' };
    await expect(onPublish(lp, other, site)).rejects.toMatchObject({ status: 409, code: 'path_conflict' });
    expect((await lp.links.list({ domain: DOMAIN }).toArray()).length).toBe(1);
  });

  describe('as an HTTP endpoint', () => {
    let server: Server;
    let url: string;
    beforeAll(async () => {
      server = createServer(publishHookHandler({ lp, site, hookToken: 'cms-hook-token' }));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/cms/published`;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    const post = (body: unknown, token = 'cms-hook-token') =>
      fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) })
        .then(async (r) => ({ status: r.status, json: (await r.json()) as Record<string, unknown> }));

    it('answers what it did, and refuses a wrong token or a malformed article', async () => {
      const a: Article = { id: '5000', slug: 'launch', title: 'Launch', author: 'grace', category: 'news' };
      const created = await post(a);
      expect(created).toMatchObject({ status: 200, json: { action: 'created', short_url: `https://${DOMAIN}/launch` } });
      expect(await post(a)).toEqual({ status: 200, json: { action: 'unchanged', link_id: created.json.link_id, short_url: `https://${DOMAIN}/launch` } });
      expect(await post(a, 'wrong')).toEqual({ status: 401, json: { error: 'unauthorized' } });
      expect(await post({ ...a, slug: '' })).toEqual({ status: 400, json: { error: 'bad_article', message: 'article.slug must be a non-empty string' } });
      const taken = await post({ ...a, id: '5001' });
      expect(taken.status).toBe(422);
      expect(taken.json).toMatchObject({ error: 'path_conflict' });
    });
  });
});
