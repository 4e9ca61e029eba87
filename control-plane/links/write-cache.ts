/**
 * What a single link write reads before it writes — the domain's settings, the link policy and,
 * for an update, the link's row — kept in process, so an API create or update costs no query for them. Nothing here is trusted
 * blindly: the write statement (link-write-one.ts) checks, while it runs, that the domain row still
 * has the cached version and that the stored policy rows still equal the cached ones, and writes
 * nothing otherwise; the writer then forgets the entries and tries again with fresh ones. So a
 * domain or policy changed by another control plane applies to the very next write here.
 */
import type { Queryable } from '../db/pool.js';
import { domainForWrite } from '../domains/domain-service.js';
import type { DomainRow } from '../domains/domain-row.js';
import type { AuthContext } from '../keys/key-store.js';
import { policyInputs, type PolicyInputs } from '../policies/policy-store.js';
import type { LinkRow } from './link-values.js';
import { normalizeHostname } from '../../shared/index.js';

/** Entries kept per map; past it the map starts over (a bound, not an LRU: misses only cost a query). */
const MAX_ENTRIES = 10_000;
/** Link rows kept (each up to a few KB with its metadata). */
const MAX_ROWS = 5_000;

export class LinkWriteCache {
  private readonly domains = new Map<string, DomainRow>();
  private readonly policies = new Map<string, PolicyInputs>();
  /**
   * Link rows as this control plane last wrote them, for the next update of the same link: the
   * update statement writes only at the version it read (every change of a link bumps its
   * version), so a row changed elsewhere since is not written over — the update reads the row
   * again and retries. Reads (GET) never use these.
   */
  private readonly rows = new Map<string, LinkRow>();

  /** Like `domainForWrite` (same errors), from the cache when it holds the hostname. */
  async domain(db: Queryable, auth: AuthContext, hostname: string): Promise<DomainRow> {
    const host = normalizeHostname(hostname) ?? hostname.toLowerCase();
    const hit = this.domains.get(host);
    // a hit that the key may not use is looked up again: the cached row may be stale
    if (hit && hit.workspace_id === auth.workspaceId && (auth.domains === null || auth.domains.includes(hit.hostname))) return hit;
    const row = await domainForWrite(db, auth, host);
    if (this.domains.size >= MAX_ENTRIES) this.domains.clear();
    this.domains.set(row.hostname, row);
    return row;
  }

  async policy(db: Queryable, workspaceId: string, domainId: string): Promise<PolicyInputs> {
    const key = `${workspaceId}\u0000${domainId}`;
    const hit = this.policies.get(key);
    if (hit) return hit;
    const p = await policyInputs(db, workspaceId, domainId);
    if (this.policies.size >= MAX_ENTRIES) this.policies.clear();
    this.policies.set(key, p);
    return p;
  }

  /** The row as last written here, if kept (see `rows`). */
  row(id: string): LinkRow | undefined {
    return this.rows.get(id);
  }

  /** Keeps a row this control plane just wrote (live); a deleted one is dropped. */
  keepRow(row: LinkRow): void {
    if (row.deleted_at !== null) {
      this.rows.delete(row.id);
      return;
    }
    if (this.rows.size >= MAX_ROWS) this.rows.clear();
    this.rows.set(row.id, row);
  }

  /** Forgets a row (written another way here, or found changed). */
  dropRow(id: string): void {
    this.rows.delete(id);
  }

  /** Drops what a write found stale. */
  forget(domain: DomainRow): void {
    this.domains.delete(domain.hostname);
    this.policies.delete(`${domain.workspace_id}\u0000${domain.id}`);
  }

  /** Drops every cached policy of a workspace (its policy was just replaced here). */
  forgetWorkspacePolicies(workspaceId: string): void {
    for (const k of this.policies.keys()) if (k.startsWith(`${workspaceId}\u0000`)) this.policies.delete(k);
  }
}
