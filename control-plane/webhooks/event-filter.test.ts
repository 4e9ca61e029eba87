import { describe, expect, it } from 'vitest';
import { ApiError } from '../../shared/index.js';
import { matchesFilter, SUBSCRIBABLE_EVENT_TYPES, validateEventFilter } from './event-filter.js';

describe('event filters', () => {
  const matches: [string[], string, boolean][] = [
    [['*'], 'link.created', true],
    [['*'], 'webhook.delivery.failed', true],
    [['link.*'], 'link.created', true],
    [['link.*'], 'link.deleted', true],
    [['link.*'], 'click.created', false],
    [['link.created'], 'link.updated', false],
    [['qr.*'], 'qr.scan.created', true],
    [['qr.scan.*'], 'qr.scan.created', true],
    [['job.failed', 'click.*'], 'click.created', true],
    [['job.failed', 'click.*'], 'job.succeeded', false],
    [['link.*'], 'linkx.created', false],
  ];
  matches.forEach(([f, t, m]) => it(`${JSON.stringify(f)} ${m ? 'takes' : 'skips'} ${t}`, () => expect(matchesFilter(f, t)).toBe(m)));

  it('accepts every catalog type, prefix wildcards and *, de-duplicated', () => {
    expect(validateEventFilter([...SUBSCRIBABLE_EVENT_TYPES])).toEqual([...SUBSCRIBABLE_EVENT_TYPES]);
    expect(validateEventFilter(['link.*', 'qr.*', 'qr.scan.*', 'webhook.*', '*', 'link.*'])).toEqual(['link.*', 'qr.*', 'qr.scan.*', 'webhook.*', '*']);
  });

  const bad: [string[], string][] = [
    [['link.exploded'], 'events[0]'], [['link.created', 'nope.*'], 'events[1]'], [['.*'], 'events[0]'], [['link*'], 'events[0]'],
    [['Link.created'], 'events[0]'], [['webhook.ping'], 'events[0]'], [['**'], 'events[0]'], [['link.*.x'], 'events[0]'],
  ];
  bad.forEach(([f, field]) =>
    it(`rejects ${JSON.stringify(f)} naming ${field}`, () => {
      try {
        validateEventFilter(f);
        expect.unreachable();
      } catch (err) {
        expect(err).toBeInstanceOf(ApiError);
        expect((err as ApiError).code).toBe('invalid_event_filter');
        expect((err as ApiError).status).toBe(422);
        expect((err as ApiError).details?.field).toBe(field);
      }
    }),
  );
});
