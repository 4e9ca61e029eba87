import { describe, expect, it } from 'vitest';
import type { StoreMeta } from '../store/writer.js';
import { planSync, type StreamFacts } from './plan.js';

const stream: StreamFacts = { created: '2026-01-01T00:00:00Z', firstSeq: 1, lastSeq: 500, messages: 400, subjects: 350 };
const meta = (m: Partial<StoreMeta> = {}): StoreMeta => ({ format: 1, bucket: 'lp_links', streamCreated: stream.created, seq: 300, ...m });

describe('planSync', () => {
  const cases: { name: string; meta: StoreMeta | null; keys?: number; stream?: Partial<StreamFacts>; expect: ReturnType<typeof planSync> }[] = [
    { name: 'empty store replays', meta: null, expect: { kind: 'replay', reason: 'empty_store' } },
    { name: 'resumes after the stored sequence', meta: meta(), expect: { kind: 'resume', fromSeq: 301 } },
    { name: 'resumes when fully caught up', meta: meta({ seq: 500 }), expect: { kind: 'resume', fromSeq: 501 } },
    { name: 'resumes when older messages were superseded but the next one is there', meta: meta(), stream: { firstSeq: 301 }, expect: { kind: 'resume', fromSeq: 301 } },
    { name: 'replays when the next needed message is gone', meta: meta(), stream: { firstSeq: 302 }, expect: { kind: 'replay', reason: 'sequence_gone' } },
    { name: 'an emptied stream past our sequence is nothing to resume from', meta: meta({ seq: 500 }), stream: { firstSeq: 501, messages: 0 }, expect: { kind: 'resume', fromSeq: 501 } },
    { name: 'a purged stream we had not caught up with is replayed (to an empty store)', meta: meta({ seq: 300 }), stream: { firstSeq: 501, messages: 0 }, expect: { kind: 'replay', reason: 'sequence_gone' } },
    { name: 'a stream purged exactly at our sequence: more stored keys than keys in the stream', meta: meta({ seq: 500 }), keys: 300, stream: { firstSeq: 501, lastSeq: 502, messages: 2, subjects: 2 }, expect: { kind: 'replay', reason: 'keys_gone' } },
    { name: 'tombstones count as keys: as many stored keys as subjects is fine', meta: meta(), keys: 350, expect: { kind: 'resume', fromSeq: 301 } },
    { name: 'a server that does not count subjects skips that check', meta: meta(), keys: 10_000, stream: { subjects: null }, expect: { kind: 'resume', fromSeq: 301 } },
    { name: 'replays when the bucket was recreated', meta: meta(), stream: { created: '2026-02-01T00:00:00Z' }, expect: { kind: 'replay', reason: 'stream_recreated' } },
    { name: 'replays when the stream is behind the store', meta: meta({ seq: 900 }), expect: { kind: 'replay', reason: 'stream_behind_store' } },
    { name: 'replays a store of another bucket', meta: meta({ bucket: 'other_links' }), expect: { kind: 'replay', reason: 'other_bucket' } },
    { name: 'replays a store of another format', meta: meta({ format: 0 }), expect: { kind: 'replay', reason: 'format_changed' } },
  ];
  for (const c of cases) {
    it(c.name, () => expect(planSync(c.meta, c.keys ?? 100, { ...stream, ...c.stream }, 'lp_links', 1)).toEqual(c.expect));
  }
});
