/**
 * Which workspaces want click webhook events. At tens of thousands of clicks per second, writing
 * an event row per click for workspaces nobody listens to would be pure waste, so ingest asks
 * this first: workspaces with an enabled, live webhook endpoint whose filter takes the type
 * (exact, `prefix.*` or `*`, as in webhook_filter_matches of migration 200). Cached for `ttlMs`;
 * an endpoint created just now starts receiving click events within that time.
 */
import type { WebhookEventType } from '../../shared/index.js';
import type { Queryable } from '../db/pool.js';

export const CLICK_EVENT_TYPES = ['click.created', 'qr.scan.created', 'rule.variant_chosen'] as const satisfies readonly WebhookEventType[];
export type ClickEventType = (typeof CLICK_EVENT_TYPES)[number];

/** workspace id → the click event types it subscribes to. */
export type Subscriptions = ReadonlyMap<string, ReadonlySet<ClickEventType>>;

export class ClickEventSubscribers {
  private cached: { at: number; value: Subscriptions } | null = null;
  private loading: Promise<Subscriptions> | null = null;

  constructor(private readonly db: Queryable, private readonly ttlMs: number) {}

  async get(now = Date.now()): Promise<Subscriptions> {
    if (this.cached && now - this.cached.at < this.ttlMs) return this.cached.value;
    this.loading ??= this.load()
      .then((value) => {
        this.cached = { at: Date.now(), value };
        return value;
      })
      .finally(() => {
        this.loading = null;
      });
    return this.loading;
  }

  private async load(): Promise<Subscriptions> {
    const exists = await this.db.query<{ t: string | null }>(`SELECT to_regclass('webhook_endpoints')::text AS t`);
    if (!exists.rows[0]?.t) return new Map();
    const { rows } = await this.db.query<{ workspace_id: string; type: ClickEventType }>(
      `SELECT e.workspace_id, t.type
         FROM webhook_endpoints e CROSS JOIN unnest($1::text[]) AS t(type)
        WHERE e.enabled AND e.deleted_at IS NULL
          AND EXISTS (SELECT 1 FROM unnest(e.event_types) AS p
                       WHERE p = t.type OR p = '*' OR (right(p, 2) = '.*' AND starts_with(t.type, left(p, -1))))
        GROUP BY 1, 2`,
      [CLICK_EVENT_TYPES],
    );
    const out = new Map<string, Set<ClickEventType>>();
    for (const r of rows) {
      let s = out.get(r.workspace_id);
      if (!s) out.set(r.workspace_id, (s = new Set()));
      s.add(r.type);
    }
    return out;
  }
}
