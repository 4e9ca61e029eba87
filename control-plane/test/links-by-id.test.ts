/**
 * A link by id is one primary-key probe, whatever the table's statistics say; the workspace and
 * liveness checks still hold. The bench's `api` scenario (fresh database, 2 000 links, never
 * analyzed) showed GET /v1/links/{id} and PATCH reading every link of the workspace through the
 * partial (workspace_id, updated_at) index when those checks were index conditions.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LINK_BY_ID_SQL } from '../links/link-service.js';
import { createDomain, createHarness, type Harness } from './harness.js';

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Shared Hit Blocks': number;
  'Shared Read Blocks': number;
  'Actual Rows': number;
  'Rows Removed by Filter'?: number;
  Plans?: PlanNode[];
}

const LINKS = 3000;

describe('links: lookup by id', () => {
  let h: Harness;
  let domain: string;
  let ids: string[];
  beforeAll(async () => {
    h = await createHarness('links_by_id');
    domain = await createDomain(h, 'go.byid.example.com');
    // 3 000 links of the admin's workspace written in one statement, no ANALYZE afterwards: the
    // statistics of a table that just got its first rows
    const { rows: [d] } = await h.pool.query<{ id: string; workspace_id: string }>('SELECT id, workspace_id FROM domains WHERE hostname = $1', [domain]);
    const ins = await h.pool.query<{ id: string }>(
      `INSERT INTO links (id, workspace_id, domain_id, domain, path, destination_url, tags)
       SELECT 'ln_' || lpad(g::text, 26, '0'), $1, $2, $3, 'p' || g, 'https://www.example.com/' || g, ARRAY['t' || (g % 10)]
       FROM generate_series(1, ${LINKS}) g RETURNING id`,
      [d!.workspace_id, d!.id, domain],
    );
    ids = ins.rows.map((r) => r.id).sort();
  });
  afterAll(async () => {
    await h.close();
  });

  it('is one primary-key probe on a table without statistics', async () => {
    const stats = await h.pool.query<{ n: string | null }>(`SELECT last_analyze::text || last_autoanalyze::text AS n FROM pg_stat_user_tables WHERE relname = 'links'`);
    expect(stats.rows[0]!.n).toBeNull();
    for (const lock of ['', ' FOR UPDATE']) {
      const client = await h.pool.connect();
      try {
        await client.query('BEGIN');
        const { rows } = await client.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(
          `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${LINK_BY_ID_SQL}${lock}`,
          [ids[1500]],
        );
        await client.query('ROLLBACK');
        let plan = rows[0]!['QUERY PLAN'][0].Plan;
        if (lock) {
          expect(plan['Node Type']).toBe('LockRows');
          plan = plan.Plans![0]!;
        }
        expect(plan['Node Type']).toBe('Index Scan');
        expect(plan['Index Name']).toBe('links_pkey');
        expect(plan['Actual Rows']).toBe(1);
        expect(plan['Rows Removed by Filter'] ?? 0).toBe(0);
        // a 3-level b-tree and the heap page, not the workspace's ~100 pages of links
        expect(plan['Shared Hit Blocks'] + plan['Shared Read Blocks']).toBeLessThanOrEqual(5);
      } finally {
        client.release();
      }
    }
  });

  it('answers the link of the caller, 404 for a deleted link or another workspace, 409 for conflicts', async () => {
    const id = ids[42]!;
    const get = await h.req({ method: 'GET', url: `/v1/links/${id}` });
    expect(get.statusCode).toBe(200);
    expect(get.json()).toMatchObject({ id, domain, path: 'p43', destination_url: 'https://www.example.com/43' });
    const patch = await h.req({ method: 'PATCH', url: `/v1/links/${id}`, payload: { destination_url: 'https://www.example.com/v2' } });
    expect(patch.statusCode).toBe(200);
    expect(patch.json()).toMatchObject({ id, destination_url: 'https://www.example.com/v2', version: 2 });

    // another workspace's link: same lookup, not visible
    await h.pool.query(`INSERT INTO workspaces (id, name) VALUES ('ws_other_byid', 'other byid')`);
    await h.pool.query(
      `INSERT INTO domains (id, workspace_id, hostname) VALUES ('dom_other_byid', 'ws_other_byid', 'go.other-byid.example.com')`,
    );
    await h.pool.query(
      `INSERT INTO links (id, workspace_id, domain_id, domain, path, destination_url)
       VALUES ('ln_0THERWS0000000000000000000', 'ws_other_byid', 'dom_other_byid', 'go.other-byid.example.com', 'x', 'https://www.example.com/x')`,
    );
    for (const method of ['GET', 'PATCH', 'DELETE'] as const) {
      const r = await h.req({ method, url: '/v1/links/ln_0THERWS0000000000000000000', ...(method === 'PATCH' ? { payload: { destination_url: 'https://www.example.com/y' } } : {}) });
      expect(r.statusCode).toBe(404);
      expect(r.json().error.code).toBe('link_not_found');
    }
    const other = await h.pool.query<{ destination_url: string; deleted_at: Date | null; version: number }>(
      `SELECT destination_url, deleted_at, version FROM links WHERE id = 'ln_0THERWS0000000000000000000'`,
    );
    expect(other.rows[0]).toEqual({ destination_url: 'https://www.example.com/x', deleted_at: null, version: 1 });

    // conflicts end the request cleanly, with or without a savepoint, and change nothing
    const a = await h.req({ method: 'POST', url: '/v1/links', payload: { domain, path: 'conf-a', destination_url: 'https://www.example.com/a', external_id: 'ext-a' } });
    const b = await h.req({ method: 'POST', url: '/v1/links', payload: { domain, path: 'conf-b', destination_url: 'https://www.example.com/b', external_id: 'ext-b' } });
    expect([a.statusCode, b.statusCode]).toEqual([201, 201]);
    const dupExt = await h.req({ method: 'POST', url: '/v1/links', payload: { domain, path: 'conf-c', destination_url: 'https://www.example.com/c', external_id: 'ext-a' } });
    expect(dupExt.statusCode).toBe(409);
    expect(dupExt.json().error).toMatchObject({ code: 'external_id_conflict', details: { field: 'external_id' } });
    const patchExt = await h.req({ method: 'PATCH', url: `/v1/links/${b.json().id}`, payload: { external_id: 'ext-a', destination_url: 'https://www.example.com/b2' } });
    expect(patchExt.statusCode).toBe(409);
    expect(patchExt.json().error).toMatchObject({ code: 'external_id_conflict', details: { field: 'external_id' } });
    const patchPath = await h.req({ method: 'PATCH', url: `/v1/links/${b.json().id}`, payload: { path: 'conf-a' } });
    expect(patchPath.statusCode).toBe(409);
    expect(patchPath.json().error).toMatchObject({ code: 'path_conflict', details: { field: 'path', path: 'conf-a', existing_link_id: a.json().id } });
    const after = await h.pool.query<{ path: string; external_id: string; destination_url: string; version: number }>(
      `SELECT path, external_id, destination_url, version FROM links WHERE path LIKE 'conf-%' ORDER BY path`,
    );
    expect(after.rows).toEqual([
      { path: 'conf-a', external_id: 'ext-a', destination_url: 'https://www.example.com/a', version: 1 },
      { path: 'conf-b', external_id: 'ext-b', destination_url: 'https://www.example.com/b', version: 1 },
    ]);
    const moved = await h.req({ method: 'PATCH', url: `/v1/links/${b.json().id}`, payload: { path: 'conf-d' } });
    expect(moved.statusCode).toBe(200);
    expect(moved.json()).toMatchObject({ path: 'conf-d', version: 2 });

    // deleted: 404 for reads and writes
    const del = await h.req({ method: 'DELETE', url: `/v1/links/${id}` });
    expect(del.statusCode).toBe(200);
    for (const method of ['GET', 'PATCH', 'DELETE'] as const) {
      const r = await h.req({ method, url: `/v1/links/${id}`, ...(method === 'PATCH' ? { payload: { destination_url: 'https://www.example.com/z' } } : {}) });
      expect(r.statusCode).toBe(404);
    }
  });
});
