/**
 * Writes what nodes must serve into the link outbox, inside the caller's transaction
 * ("persist, then publish": only the relay talks to NATS). NOTIFY wakes the relay at commit.
 */
import {
  domainKvKey,
  encodeKvValue,
  linkKvKey,
  type CompiledDomain,
  type CompiledLink,
} from '../../shared/index.js';
import type { Queryable } from '../db/pool.js';
import { currentTraceparent } from '../tracing/index.js';

export const OUTBOX_CHANNEL = 'linkplane_outbox';

export interface OutboxEntry {
  key: string;
  op: 'put' | 'del';
  payload: Uint8Array | null;
}

export const putLink = (c: CompiledLink): OutboxEntry => ({ key: linkKvKey(c.domain, c.path), op: 'put', payload: encodeKvValue(c) });
export const delLink = (domain: string, path: string): OutboxEntry => ({ key: linkKvKey(domain, path), op: 'del', payload: null });
export const putDomain = (c: CompiledDomain): OutboxEntry => ({ key: domainKvKey(c.hostname), op: 'put', payload: encodeKvValue(c) });
export const delDomain = (hostname: string): OutboxEntry => ({ key: domainKvKey(hostname), op: 'del', payload: null });

/** A view of the bytes, without copying (encodeKvValue already returns a Buffer). */
const asBuffer = (p: Uint8Array): Buffer => (Buffer.isBuffer(p) ? p : Buffer.from(p.buffer, p.byteOffset, p.byteLength));

/**
 * One multi-row INSERT for any number of entries, in order, and the NOTIFY in the same statement (one
 * round trip). Rows keep the active trace context (`traceparent`): the relay continues that trace.
 */
export async function enqueue(db: Queryable, entries: OutboxEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await db.query({
    name: 'link_outbox_enqueue',
    text: `WITH ins AS (
       INSERT INTO link_outbox (kv_key, op, payload, traceparent)
       SELECT k, o, p, $4::text FROM unnest($1::text[], $2::text[], $3::bytea[]) WITH ORDINALITY AS t(k, o, p, n) ORDER BY n
     )
     SELECT pg_notify('${OUTBOX_CHANNEL}', '')`,
    values: [entries.map((e) => e.key), entries.map((e) => e.op), entries.map((e) => (e.payload ? asBuffer(e.payload) : null)), currentTraceparent()],
  });
}
