import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger, storeKey } from '../../shared/index.js';
import { compiled, compiledDomain } from '../test/fixtures.js';
import { REPO_ROOT } from '../../shared/testing/index.js';
import { checkStoreFile } from './check-store.js';
import { StoreReader } from './reader.js';
import { StoreFiles } from './store-files.js';
import { encodeDomain, encodeLink } from './value-codec.js';
import { STORE_FORMAT, StoreWriter, type StoreMeta, type StoreOp } from './writer.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'lp-store-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const log = createLogger({ name: 'test', level: 'silent' });
/** A reader sees a commit from its next event-loop turn (lmdb-js renews read snapshots per turn). */
const nextTurn = () => new Promise((r) => setTimeout(r, 1));
const meta = (seq: number): StoreMeta => ({ format: STORE_FORMAT, bucket: 'b', streamCreated: 'c', seq });

function linkOp(overrides: Parameters<typeof compiled>[0], stamp: number): StoreOp {
  const l = compiled(overrides);
  return { db: 'links', key: storeKey(l.domain, l.path), value: encodeLink(l, Buffer.from(JSON.stringify(l)), stamp) };
}

describe('StoreWriter + StoreReader', () => {
  it('applies a batch and its sequence in one transaction; readers see it', async () => {
    const path = join(tempDir(), 'gen-1.mdb');
    const w = StoreWriter.open(path);
    expect(w.meta()).toBeNull();
    const ops = Array.from({ length: 1000 }, (_, i) => linkOp({ path: `k${i}`, destinationUrl: `https://example.com/${i}` }, i + 1));
    const d = compiledDomain({ notFoundUrl: 'https://example.com/404' });
    ops.push({ db: 'domains', key: d.hostname, value: encodeDomain(d, Buffer.from(JSON.stringify(d)), 1001) });
    w.apply(ops, meta(1001));
    expect(w.meta()).toEqual(meta(1001));
    expect(w.stats()).toMatchObject({ links: 1000, domains: 1 });
    const r = new StoreReader(path, 100);
    expect(r.link('go.example.com/k7')).toMatchObject({ destination: 'https://example.com/7', stamp: 8, redirectStatus: 302, routing: null });
    const withIds = r.link('go.example.com/k7')!;
    expect(withIds.linkId).not.toBe('');
    // without ids (no access log): the same record, its ids left '' (the click ring reads them from
    // `value`, lmdb-js's reused read buffer: compared by the ids' bytes, not whole)
    const { value: v1, ...fields } = withIds;
    const ids = v1!.toString('utf8', withIds.idAt, withIds.wsEnd);
    const { value: v2, ...noIds } = r.link('go.example.com/k7', false)!;
    expect(noIds).toEqual({ ...fields, linkId: '', workspaceId: '' });
    expect(v2!.toString('utf8', noIds.idAt, noIds.wsAt)).toBe(withIds.linkId);
    expect(v2!.toString('utf8', noIds.wsAt, noIds.wsEnd)).toBe(withIds.workspaceId);
    expect(ids).toBe(withIds.linkId + withIds.workspaceId);
    expect(r.link('go.example.com/nope')).toBeNull();
    expect(r.domain('go.example.com')).toMatchObject({ notFoundUrl: 'https://example.com/404', expiredUrl: null });
    expect(r.domain('other.example.com')).toBeNull();
    w.apply([{ db: 'links', key: 'go.example.com/k7', value: null }], meta(1002));
    await nextTurn();
    expect(r.link('go.example.com/k7')).toBeNull();
    await r.close();
    await w.close();
  });

  it('decodes rules once per version and picks up a new version at once', async () => {
    const path = join(tempDir(), 'gen-1.mdb');
    const w = StoreWriter.open(path);
    const r = new StoreReader(path, 100);
    const v1 = linkOp({ path: 'ab', routing: { geo: [{ country: 'SG', url: 'https://sg.example.com/' }] } }, 1);
    w.apply([v1], meta(1));
    const first = r.link('go.example.com/ab')!;
    expect(first.routing?.rules[0]?.url).toBe('https://sg.example.com/');
    expect(r.link('go.example.com/ab')!.routing).toBe(first.routing); // same object: cached, not re-decoded
    const v2 = linkOp({ path: 'ab', routing: { geo: [{ country: 'SG', url: 'https://sg2.example.com/' }] } }, 2);
    w.apply([v2], meta(2));
    await nextTurn();
    expect(r.link('go.example.com/ab')!.routing?.rules[0]?.url).toBe('https://sg2.example.com/');
    await r.close();
    await w.close();
  });

  it('never throws on keys LMDB cannot hold or values it did not write', async () => {
    const path = join(tempDir(), 'gen-1.mdb');
    const w = StoreWriter.open(path);
    w.apply([{ db: 'links', key: 'go.example.com/garbage', value: Buffer.from('not a stored link') }], meta(1));
    const r = new StoreReader(path, 100);
    expect(r.link(`go.example.com/${'x'.repeat(5000)}`)).toBeNull();
    expect(r.link(`go.example.com/${'€'.repeat(590)}`)).toBeNull();
    expect(r.link('go.example.com/garbage')).toBeNull();
    expect(r.link('')).toBeNull();
    expect(r.domain('x'.repeat(300))).toBeNull();
    await r.close();
    await w.close();
  });
});

describe('StoreFiles (generations under LMDB_PATH)', () => {
  it('starts a fresh generation, then reopens it with its sequence', async () => {
    const dir = tempDir();
    const a = StoreFiles.open(dir, log);
    expect(a.currentPath).toBe(join(dir, 'gen-1.mdb'));
    a.current.apply([linkOp({ path: 'x' }, 5)], meta(5));
    await a.close();
    const b = StoreFiles.open(dir, log);
    expect(b.currentPath).toBe(join(dir, 'gen-1.mdb'));
    expect(b.current.meta()?.seq).toBe(5);
    await b.close();
  });

  it('replaces a damaged store with a fresh, empty generation', async () => {
    const dir = tempDir();
    const a = StoreFiles.open(dir, log);
    a.current.apply([linkOp({ path: 'x' }, 5)], meta(5));
    await a.close();
    writeFileSync(join(dir, 'gen-1.mdb'), Buffer.alloc(64 * 1024, 0xab));
    // the check runs the compiled script in a child process: lmdb-js segfaults on such a file
    const check = (p: string) => checkStoreFile(p, join(REPO_ROOT, 'dist', 'data-plane', 'store', 'check-store.js'));
    expect(check(join(dir, 'gen-1.mdb')).ok).toBe(false);
    const b = StoreFiles.open(dir, log, check);
    expect(b.currentPath).toBe(join(dir, 'gen-2.mdb'));
    expect(b.current.meta()).toBeNull();
    expect(readdirSync(dir).filter((f) => f.startsWith('gen-1'))).toEqual([]);
    await b.close();
  });

  it('builds the next generation beside the served one and swaps atomically', async () => {
    const dir = tempDir();
    const files = StoreFiles.open(dir, log);
    files.current.apply([linkOp({ path: 'old' }, 1)], meta(1));
    const reader = new StoreReader(files.currentPath, 10);
    const next = files.createNext();
    next.writer.apply([linkOp({ path: 'new' }, 1)], meta(1));
    expect(reader.link('go.example.com/old')).not.toBeNull(); // still serving the old one
    await files.promote(next, (path) => reader.reopen(path));
    expect(readFileSync(join(dir, 'CURRENT'), 'utf8').trim()).toBe('gen-2.mdb');
    expect(reader.link('go.example.com/old')).toBeNull();
    expect(reader.link('go.example.com/new')).not.toBeNull();
    expect(existsSync(join(dir, 'gen-1.mdb'))).toBe(false);
    await reader.close();
    await files.close();
  });
});

describe('store keys', () => {
  it('a store written with lmdb-js default keys (before the UTF-8 key encoder) reads the same, in the same order', async () => {
    const { open } = await import('lmdb');
    const path = join(tempDir(), 'old-keys.mdb');
    const paths = ['a', 'Z', 'a/b', 'ä', 'straße', '日本', 'a-b', 'b', '0', '~x', 'x'.repeat(150), 'é'.repeat(40)];
    const env = open({ path, maxDbs: 4 });
    // the databases as an earlier build opened them: lmdb-js's default (ordered-binary) string keys
    const links = env.openDB<Buffer, string>({ name: 'links', encoding: 'binary' });
    await env.openDB<Buffer, string>({ name: 'domains', encoding: 'binary' }).put('go.example.com', encodeDomain(compiledDomain({}), Buffer.from('{}'), 1));
    for (const [i, p] of paths.entries()) {
      const l = compiled({ path: p, destinationUrl: `https://example.com/${i}` });
      await links.put(storeKey(l.domain, l.path), encodeLink(l, Buffer.from(JSON.stringify(l)), i + 1));
    }
    const before = [...links.getKeys()];
    await env.close();
    const r = new StoreReader(path, 10);
    for (const [i, p] of paths.entries()) expect(r.link(`go.example.com/${p}`)?.destination, p).toBe(`https://example.com/${i}`);
    expect(r.link('go.example.com/nope')).toBeNull();
    expect(r.domain('go.example.com')).not.toBeNull();
    const { openStoreDbs } = await import('./lmdb-env.js');
    const dbs = openStoreDbs(path, true);
    expect([...dbs.links.getKeys()]).toEqual(before); // same keys, same order
    await dbs.env.close();
    await r.close();
  });
});
