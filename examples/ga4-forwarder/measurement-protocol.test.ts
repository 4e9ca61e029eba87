import { describe, expect, it } from 'vitest';
import { collectUrl, toMeasurementProtocol, type ClickEventData } from './measurement-protocol.js';

const click: ClickEventData = {
  id: '0193a0c4-6f00-7000-8000-000000000001',
  occurred_at: '2026-12-03T10:00:00.123Z',
  link_id: 'ln_01JEXAMPLE',
  domain: 'go.example.com',
  path: 'spring',
  short_url: 'https://go.example.com/spring',
  destination: `https://www.example.com/${'x'.repeat(120)}`,
  rule_id: null,
  variant_id: null,
  country: 'US',
  device: 'mobile',
  os: 'ios',
  browser: 'Mobile Safari',
  referrer_host: null,
  language: 'fr-ch',
  qr: false,
  utm: { source: 'email', medium: 'newsletter', campaign: 'spring_sale' },
  node_id: 'node-1',
  visitor_hash: 'c2a1f0e9d8b7a6958473625140312f1e',
};

describe('GA4 Measurement Protocol mapping', () => {
  it('a click becomes one link_click event with the UTM as traffic-source parameters', () => {
    expect(toMeasurementProtocol({ type: 'click.created', data: click })).toEqual({
      client_id: 'c2a1f0e9d8b7a6958473625140312f1e',
      timestamp_micros: 1796292000123000,
      non_personalized_ads: true,
      events: [{
        name: 'link_click',
        params: {
          link_id: 'ln_01JEXAMPLE',
          short_url: 'https://go.example.com/spring',
          link_url: `https://www.example.com/${'x'.repeat(76)}`,
          campaign: 'spring_sale',
          source: 'email',
          medium: 'newsletter',
          country: 'US',
          device_category: 'mobile',
          operating_system: 'ios',
          browser: 'Mobile Safari',
          language: 'fr-ch',
          engagement_time_msec: 1,
        },
      }],
    });
  });

  it('a QR scan is a qr_scan event; other event types are not forwarded', () => {
    expect(toMeasurementProtocol({ type: 'qr.scan.created', data: { ...click, qr: true, utm: null } })!.events).toEqual([{
      name: 'qr_scan',
      params: {
        link_id: 'ln_01JEXAMPLE', short_url: 'https://go.example.com/spring', link_url: `https://www.example.com/${'x'.repeat(76)}`,
        country: 'US', device_category: 'mobile', operating_system: 'ios', browser: 'Mobile Safari', language: 'fr-ch', engagement_time_msec: 1,
      },
    }]);
    expect(toMeasurementProtocol({ type: 'link.created', data: {} })).toBeNull();
  });

  it('collect URL carries the measurement id and API secret', () => {
    expect(collectUrl('G-ABC123', 's3cr&t')).toBe('https://www.google-analytics.com/mp/collect?measurement_id=G-ABC123&api_secret=s3cr%26t');
  });
});
