/**
 * POST /v1/policy/check: which live links break a policy (the current one, or a proposed one),
 * page by page. Nothing is changed: a policy never rewrites the links written before it.
 */
import type { Queryable } from '../db/pool.js';
import { DOMAIN_COLUMNS, type DomainRow } from '../domains/domain-row.js';
import { decodeIdCursor, encodeIdCursor } from '../http/cursor.js';
import type { AuthContext } from '../keys/key-store.js';
import { LINK_COLUMNS, type LinkRow } from '../links/link-values.js';
import { evaluatePolicy } from './evaluate-policy.js';
import { effectivePolicy, type PolicyOverrides, type Violation } from './policy-schema.js';

export interface CheckRequest {
  /** A proposed workspace policy (a PUT body); the stored one when absent. */
  policy?: PolicyOverrides;
  /** Only this domain's links; with `domainPolicy`, as if its overrides were these. */
  domainId?: string;
  domainPolicy?: PolicyOverrides;
  limit: number;
  cursor?: string;
}

export interface CheckPage {
  data: { link_id: string; domain: string; path: string; violations: Violation[] }[];
  checked: number;
  next_cursor: string | null;
}

const SCAN_CHUNK = 1000;
/** At most this many links are examined per page (a page may hold fewer than `limit` hits; follow the cursor). */
const SCAN_PER_PAGE = 20_000;

export async function checkPolicy(db: Queryable, auth: AuthContext, req: CheckRequest): Promise<CheckPage> {
  const stored = await db.query<{ domain_id: string; rules: PolicyOverrides }>('SELECT domain_id, rules FROM policies WHERE workspace_id = $1', [auth.workspaceId]);
  const overrides = new Map(stored.rows.map((r) => [r.domain_id, r.rules]));
  const workspace = req.policy ?? overrides.get('') ?? null;
  if (req.domainId !== undefined && req.domainPolicy !== undefined) overrides.set(req.domainId, req.domainPolicy);
  const domains = new Map(
    (await db.query<DomainRow>(`SELECT ${DOMAIN_COLUMNS} FROM domains WHERE workspace_id = $1 AND deleted_at IS NULL`, [auth.workspaceId])).rows.map((d) => [d.id, d]),
  );
  const rulesOf = (domainId: string) => effectivePolicy(workspace, overrides.get(domainId) ?? null);

  const out: CheckPage = { data: [], checked: 0, next_cursor: null };
  let after = req.cursor ? decodeIdCursor(req.cursor, 'ln') : null;
  for (;;) {
    const { rows } = await db.query<LinkRow>(
      `SELECT ${LINK_COLUMNS} FROM links
       WHERE workspace_id = $1 AND deleted_at IS NULL AND status = 'live'
         AND ($2::text IS NULL OR id < $2) AND ($3::text IS NULL OR domain_id = $3) AND ($4::text[] IS NULL OR domain = ANY($4))
       ORDER BY id DESC LIMIT $5`,
      [auth.workspaceId, after, req.domainId ?? null, auth.domains, SCAN_CHUNK],
    );
    for (const row of rows) {
      out.checked++;
      after = row.id;
      const violations = evaluatePolicy(row, rulesOf(row.domain_id), domains.get(row.domain_id)?.utm_template ?? null);
      if (violations.length > 0) out.data.push({ link_id: row.id, domain: row.domain, path: row.path, violations });
      if (out.data.length >= req.limit || out.checked >= SCAN_PER_PAGE) {
        out.next_cursor = encodeIdCursor(row.id);
        return out;
      }
    }
    if (rows.length < SCAN_CHUNK) return out;
  }
}
