/**
 * Endpoint event filters: exact catalog types, prefix wildcards (`link.*`, `qr.*`) and `*`.
 * Matching here mirrors the SQL function `webhook_filter_matches` (migration 200), which the
 * fan-out uses; a test holds the two together.
 */
import { WEBHOOK_EVENT_TYPES, type WebhookEventType } from '../../shared/index.js';
import { errors } from '../errors.js';

/** Types an endpoint can subscribe to (`webhook.ping` is only sent by the test call). */
export const SUBSCRIBABLE_EVENT_TYPES: readonly WebhookEventType[] = WEBHOOK_EVENT_TYPES.filter((t) => t !== 'webhook.ping');

export const MAX_FILTER_PATTERNS = 50;

export function matchesFilter(patterns: readonly string[], type: string): boolean {
  return patterns.some((p) => p === type || p === '*' || (p.endsWith('.*') && type.startsWith(p.slice(0, -1))));
}

function isKnownPattern(p: string): boolean {
  if (p === '*') return true;
  if (p.endsWith('.*')) {
    const prefix = p.slice(0, -1);
    return prefix.length > 1 && SUBSCRIBABLE_EVENT_TYPES.some((t) => t.startsWith(prefix));
  }
  return (SUBSCRIBABLE_EVENT_TYPES as readonly string[]).includes(p);
}

/** Validates and de-duplicates a filter; an unknown type is a 422 naming `events[i]`. */
export function validateEventFilter(patterns: readonly string[], field = 'events'): string[] {
  const out: string[] = [];
  patterns.forEach((p, i) => {
    if (!isKnownPattern(p)) {
      throw errors.invalid_event_filter(
        { field: `${field}[${i}]`, value: p, allowed: [...SUBSCRIBABLE_EVENT_TYPES, '<prefix>.*', '*'] },
        `${field}[${i}] "${p}" is not an event type, a prefix wildcard such as link.*, or *`,
      );
    }
    if (!out.includes(p)) out.push(p);
  });
  return out;
}
