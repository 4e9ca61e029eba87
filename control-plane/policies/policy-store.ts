/** Stored policies: the workspace's rules (domain_id '') and each domain's overrides. */
import { normalizeHostname } from '../../shared/index.js';
import type { Queryable } from '../db/pool.js';
import { errors } from '../errors.js';
import { DEFAULT_POLICY, effectivePolicy, type PolicyOverrides, type PolicyRules } from './policy-schema.js';

const WORKSPACE = '';

/** The policies that apply to links on `domainIds`, by domain id (one query). */
export async function effectivePolicies(db: Queryable, workspaceId: string, domainIds: readonly string[]): Promise<Map<string, PolicyRules>> {
  const { rows } = await db.query<{ domain_id: string; rules: PolicyOverrides }>({
    name: 'policies_for_domains',
    text: `SELECT domain_id, rules FROM policies WHERE workspace_id = $1 AND (domain_id = '' OR domain_id = ANY($2::text[]))`,
    values: [workspaceId, domainIds],
  });
  const ws = rows.find((r) => r.domain_id === WORKSPACE)?.rules ?? null;
  const out = new Map<string, PolicyRules>();
  for (const id of domainIds) out.set(id, effectivePolicy(ws, rows.find((r) => r.domain_id === id)?.rules ?? null));
  return out;
}

/**
 * What the policy of links on one domain is made of, for a writer that caches it: the effective
 * rules, and `stored` — the stored rows as one JSON object (domain_id → rules) that
 * `POLICY_UNCHANGED_SQL` compares with what is stored when the write runs, so a cached copy is
 * never applied after another control plane changed it.
 */
export interface PolicyInputs {
  rules: PolicyRules;
  stored: string;
}

export async function policyInputs(db: Queryable, workspaceId: string, domainId: string): Promise<PolicyInputs> {
  const { rows } = await db.query<{ domain_id: string; rules: PolicyOverrides }>({
    name: 'policies_for_domains',
    text: `SELECT domain_id, rules FROM policies WHERE workspace_id = $1 AND (domain_id = '' OR domain_id = ANY($2::text[]))`,
    values: [workspaceId, [domainId]],
  });
  const ws = rows.find((r) => r.domain_id === WORKSPACE)?.rules ?? null;
  const dom = rows.find((r) => r.domain_id === domainId)?.rules ?? null;
  return { rules: effectivePolicy(ws, dom), stored: JSON.stringify(Object.fromEntries(rows.map((r) => [r.domain_id, r.rules]))) };
}

/** SQL true when the stored policy rows of (workspace `ws`, domain `dom`) equal `stored` (a PolicyInputs.stored). */
export const policyUnchangedSql = (ws: string, dom: string, stored: string): string =>
  `(SELECT coalesce(jsonb_object_agg(domain_id, rules), '{}'::jsonb) FROM policies WHERE workspace_id = ${ws} AND (domain_id = '' OR domain_id = ${dom})) = ${stored}::jsonb`;

export async function workspacePolicy(db: Queryable, workspaceId: string): Promise<PolicyRules> {
  return effectivePolicy(await storedRules(db, workspaceId, WORKSPACE), null);
}

export async function domainOverrides(db: Queryable, workspaceId: string, domainId: string): Promise<PolicyOverrides> {
  return (await storedRules(db, workspaceId, domainId)) ?? {};
}

async function storedRules(db: Queryable, workspaceId: string, domainId: string): Promise<PolicyOverrides | null> {
  const { rows } = await db.query<{ rules: PolicyOverrides }>('SELECT rules FROM policies WHERE workspace_id = $1 AND domain_id = $2', [workspaceId, domainId]);
  return rows[0]?.rules ?? null;
}

/** Canonical host patterns (lower case, IDN as punycode), or 422 naming the entry. */
function checkedHosts(list: string[] | undefined, field: string): string[] | undefined {
  return list?.map((p, i) => {
    const wildcard = p.startsWith('*.');
    const host = normalizeHostname(wildcard ? p.slice(2) : p);
    if (!host) throw errors.invalid_hostname({ field: `${field}[${i}]`, reason: 'invalid' }, `${field}[${i}]: "${p}" is not a host or *.host pattern`);
    return wildcard ? `*.${host}` : host;
  });
}

/** The given rules in canonical form (only those given). */
export function canonicalRules(input: PolicyOverrides): PolicyOverrides {
  const out: PolicyOverrides = { ...input };
  const allow = checkedHosts(input.destination_hosts_allow, 'destination_hosts_allow');
  const deny = checkedHosts(input.destination_hosts_deny, 'destination_hosts_deny');
  if (allow) out.destination_hosts_allow = [...new Set(allow)];
  if (deny) out.destination_hosts_deny = [...new Set(deny)];
  if (input.banned_path_words) out.banned_path_words = [...new Set(input.banned_path_words.map((w) => w.normalize('NFC')))];
  return out;
}

/** Replaces the workspace policy (rules left out are reset to their defaults). */
export async function putWorkspacePolicy(db: Queryable, workspaceId: string, keyId: string | null, input: PolicyOverrides): Promise<PolicyRules> {
  const rules: PolicyRules = { ...DEFAULT_POLICY, ...canonicalRules(input) };
  await upsert(db, workspaceId, WORKSPACE, keyId, rules);
  return rules;
}

/** Replaces a domain's overrides (rules left out follow the workspace policy). */
export async function putDomainOverrides(db: Queryable, workspaceId: string, domainId: string, keyId: string | null, input: PolicyOverrides): Promise<PolicyOverrides> {
  const rules = canonicalRules(input);
  await upsert(db, workspaceId, domainId, keyId, rules);
  return rules;
}

async function upsert(db: Queryable, workspaceId: string, domainId: string, keyId: string | null, rules: PolicyOverrides): Promise<void> {
  await db.query(
    `INSERT INTO policies (workspace_id, domain_id, rules, updated_by) VALUES ($1, $2, $3, $4)
     ON CONFLICT (workspace_id, domain_id) DO UPDATE SET rules = EXCLUDED.rules, updated_by = EXCLUDED.updated_by, updated_at = now()`,
    [workspaceId, domainId, JSON.stringify(rules), keyId],
  );
}
