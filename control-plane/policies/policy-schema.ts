/**
 * A link policy's schema: the rules a workspace sets for every link, and the overrides a domain
 * sets on top (only the rules it names). The types derive from the schemas.
 */
import { Type, type Static } from '@sinclair/typebox';
import { UTM_KEYS } from '../../shared/index.js';
import { Id, Nullable } from '../http/schemas.js';

const HostPattern = Type.String({
  minLength: 1, maxLength: 255, pattern: '^(\\*\\.)?[^*\\s/:@]+$',
  description: 'an exact host (`shop.example.com`) or a wildcard for its subdomains (`*.example.com`, not the apex)',
});

const RULES = {
  https_only: Type.Boolean({ description: 'every destination (and routing target) must be https' }),
  destination_hosts_allow: Type.Array(HostPattern, { maxItems: 500, description: 'when not empty, every destination host must match one' }),
  destination_hosts_deny: Type.Array(HostPattern, { maxItems: 500, description: 'no destination host may match one' }),
  banned_path_words: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), {
    maxItems: 500, description: 'words a path may not contain (case- and confusable-insensitive: Unicode TR39 skeletons)',
  }),
  max_ttl_days: Nullable(Type.Integer({ minimum: 1, maximum: 36_500, description: 'links must expire within this many days (null: no limit)' })),
  required_utm: Type.Array(Type.Union(UTM_KEYS.map((k) => Type.Literal(k))), {
    maxItems: UTM_KEYS.length, uniqueItems: true, description: 'UTM keys every link must carry after the domain template merge',
  }),
  require_approval: Type.Boolean({ description: 'new and re-pointed links wait as status "pending" until a reviewer approves them' }),
};

export const Policy = Type.Object(RULES, { $id: 'Policy', additionalProperties: false, description: 'a workspace link policy (every rule)' });
export type PolicyRules = Static<typeof Policy>;

/** PUT /v1/policy: the rules to set; a rule left out is reset to its default (off). */
export const PolicyPut = Type.Partial(Type.Object(RULES, { additionalProperties: false }), { additionalProperties: false });
export type PolicyOverrides = Static<typeof PolicyPut>;

export const DomainPolicy = Type.Object(
  {
    domain_id: Id('dom'),
    overrides: PolicyPut,
    effective: Type.Ref('Policy'),
  },
  { $id: 'DomainPolicy', additionalProperties: false, description: "a domain's overrides (the rules it sets) and the policy its links follow" },
);

export const DEFAULT_POLICY: PolicyRules = {
  https_only: false,
  destination_hosts_allow: [],
  destination_hosts_deny: [],
  banned_path_words: [],
  max_ttl_days: null,
  required_utm: [],
  require_approval: false,
};

/** The rules a domain's links follow: the workspace's, with the domain's overrides on top. */
export function effectivePolicy(workspace: PolicyOverrides | null, domain: PolicyOverrides | null): PolicyRules {
  return { ...DEFAULT_POLICY, ...(workspace ?? {}), ...(domain ?? {}) };
}

export const PolicyCheckBody = Type.Object(
  {
    policy: Type.Optional(PolicyPut),
    domain_id: Type.Optional(Id('dom', 'check only this domain; with `domain_policy`, as if its overrides were these')),
    domain_policy: Type.Optional(PolicyPut),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
    cursor: Type.Optional(Type.String({ maxLength: 512 })),
  },
  {
    additionalProperties: false,
    description: 'without `policy`, the current workspace policy; with it, as if it were the workspace policy (a PUT body)',
  },
);

export const PolicyViolation = Type.Object(
  { rule: Type.String(), field: Type.String(), message: Type.String() },
  { additionalProperties: true },
);
export type Violation = Static<typeof PolicyViolation> & Record<string, unknown>;

export const PolicyCheckResult = Type.Object({
  data: Type.Array(Type.Object({
    link_id: Id('ln'),
    domain: Type.String(),
    path: Type.String(),
    violations: Type.Array(PolicyViolation),
  })),
  checked: Type.Integer({ description: 'live links examined for this page' }),
  next_cursor: Nullable(Type.String()),
});
