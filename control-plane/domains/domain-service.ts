/** Branded domains: one workspace owns a hostname; settings are published to nodes (`d.` keys). */
import { compileDomain, normalizeHostname, type RedirectStatus, type Utm } from '../../shared/index.js';
import { recordAudit, type Actor } from '../audit/record.js';
import type { PoolClient, Queryable } from '../db/pool.js';
import { isUniqueViolation } from '../db/tx.js';
import { errors } from '../errors.js';
import { newId } from '../ids.js';
import type { AuthContext } from '../keys/key-store.js';
import { republishDomainLinks } from '../links/link-writer.js';
import { validUrl } from '../links/validate-link.js';
import { delDomain, enqueue, putDomain } from '../outbox/enqueue.js';
import { DOMAIN_COLUMNS, toSettings, type DomainRow } from './domain-row.js';

export interface DomainInput {
  hostname?: string;
  not_found_url?: string | null;
  expired_url?: string | null;
  utm_template?: Utm | null;
  default_redirect_status?: RedirectStatus | null;
}

export function canUseDomain(auth: AuthContext, hostname: string): boolean {
  return auth.domains === null || auth.domains.includes(hostname);
}

function checkedHostname(raw: string): string {
  const h = normalizeHostname(raw);
  if (!h) throw errors.invalid_hostname({ field: 'hostname', reason: 'invalid' }, `hostname: "${raw}" is not a valid domain name`);
  return h;
}

function fallbackUrls(input: DomainInput): Partial<Record<'not_found_url' | 'expired_url', string | null>> {
  const out: Partial<Record<'not_found_url' | 'expired_url', string | null>> = {};
  for (const f of ['not_found_url', 'expired_url'] as const) {
    const v = input[f];
    if (v !== undefined) out[f] = v === null ? null : validUrl(v, f);
  }
  return out;
}

/** A live domain of the caller's workspace that the key may use, else 403/404. */
export async function domainForWrite(db: Queryable, auth: AuthContext, hostname: string, lock = false): Promise<DomainRow> {
  const host = normalizeHostname(hostname) ?? hostname.toLowerCase();
  const { rows } = await db.query<DomainRow>({
    name: lock ? 'domain_by_hostname_for_share' : 'domain_by_hostname',
    text: `SELECT ${DOMAIN_COLUMNS} FROM domains WHERE hostname = $1 AND deleted_at IS NULL${lock ? ' FOR SHARE' : ''}`,
    values: [host],
  });
  const row = rows[0];
  if (!row) throw errors.domain_not_found({ field: 'domain', hostname: host }, `domain "${host}" is not registered; create it with POST /v1/domains`);
  if (row.workspace_id !== auth.workspaceId || !canUseDomain(auth, row.hostname)) {
    throw errors.domain_not_allowed({ field: 'domain', hostname: host });
  }
  return row;
}

export async function createDomain(tx: PoolClient, actor: Actor, input: DomainInput & { hostname: string }): Promise<DomainRow> {
  const hostname = checkedHostname(input.hostname);
  if (!canUseDomain(actor.auth, hostname)) throw errors.domain_not_allowed({ field: 'hostname', hostname });
  const urls = fallbackUrls(input);
  let row: DomainRow;
  try {
    await tx.query('SAVEPOINT create_domain');
    const { rows } = await tx.query<DomainRow>(
      `INSERT INTO domains (id, workspace_id, hostname, not_found_url, expired_url, utm_template, default_redirect_status)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${DOMAIN_COLUMNS}`,
      [newId('dom'), actor.auth.workspaceId, hostname, urls.not_found_url ?? null, urls.expired_url ?? null,
        input.utm_template ? JSON.stringify(input.utm_template) : null, input.default_redirect_status ?? null],
    );
    row = rows[0]!;
  } catch (err) {
    await tx.query('ROLLBACK TO SAVEPOINT create_domain');
    if (isUniqueViolation(err, 'domains_hostname_live')) throw errors.hostname_taken({ field: 'hostname', hostname });
    throw err;
  }
  await enqueue(tx, [putDomain(compileDomain(toSettings(row)))]);
  await recordAudit(tx, actor, 'domain.create', { type: 'domain', id: row.id }, { hostname });
  return row;
}

export async function getDomain(db: Queryable, auth: AuthContext, id: string, lock = false): Promise<DomainRow> {
  const { rows } = await db.query<DomainRow>(
    `SELECT ${DOMAIN_COLUMNS} FROM domains WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NULL${lock ? ' FOR UPDATE' : ''}`,
    [id, auth.workspaceId],
  );
  const row = rows[0];
  if (!row || !canUseDomain(auth, row.hostname)) throw errors.domain_not_found({ id });
  return row;
}

export async function listDomains(db: Queryable, auth: AuthContext, opts: { limit: number; after: string | null }): Promise<DomainRow[]> {
  const { rows } = await db.query<DomainRow>(
    `SELECT ${DOMAIN_COLUMNS} FROM domains
     WHERE workspace_id = $1 AND deleted_at IS NULL AND ($2::text[] IS NULL OR hostname = ANY($2))
       AND ($3::text IS NULL OR id < $3)
     ORDER BY id DESC LIMIT $4`,
    [auth.workspaceId, auth.domains, opts.after, opts.limit],
  );
  return rows;
}

/**
 * Updates settings. A change to what compiled links embed (UTM template, default status)
 * recompiles every live link of the domain in the same transaction.
 */
export async function updateDomain(tx: PoolClient, actor: Actor, id: string, input: DomainInput): Promise<DomainRow> {
  const current = await getDomain(tx, actor.auth, id, true);
  const urls = fallbackUrls(input);
  const { rows } = await tx.query<DomainRow>(
    `UPDATE domains SET
       not_found_url = CASE WHEN $3 THEN $4 ELSE not_found_url END,
       expired_url = CASE WHEN $5 THEN $6 ELSE expired_url END,
       utm_template = CASE WHEN $7 THEN $8::jsonb ELSE utm_template END,
       default_redirect_status = CASE WHEN $9 THEN $10::smallint ELSE default_redirect_status END,
       version = version + 1, updated_at = now()
     WHERE id = $1 AND workspace_id = $2 RETURNING ${DOMAIN_COLUMNS}`,
    [id, actor.auth.workspaceId,
      urls.not_found_url !== undefined, urls.not_found_url ?? null,
      urls.expired_url !== undefined, urls.expired_url ?? null,
      input.utm_template !== undefined, input.utm_template ? JSON.stringify(input.utm_template) : null,
      input.default_redirect_status !== undefined, input.default_redirect_status ?? null],
  );
  const row = rows[0]!;
  const entries = [putDomain(compileDomain(toSettings(row)))];
  const recompile = input.utm_template !== undefined || input.default_redirect_status !== undefined;
  if (recompile) entries.push(...(await republishDomainLinks(tx, current, row)));
  await enqueue(tx, entries);
  await recordAudit(tx, actor, 'domain.update', { type: 'domain', id }, { before: { ...current }, input: { ...input } });
  return row;
}

export async function deleteDomain(tx: PoolClient, actor: Actor, id: string): Promise<DomainRow> {
  const row = await getDomain(tx, actor.auth, id, true);
  const { rows } = await tx.query<{ n: string }>(
    `SELECT count(*) AS n FROM (SELECT 1 FROM links WHERE domain_id = $1 AND deleted_at IS NULL LIMIT 1) x`,
    [id],
  );
  if (Number(rows[0]!.n) > 0) throw errors.domain_in_use({ id, hostname: row.hostname }, 'delete or move the domain\'s links first');
  await tx.query('UPDATE domains SET deleted_at = now(), updated_at = now() WHERE id = $1', [id]);
  await enqueue(tx, [delDomain(row.hostname)]);
  await recordAudit(tx, actor, 'domain.delete', { type: 'domain', id }, { hostname: row.hostname });
  return row;
}
