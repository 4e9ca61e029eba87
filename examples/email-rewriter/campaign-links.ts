/**
 * Short links for one campaign's email: one link per distinct URL, carrying the campaign's UTM.
 * The link's identity (`external_id`) and Idempotency-Key are the campaign and a hash of the URL,
 * so rewriting the same email again — a retry, a re-send, a second variant that shares links —
 * reuses each URL's link instead of making another.
 */
import { ConflictError, type Linkplane } from '@linkplane/sdk';

export interface Campaign {
  /** Your ESP's campaign id: part of every link's identity. */
  id: string;
  /** The branded short domain. */
  domain: string;
  utm: { source: string; medium: string; campaign: string; content?: string };
}

export function campaignShortener(lp: Linkplane, campaign: Campaign): (url: string) => Promise<string> {
  return async (url) => {
    const externalId = `email:${campaign.id}:${await sha256Hex(url)}`;
    try {
      const link = await lp.links.create(
        { domain: campaign.domain, destination_url: url, utm: campaign.utm, tags: ['email', `campaign:${campaign.id}`.slice(0, 64)], external_id: externalId },
        { idempotencyKey: externalId },
      );
      return link.short_url;
    } catch (err) {
      // made by an earlier run whose idempotency record has expired (24 h): reuse it
      if (!(err instanceof ConflictError && err.code === 'external_id_conflict')) throw err;
      const [link] = await lp.links.list({ domain: campaign.domain, external_id: externalId, limit: 1 }).toArray(1);
      if (!link) throw err;
      return link.short_url;
    }
  };
}

async function sha256Hex(s: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(s));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('').slice(0, 32);
}
