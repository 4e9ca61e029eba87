/**
 * Webhook events for stored clicks (pure): `click.created` for a click, `qr.scan.created` for a
 * QR scan (exclusive: a scan is not also a click.created), `rule.variant_chosen` when a rule or an
 * A/B variant decided the destination. Bot traffic emits none (analytics exclude it by default
 * too); only workspaces that subscribe to a type get it (event-subscribers.ts).
 */
import type { ClickEvent } from '../../shared/index.js';
import type { NewEvent } from '../events/emit.js';
import { uuidToId } from '../ids.js';
import { shortUrl } from '../links/link-row.js';
import { F, type ClickSet } from './click-set.js';
import type { Subscriptions } from './event-subscribers.js';

/** The `data` of click.created / qr.scan.created. */
export function clickEventData(c: ClickEvent, scheme: string) {
  return {
    id: uuidToId('clk', c.id),
    occurred_at: new Date(c.occurredAt).toISOString(),
    link_id: c.linkId,
    domain: c.domain,
    path: c.path,
    short_url: shortUrl(scheme, c.domain, c.path),
    destination: c.destination,
    rule_id: c.ruleId,
    variant_id: c.variantId,
    country: c.country,
    device: c.deviceClass,
    os: c.os,
    browser: c.browser,
    referrer_host: c.referrerHost,
    language: c.language,
    qr: c.qr,
    utm: c.utm,
    visitor_hash: c.visitorHash,
    node_id: c.nodeId,
  };
}

/** Events for the clicks `rows` of `set` (ClickEvent objects are built only for subscribed workspaces). */
export function clickWebhookEvents(set: ClickSet, rows: Int32Array, subs: Subscriptions, scheme: string): NewEvent[] {
  if (subs.size === 0) return [];
  const out: NewEvent[] = [];
  const ws = set.cols[F.workspace]!;
  for (const i of rows) {
    if (set.bot(i)) continue;
    const types = subs.get(set.strings[ws[i]!]!);
    if (!types) continue;
    const c = set.toEvent(i);
    const occurredAt = new Date(c.occurredAt);
    const type = c.qr ? 'qr.scan.created' : 'click.created';
    if (types.has(type)) out.push({ workspaceId: c.workspaceId, type, occurredAt, data: clickEventData(c, scheme) });
    if ((c.ruleId !== null || c.variantId !== null) && types.has('rule.variant_chosen')) {
      out.push({
        workspaceId: c.workspaceId,
        type: 'rule.variant_chosen',
        occurredAt,
        data: {
          click_id: uuidToId('clk', c.id),
          occurred_at: occurredAt.toISOString(),
          link_id: c.linkId,
          rule_id: c.ruleId,
          variant_id: c.variantId,
          destination: c.destination,
          country: c.country,
          device: c.deviceClass,
        },
      });
    }
  }
  return out;
}
