import { describe, expect, it } from 'vitest';
import type { DomainRow } from '../domains/domain-row.js';
import type { LinkRow } from '../links/link-row.js';
import { itemError, type BulkOperation, type ItemError } from './bulk-item.js';
import { planBatch, type CheckedItem } from './plan-batch.js';

const dom = (id: string, hostname: string): DomainRow => ({
  id, workspace_id: 'ws_1', hostname, not_found_url: null, expired_url: null, utm_template: null,
  default_redirect_status: null, version: 1, created_at: new Date(0), updated_at: new Date(0),
});
const A = dom('dom_a', 'a.example.com');
const B = dom('dom_b', 'b.example.com');

function row(id: string, path: string, extra: Partial<LinkRow> = {}): LinkRow {
  return {
    id, workspace_id: 'ws_1', domain_id: A.id, domain: A.hostname, path, destination_url: `https://example.org/${path}`,
    utm: null, routing: null, redirect_status: null, forward_query: false, tags: [], expires_at: null, disabled: false,
    status: 'live', metadata: {}, external_id: null, review_requested_by: null, live_values: null, version: 1, created_by: null,
    created_at: new Date(0), updated_at: new Date(0),
    deleted_at: null, ...extra,
  };
}

let seq = 0;
const item = (idx: number, x: { domain?: string | null; path?: string | null; ext?: string | null; fields?: CheckedItem['fields'] }): CheckedItem => ({
  idx,
  domain: x.domain === undefined ? A.hostname : x.domain,
  path: x.path ?? null,
  externalId: x.ext ?? null,
  fields: x.fields ?? {},
});

function plan(op: BulkOperation, items: CheckedItem[], existing: LinkRow[] = [], domains: [string, DomainRow | ItemError][] = [[A.hostname, A], [B.hostname, B]]) {
  seq = 0;
  return planBatch({
    op, items, existing, domains: new Map(domains),
    newId: () => `ln_new${++seq}`,
    randomPath: (n) => `r${seq}`.padEnd(n, 'x'),
  });
}

describe('planBatch', () => {
  it('create: new links; a taken path or external_id is a conflict; a later item sees an earlier one', () => {
    const p = plan('create', [
      item(0, { path: 'p1', fields: { destination_url: 'https://x.org/1' } }),
      item(1, { path: 'taken', fields: { destination_url: 'https://x.org/2' } }),
      item(2, { path: 'p1', fields: { destination_url: 'https://x.org/3' } }),
      item(3, { ext: 'e1', fields: { destination_url: 'https://x.org/4', external_id: 'e1' } }),
      item(4, { ext: 'e1', fields: { destination_url: 'https://x.org/5', external_id: 'e1' } }),
    ], [row('ln_old', 'taken')]);
    expect(p.outcomes.map((o) => [o.idx, o.status, o.status === 'failed' ? o.error.code : o.linkId])).toEqual([
      [0, 'created', 'ln_new1'],
      [1, 'failed', 'path_conflict'],
      [2, 'failed', 'path_conflict'],
      [3, 'created', 'ln_new2'],
      [4, 'failed', 'external_id_conflict'],
    ]);
    expect(p.writes.map((w) => [w.id, w.before])).toEqual([['ln_new1', null], ['ln_new2', null]]);
    expect(p.writes[0]!.values.path).toBe('p1');
    expect(p.writes[1]!.values.path).toMatch(/^r\dx{5}$/); // generated (7 characters)
  });

  it('upsert: update in place, unchanged when equal, create when missing, move by external_id', () => {
    const existing = [row('ln_1', 'same'), row('ln_2', 'change'), row('ln_3', 'old-home', { external_id: 'e3' })];
    const p = plan('upsert', [
      item(0, { path: 'same', fields: { destination_url: 'https://example.org/same' } }),
      item(1, { path: 'change', fields: { destination_url: 'https://example.org/new', tags: ['t'] } }),
      item(2, { path: 'fresh', fields: { destination_url: 'https://example.org/fresh' } }),
      item(3, { ext: 'e3', domain: B.hostname, path: 'new-home', fields: { destination_url: 'https://example.org/old-home', external_id: 'e3' } }),
    ], existing);
    expect(p.outcomes.map((o) => o.status)).toEqual(['unchanged', 'updated', 'created', 'updated']);
    const byId = new Map(p.writes.map((w) => [w.id, w]));
    expect(byId.has('ln_1')).toBe(false);
    expect(byId.get('ln_2')!.values).toMatchObject({ destination_url: 'https://example.org/new', tags: ['t'], path: 'change' });
    expect(byId.get('ln_3')!.values).toMatchObject({ domain: B.hostname, domain_id: B.id, path: 'new-home' });
    expect(byId.get('ln_3')!.before!.path).toBe('old-home');
  });

  it('a path freed by a delete earlier in the batch can be taken; a link created then deleted leaves nothing', () => {
    const p = plan('delete', [item(0, { path: 'gone' }), item(1, { path: 'gone' }), item(2, { path: 'never' })], [row('ln_1', 'gone')]);
    expect(p.outcomes.map((o) => (o.status === 'failed' ? o.error.code : o.status))).toEqual(['deleted', 'link_not_found', 'link_not_found']);
    expect(p.writes).toEqual([expect.objectContaining({ id: 'ln_1', deleted: true })]);
  });

  it('update and disable need an existing link; a move onto a taken path is a conflict', () => {
    const existing = [row('ln_1', 'one', { external_id: 'e1' }), row('ln_2', 'two')];
    const u = plan('update', [
      item(0, { ext: 'e1', domain: null, fields: { external_id: 'e1', redirect_status: 301 } }),
      item(1, { ext: 'e1', path: 'two', fields: { external_id: 'e1' } }),
      item(2, { ext: 'missing', domain: null, fields: { external_id: 'missing' } }),
    ], existing);
    expect(u.outcomes.map((o) => (o.status === 'failed' ? `${o.error.code}:${o.error.field}` : o.status))).toEqual([
      'updated', 'path_conflict:path', 'link_not_found:external_id',
    ]);
    expect(u.writes[0]!.values).toMatchObject({ path: 'one', redirect_status: 301 });
    const d = plan('disable', [item(0, { path: 'two' }), item(1, { path: 'two' })], existing);
    expect(d.outcomes.map((o) => o.status)).toEqual(['disabled', 'disabled']);
    expect(d.writes[0]!.values.disabled).toBe(true);
  });

  it('a domain error is the item\'s error', () => {
    const p = plan('create', [item(0, { domain: 'c.example.com', path: 'x', fields: { destination_url: 'https://x.org' } })], [], [
      ['c.example.com', itemError('domain_not_allowed', 'domain', 'no')],
    ]);
    expect(p.outcomes[0]).toMatchObject({ status: 'failed', error: { code: 'domain_not_allowed', field: 'domain' } });
    expect(p.writes).toEqual([]);
  });
});
