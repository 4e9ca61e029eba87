import { connect, headers, type Msg } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { KV_OPERATION_HEADER, OUTBOX_SEQ_HEADER } from '../../shared/index.js';
import { TEST_NATS_URL, testPrefix } from '../../shared/testing/index.js';
import { kvHeadersOf, parseKvHeaders } from './kv-headers.js';

const block = (s: string) => new TextEncoder().encode(s);

describe('parseKvHeaders: the KV operation and outbox sequence from a raw header block', () => {
  const cases: { name: string; raw: string; operation: string; outboxSeq: number | null }[] = [
    { name: 'a put with its outbox sequence', raw: 'NATS/1.0\r\nLp-Outbox-Seq: 123456\r\n\r\n', operation: 'PUT', outboxSeq: 123456 },
    { name: 'a delete marker', raw: 'NATS/1.0\r\nLp-Outbox-Seq: 7\r\nKV-Operation: DEL\r\n\r\n', operation: 'DEL', outboxSeq: 7 },
    { name: 'a purge, other headers around', raw: 'NATS/1.0\r\ntraceparent: 00-ab-cd-01\r\nKV-Operation: PURGE\r\nNats-Msg-Id: x\r\n\r\n', operation: 'PURGE', outboxSeq: null },
    { name: 'names in another case, blanks around values', raw: 'NATS/1.0\r\nlp-outbox-seq:   42 \r\nkv-operation:DEL\r\n\r\n', operation: 'DEL', outboxSeq: 42 },
    { name: 'a status line with a code', raw: 'NATS/1.0 100 Idle\r\nLp-Outbox-Seq: 9\r\n\r\n', operation: 'PUT', outboxSeq: 9 },
    { name: 'no header of ours', raw: 'NATS/1.0\r\nfoo: bar\r\n\r\n', operation: 'PUT', outboxSeq: null },
    { name: 'a sequence that is not a positive integer', raw: 'NATS/1.0\r\nLp-Outbox-Seq: 12a\r\n\r\n', operation: 'PUT', outboxSeq: null },
    { name: 'a zero sequence', raw: 'NATS/1.0\r\nLp-Outbox-Seq: 0\r\n\r\n', operation: 'PUT', outboxSeq: null },
    { name: 'a sequence past the safe integers', raw: 'NATS/1.0\r\nLp-Outbox-Seq: 99999999999999999\r\n\r\n', operation: 'PUT', outboxSeq: null },
    { name: 'an unknown operation counts as a put', raw: 'NATS/1.0\r\nKV-Operation: DELETE\r\n\r\n', operation: 'PUT', outboxSeq: null },
    { name: 'a name that only starts like ours', raw: 'NATS/1.0\r\nLp-Outbox-Seq-Old: 5\r\nKV-Operations: DEL\r\n\r\n', operation: 'PUT', outboxSeq: null },
    { name: 'the first occurrence wins', raw: 'NATS/1.0\r\nLp-Outbox-Seq: 5\r\nLp-Outbox-Seq: 6\r\n\r\n', operation: 'PUT', outboxSeq: 5 },
    { name: 'nothing after the blank line is read', raw: 'NATS/1.0\r\n\r\nLp-Outbox-Seq: 5\r\n', operation: 'PUT', outboxSeq: null },
    { name: 'a truncated block', raw: 'NATS/1.0\r\nLp-Outbox-Seq: 77', operation: 'PUT', outboxSeq: 77 },
  ];
  cases.forEach((c) =>
    it(c.name, () => {
      expect(parseKvHeaders(block(c.raw))).toEqual({ operation: c.operation, outboxSeq: c.outboxSeq });
    }),
  );

  it('falls back to the public headers of a message that does not expose its raw bytes', () => {
    const h = headers();
    h.set(OUTBOX_SEQ_HEADER, '31');
    h.set(KV_OPERATION_HEADER, 'DEL');
    expect(kvHeadersOf({ headers: h })).toEqual({ operation: 'DEL', outboxSeq: 31 });
    expect(kvHeadersOf({})).toEqual({ operation: 'PUT', outboxSeq: null });
  });

  it('reads what nats.js reads from real messages (raw path), with and without headers', async () => {
    const nc = await connect({ servers: TEST_NATS_URL });
    try {
      const subject = `${testPrefix('kvh')}.headers`;
      const got: Msg[] = [];
      const sub = nc.subscribe(subject, { max: 3, callback: (_err, m) => void got.push(m) });
      const put = headers();
      put.set(OUTBOX_SEQ_HEADER, '1234567');
      put.set('traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
      const del = headers();
      del.set(OUTBOX_SEQ_HEADER, '1234568');
      del.set(KV_OPERATION_HEADER, 'DEL');
      nc.publish(subject, new Uint8Array([1, 2, 3]), { headers: put });
      nc.publish(subject, new Uint8Array(0), { headers: del });
      nc.publish(subject, new Uint8Array([4]));
      await sub.closed;
      expect((got[0] as unknown as { _rdata?: unknown })._rdata).toBeInstanceOf(Uint8Array); // the raw path is taken
      expect(got.map((m) => kvHeadersOf(m))).toEqual([
        { operation: 'PUT', outboxSeq: 1234567 },
        { operation: 'DEL', outboxSeq: 1234568 },
        { operation: 'PUT', outboxSeq: null },
      ]);
      // the same as through nats.js's own decode
      expect(got.map((m) => [m.headers?.get(KV_OPERATION_HEADER) ?? '', m.headers?.get(OUTBOX_SEQ_HEADER) ?? ''])).toEqual([['', '1234567'], ['DEL', '1234568'], ['', '']]);
      expect(Array.from(got[0]!.data)).toEqual([1, 2, 3]);
    } finally {
      await nc.close();
    }
  });
});
