/**
 * What a published article's short link should be, and the Idempotency-Key that names exactly
 * that version of it. Pure: the hook does the I/O.
 */
import { createHash } from 'node:crypto';

export interface Article {
  id: string;
  slug: string;
  title: string;
  author: string;
  category: string;
  campaign?: string | null;
}

export interface SiteConfig {
  /** The branded short domain, e.g. go.yoursite.com (registered with POST /v1/domains). */
  domain: string;
  /** The site articles live on, e.g. https://www.yoursite.com. */
  siteUrl: string;
}

/** The link's fields that follow the article (the path is chosen once, at creation, and then kept). */
export interface ArticleLinkFields {
  destination_url: string;
  utm: { source: string; medium: string; campaign: string };
  tags: string[];
  metadata: { author: string; article_id: string; title: string };
}

export function articleLinkFields(article: Article, site: SiteConfig): ArticleLinkFields {
  return {
    destination_url: new URL(`/${encodeURIComponent(article.slug)}`, site.siteUrl).toString(),
    utm: { source: 'cms', medium: 'content', campaign: article.campaign || 'evergreen' },
    tags: ['content', article.category],
    metadata: { author: article.author, article_id: article.id, title: article.title },
  };
}

/** The article's identity on the link: one live link per article, whatever its path. */
export function articleExternalId(article: Pick<Article, 'id'>): string {
  return `cms-article-${article.id}`;
}

/**
 * `cms:<article id>:<hash of what the link should be>`: publishing the same article again sends the
 * same key (the API replays its first answer, nothing is written); a changed article sends a new one.
 */
export function publishKey(article: Pick<Article, 'id'>, fields: ArticleLinkFields, path: string): string {
  const digest = createHash('sha256').update(JSON.stringify([path, fields])).digest('base64url').slice(0, 22);
  return `cms:${article.id}:${digest}`;
}
