/**
 * A linkplane `click.created` / `qr.scan.created` event as a GA4 Measurement Protocol request
 * (https://developers.google.com/analytics/devguides/collection/protocol/ga4): one event per
 * request, `link_click` or `qr_scan`, with the campaign's UTM as GA4's traffic-source parameters.
 * Pure: the forwarder does the I/O.
 */

/** The `data` of a click event (the API's Click, without `bot`, plus `short_url`). */
export interface ClickEventData {
  id: string;
  occurred_at: string;
  link_id: string;
  domain: string;
  path: string;
  short_url: string;
  destination: string;
  rule_id: string | null;
  variant_id: string | null;
  country: string | null;
  device: string | null;
  os: string | null;
  browser: string | null;
  referrer_host: string | null;
  language: string | null;
  qr: boolean;
  utm: Record<string, string> | null;
  node_id: string;
  visitor_hash: string;
}

export interface MeasurementProtocolBody {
  client_id: string;
  timestamp_micros: number;
  non_personalized_ads: boolean;
  events: { name: 'link_click' | 'qr_scan'; params: Record<string, string | number> }[];
}

/** GA4 keeps at most 100 characters of a string parameter value. */
const MAX_VALUE = 100;

/** GA4's request for one click event; `null` for other event types. */
export function toMeasurementProtocol(event: { type: string; data: unknown }): MeasurementProtocolBody | null {
  if (event.type !== 'click.created' && event.type !== 'qr.scan.created') return null;
  const c = event.data as ClickEventData;
  const params: Record<string, string | number> = {};
  const put = (name: string, value: string | null | undefined) => {
    if (value) params[name] = value.length > MAX_VALUE ? value.slice(0, MAX_VALUE) : value;
  };
  put('link_id', c.link_id);
  put('short_url', c.short_url);
  put('link_url', c.destination);
  // GA4's traffic-source parameters, from the link's UTM
  put('campaign', c.utm?.campaign);
  put('source', c.utm?.source);
  put('medium', c.utm?.medium);
  put('term', c.utm?.term);
  put('content', c.utm?.content);
  put('country', c.country);
  put('device_category', c.device);
  put('operating_system', c.os);
  put('browser', c.browser);
  put('referrer_host', c.referrer_host);
  put('language', c.language);
  put('rule_id', c.rule_id);
  put('variant_id', c.variant_id);
  // GA4 shows an event in its reports only with some engagement time; a click is a moment
  params.engagement_time_msec = 1;
  return {
    // a pseudonymous, daily-salted visitor id: one GA4 "user" per visitor per day, never an IP
    client_id: c.visitor_hash,
    timestamp_micros: Date.parse(c.occurred_at) * 1000,
    non_personalized_ads: true,
    events: [{ name: event.type === 'qr.scan.created' ? 'qr_scan' : 'link_click', params }],
  };
}

/** The collect URL for a measurement id and API secret (`endpoint` is GA4's unless given). */
export function collectUrl(measurementId: string, apiSecret: string, endpoint = 'https://www.google-analytics.com/mp/collect'): string {
  const u = new URL(endpoint);
  u.searchParams.set('measurement_id', measurementId);
  u.searchParams.set('api_secret', apiSecret);
  return u.toString();
}
