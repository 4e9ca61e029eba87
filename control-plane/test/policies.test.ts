/**
 * Link policies (issue 16): every rule on every path that writes a link — API create, API update,
 * a bulk job, a domain change — answered 422 policy_violation (details.rule, details.field), or a
 * per-item error in a job, with nothing written; workspace rules with per-domain overrides; and
 * POST /v1/policy/check reporting (paged) the live links a policy would break, changing nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skeleton } from '../policies/confusables.js';
import { createDomain, createHarness, type Harness } from './harness.js';
import { results, startWorkers, waitForJob } from './jobs-helpers.js';
import type { JobWorkers } from '../jobs/index.js';

const days = (n: number) => new Date(Date.now() + n * 86_400_000).toISOString();

interface RuleCase {
  rule: string;
  policy: Record<string, unknown>;
  /** Domain settings the case needs (a UTM template). */
  domain?: Record<string, unknown>;
  good: Record<string, unknown>;
  /** Bad fields and the field the violation names. */
  bad: [fields: Record<string, unknown>, field: string][];
}

const CASES: RuleCase[] = [
  { rule: 'https_only', policy: { https_only: true }, good: { destination_url: 'https://example.org/a' },
    bad: [[{ destination_url: 'http://example.org/a' }, 'destination_url'],
      [{ destination_url: 'https://example.org/a', routing: { ab: [{ url: 'https://example.org/x', weight: 1 }, { url: 'http://example.org/y', weight: 1 }] } }, 'routing.ab[1].url']] },
  { rule: 'destination_hosts_allow', policy: { destination_hosts_allow: ['shop.example.com', '*.cdn.example.net'] },
    good: { destination_url: 'https://img.CDN.example.net/p' },
    bad: [[{ destination_url: 'https://cdn.example.net/p' }, 'destination_url'], [{ destination_url: 'https://www.shop.example.com/p' }, 'destination_url'],
      [{ destination_url: 'https://shop.example.com/', routing: { geo: [{ country: 'DE', url: 'https://other.example.org/de' }] } }, 'routing.geo[0].url']] },
  { rule: 'destination_hosts_deny', policy: { destination_hosts_deny: ['*.evil.example.com', 'bad.example.org'] },
    good: { destination_url: 'https://evil.example.com/ok' },
    bad: [[{ destination_url: 'https://x.EVIL.example.com/' }, 'destination_url'], [{ destination_url: 'https://bad.example.org/p' }, 'destination_url'],
      [{ destination_url: 'https://example.org/', routing: { rules: [{ when: { country: ['FR'] }, url: 'https://a.b.evil.example.com/' }] } }, 'routing.rules[0].url']] },
  { rule: 'banned_path_words', policy: { banned_path_words: ['promo', 'free'] }, good: { destination_url: 'https://example.org/', path: 'spring-sale' },
    bad: [[{ destination_url: 'https://example.org/', path: 'BIG-PROMO' }, 'path'], [{ destination_url: 'https://example.org/', path: 'pr0m0-deal' }, 'path'],
      [{ destination_url: 'https://example.org/', path: 'get-fr\u0435e-now' }, 'path'], [{ destination_url: 'https://example.org/', path: '\uff26\uff32\uff25\uff25' }, 'path']] },
  { rule: 'max_ttl_days', policy: { max_ttl_days: 30 }, good: { destination_url: 'https://example.org/', expires_at: days(10) },
    bad: [[{ destination_url: 'https://example.org/' }, 'expires_at'], [{ destination_url: 'https://example.org/', expires_at: days(40) }, 'expires_at']] },
  { rule: 'required_utm', policy: { required_utm: ['source', 'campaign'] }, domain: { utm_template: { source: 'newsletter' } },
    good: { destination_url: 'https://example.org/', utm: { campaign: 'spring' } },
    bad: [[{ destination_url: 'https://example.org/', utm: null }, 'utm'], [{ destination_url: 'https://example.org/', utm: { campaign: 'spring', source: null } }, 'utm']] },
];

let h: Harness;
let workers: JobWorkers;
let n = 0;
const uniq = () => `p${++n}-${Math.random().toString(36).slice(2, 6)}`;

async function domainWith(policy: Record<string, unknown>, settings: Record<string, unknown> = {}): Promise<{ host: string; id: string }> {
  const host = await createDomain(h, `${uniq()}.policy.example.com`, settings);
  const id = (await h.pool.query<{ id: string }>('SELECT id FROM domains WHERE hostname = $1', [host])).rows[0]!.id;
  const r = await h.req({ method: 'PUT', url: `/v1/domains/${id}/policy`, payload: policy });
  expect(r.statusCode, r.body).toBe(200);
  return { host, id };
}

const errorOf = (r: { json<T>(): T }) => r.json<{ error: { code: string; details: { rule: string; field: string } } }>().error;

beforeAll(async () => {
  h = await createHarness('policies', { RATE_LIMIT_BURST: '100000', RATE_LIMIT_PER_SEC: '10000' });
  workers = startWorkers(h);
});
afterAll(async () => {
  await workers?.stop();
  await h?.close();
});

describe('every rule on every path', () => {
  for (const c of CASES) {
    it(`${c.rule}: API create, API update, bulk job`, async () => {
      const { host } = await domainWith(c.policy, c.domain);
      const before = Number((await h.pool.query('SELECT count(*) AS n FROM link_outbox')).rows[0].n);
      // API create
      for (const [fields, field] of c.bad) {
        const r = await h.req({ method: 'POST', url: '/v1/links', payload: { domain: host, ...fields } });
        expect(r.statusCode, `${JSON.stringify(fields)}: ${r.body}`).toBe(422);
        expect(errorOf(r)).toMatchObject({ code: 'policy_violation', details: { rule: c.rule, field } });
      }
      expect(Number((await h.pool.query('SELECT count(*) AS n FROM links WHERE domain = $1', [host])).rows[0].n)).toBe(0);
      expect(Number((await h.pool.query('SELECT count(*) AS n FROM link_outbox')).rows[0].n)).toBe(before);
      const good = await h.req({ method: 'POST', url: '/v1/links', payload: { domain: host, ...c.good } });
      expect(good.statusCode, good.body).toBe(201);
      const link = good.json<{ id: string; version: number; destination_url: string }>();

      // API update: each bad change refused, the link unchanged
      for (const [fields, field] of c.bad) {
        const r = await h.req({ method: 'PATCH', url: `/v1/links/${link.id}`, payload: { ...fields, ...(fields.expires_at === undefined && c.rule === 'max_ttl_days' ? { expires_at: null } : {}) } });
        expect(r.statusCode, `${JSON.stringify(fields)}: ${r.body}`).toBe(422);
        expect(errorOf(r)).toMatchObject({ code: 'policy_violation', details: { rule: c.rule, field } });
      }
      const after = await h.req({ method: 'GET', url: `/v1/links/${link.id}` });
      expect(after.json<{ version: number }>().version).toBe(link.version);

      // bulk job: the bad items fail with the violation, the good one is created
      const items = [{ ...c.good, path: `${String(c.good.path ?? 'ok')}-${uniq()}` }, ...c.bad.map(([f], i) => ({ path: `bad-${i}-${uniq()}`, ...f }))].map((f) => ({ domain: host, ...f }));
      const job = await h.req({ method: 'POST', url: '/v1/links/bulk', payload: { operation: 'upsert', items } });
      expect(job.statusCode, job.body).toBe(202);
      const done = await waitForJob(h, job.json<{ job_id: string }>().job_id);
      expect(done).toMatchObject({ counts: { succeeded: 1, failed: c.bad.length } });
      const lines = await results(h, done.id);
      expect(lines.map((l) => [l.index, l.status, (l.error as { code?: string; field?: string } | undefined)?.code, (l.error as { field?: string } | undefined)?.field]))
        .toEqual([[0, 'created', undefined, undefined], ...c.bad.map(([, field], i) => [i + 1, 'failed', 'policy_violation', field])]);
    });
  }

  it('required_utm on a domain change: a new UTM template that drops a required key is refused, links untouched', async () => {
    const { host, id } = await domainWith({ required_utm: ['source', 'campaign'] }, { utm_template: { source: 's', campaign: 'c' } });
    const link = await h.req({ method: 'POST', url: '/v1/links', payload: { domain: host, destination_url: 'https://example.org/' } });
    expect(link.statusCode, link.body).toBe(201);
    const outbox = async () => Number((await h.pool.query('SELECT count(*) AS n FROM link_outbox')).rows[0].n);
    const before = await outbox();
    const bad = await h.req({ method: 'PATCH', url: `/v1/domains/${id}`, payload: { utm_template: { source: 's' } } });
    expect(bad.statusCode, bad.body).toBe(422);
    expect(bad.json<{ error: { code: string; details: Record<string, unknown> } }>().error)
      .toMatchObject({ code: 'policy_violation', details: { rule: 'required_utm', field: 'utm_template', link_id: link.json<{ id: string }>().id } });
    expect(await outbox()).toBe(before);
    const ok = await h.req({ method: 'PATCH', url: `/v1/domains/${id}`, payload: { utm_template: { source: 's2', campaign: 'c' } } });
    expect(ok.statusCode, ok.body).toBe(200);
    expect(await outbox()).toBe(before + 2); // the domain and its one link, recompiled
  });

  it('a link that broke a policy set after it was written can still be disabled, tagged and deleted', async () => {
    const { host, id } = await domainWith({});
    const link = (await h.req({ method: 'POST', url: '/v1/links', payload: { domain: host, destination_url: 'http://example.org/old' } })).json<{ id: string }>();
    expect((await h.req({ method: 'PUT', url: `/v1/domains/${id}/policy`, payload: { https_only: true } })).statusCode).toBe(200);
    expect((await h.req({ method: 'PATCH', url: `/v1/links/${link.id}`, payload: { disabled: true, tags: ['legacy'] } })).statusCode).toBe(200);
    const moved = await h.req({ method: 'PATCH', url: `/v1/links/${link.id}`, payload: { destination_url: 'http://example.org/new' } });
    expect(errorOf(moved)).toMatchObject({ code: 'policy_violation', details: { rule: 'https_only', field: 'destination_url' } });
    expect((await h.req({ method: 'DELETE', url: `/v1/links/${link.id}` })).statusCode).toBe(200);
  });
});

describe('workspace policy and domain overrides', () => {
  it('PUT replaces; a domain override wins for its rules only; GET shows both', async () => {
    const empty = await h.req({ method: 'GET', url: '/v1/policy' });
    expect(empty.json()).toEqual({ https_only: false, destination_hosts_allow: [], destination_hosts_deny: [], banned_path_words: [], max_ttl_days: null, required_utm: [], require_approval: false });
    const put = await h.req({ method: 'PUT', url: '/v1/policy', payload: { https_only: true, banned_path_words: ['casino'], destination_hosts_deny: ['*.BÜCHER.example'] } });
    expect(put.statusCode, put.body).toBe(200);
    expect(put.json()).toMatchObject({ https_only: true, banned_path_words: ['casino'], destination_hosts_deny: ['*.xn--bcher-kva.example'] });
    const { host, id } = await domainWith({ https_only: false });
    const dp = await h.req({ method: 'GET', url: `/v1/domains/${id}/policy` });
    expect(dp.json()).toEqual({ domain_id: id, overrides: { https_only: false }, effective: expect.objectContaining({ https_only: false, banned_path_words: ['casino'] }) });
    // http allowed here (override), the workspace's banned word still applies
    expect((await h.req({ method: 'POST', url: '/v1/links', payload: { domain: host, destination_url: 'http://example.org/' } })).statusCode).toBe(201);
    const banned = await h.req({ method: 'POST', url: '/v1/links', payload: { domain: host, destination_url: 'http://example.org/', path: 'CASINO' } });
    expect(errorOf(banned)).toMatchObject({ code: 'policy_violation', details: { rule: 'banned_path_words', field: 'path' } });
    const denied = await h.req({ method: 'POST', url: '/v1/links', payload: { domain: host, destination_url: 'https://shop.bücher.example/' } });
    expect(errorOf(denied)).toMatchObject({ code: 'policy_violation', details: { rule: 'destination_hosts_deny', field: 'destination_url' } });
    // another domain follows the workspace: https only
    const other = await createDomain(h, `${uniq()}.policy.example.com`);
    expect(errorOf(await h.req({ method: 'POST', url: '/v1/links', payload: { domain: other, destination_url: 'http://example.org/' } })))
      .toMatchObject({ code: 'policy_violation', details: { rule: 'https_only' } });
    // PUT replaces: rules left out are off again
    const reset = await h.req({ method: 'PUT', url: '/v1/policy', payload: {} });
    expect(reset.json<{ https_only: boolean; banned_path_words: string[] }>()).toMatchObject({ https_only: false, banned_path_words: [] });
    const bad = await h.req({ method: 'PUT', url: '/v1/policy', payload: { destination_hosts_allow: ['ok.example.com', 'not a host'] } });
    expect(bad.statusCode).toBe(400);
    const badHost = await h.req({ method: 'PUT', url: '/v1/policy', payload: { destination_hosts_allow: ['ok.example.com', '-bad-.example..com'] } });
    expect(badHost.statusCode, badHost.body).toBe(422);
    expect(errorOf(badHost)).toMatchObject({ code: 'invalid_hostname', details: { field: 'destination_hosts_allow[1]' } });
  });
});

describe('POST /v1/policy/check', () => {
  it('reports the live links a proposed policy would break, paged, and changes nothing', async () => {
    const { host, id } = await domainWith({});
    const made: string[] = [];
    for (const url of ['http://example.org/1', 'https://example.org/2', 'http://example.org/3']) {
      made.push((await h.req({ method: 'POST', url: '/v1/links', payload: { domain: host, destination_url: url } })).json<{ id: string }>().id);
    }
    const check = (body: Record<string, unknown>) => h.req({ method: 'POST', url: '/v1/policy/check', payload: { domain_id: id, ...body } });
    const p1 = await check({ policy: { https_only: true }, limit: 1 });
    expect(p1.statusCode, p1.body).toBe(200);
    const b1 = p1.json<{ data: { link_id: string; violations: { rule: string; field: string }[] }[]; next_cursor: string | null }>();
    expect(b1.data).toEqual([{ link_id: made[2], domain: host, path: expect.any(String), violations: [{ rule: 'https_only', field: 'destination_url', message: expect.any(String) }] }]);
    const p2 = (await check({ policy: { https_only: true }, limit: 1, cursor: b1.next_cursor })).json<typeof b1>();
    expect(p2.data.map((d) => d.link_id)).toEqual([made[0]]);
    const p3 = (await check({ policy: { https_only: true }, limit: 1, cursor: p2.next_cursor })).json<typeof b1>();
    expect(p3).toMatchObject({ data: [], next_cursor: null });
    // a proposed domain override; the current policy (none) breaks nothing
    expect((await check({ domain_policy: { destination_hosts_allow: ['other.example.com'] } })).json<typeof b1>().data.map((d) => d.link_id)).toEqual([made[2], made[1], made[0]]);
    expect((await check({})).json<typeof b1>().data).toEqual([]);
    // nothing changed
    expect((await h.req({ method: 'GET', url: '/v1/policy' })).json<{ https_only: boolean }>().https_only).toBe(false);
  });
});

describe('confusable skeletons (Unicode TR39 subset, NFKC, case fold)', () => {
  it.each([
    ['FREE', 'free'], ['fr\u0435e', 'free'], ['ＦＲＥＥ', 'free'], ['pr0m0', 'promo'], ['prorno', 'promo'], ['\u0440\u0430\u0443\u0440\u0430l', 'paypal'], ['ΡΟΡ', 'pop'],
  ])('%s looks like %s', (a, b) => expect(skeleton(a)).toBe(skeleton(b)));
  it('different words stay different', () => {
    expect(skeleton('fee')).not.toBe(skeleton('free'));
    expect(skeleton('proma')).not.toBe(skeleton('promo'));
  });
});
