/**
 * JWT signing keys move with SECRETS_KEY (issue 16): their private halves are sealed like every
 * stored secret, so the re-seal a starting control plane runs moves them to a new SECRETS_KEY too.
 * After the rotation, a control plane that holds only the new key still signs (with the same kid),
 * publishes the JWKS, and accepts tokens signed before and after; no private key is readable in
 * the database, under the old key or in clear.
 */
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startProcess, waitForHttp, type RunningProcess } from '../../shared/testing/index.js';
import { keyIdOf, secretBoxFrom } from '../secrets/index.js';
import { createHarness, TEST_SECRETS_KEY, type Harness } from './harness.js';

const K2 = Buffer.alloc(32, 0x52).toString('base64');

describe('JWT signing keys are re-sealed under a new SECRETS_KEY', () => {
  let h: Harness;
  let client: { client_id: string; client_secret: string };

  const start = async (env: Record<string, string>): Promise<{ cp: RunningProcess; base: string }> => {
    const port = await freePort();
    const cp = startProcess('control-plane/main.js', {
      PORT: String(port), DATABASE_URL: h.db.url, NATS_PREFIX: h.prefix, JOB_WORKERS: '0', WEBHOOK_WORKERS: '0', ...env,
    });
    await waitForHttp(`http://127.0.0.1:${port}/readyz`, 200, 60_000);
    return { cp, base: `http://127.0.0.1:${port}` };
  };
  const tokenFrom = async (base: string): Promise<string> => {
    const r = await fetch(`${base}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: client.client_id, client_secret: client.client_secret }),
    });
    expect(r.status).toBe(200);
    return ((await r.json()) as { access_token: string }).access_token;
  };
  const privateKeys = async () =>
    (await h.pool.query<{ id: string; private_jwk: string }>('SELECT id, private_jwk FROM jwt_signing_keys ORDER BY id')).rows;

  beforeAll(async () => {
    h = await createHarness('oauth_reseal');
    const r = await h.req({ method: 'POST', url: '/v1/oauth/clients', payload: { name: 'cms', role: 'analyst' } });
    expect(r.statusCode, r.body).toBe(201);
    client = r.json();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('a control plane started with the new key re-seals them; one holding only the new key signs and verifies old and new tokens', async () => {
    const signed = async () => {
      const r = await h.app.inject({
        method: 'POST', url: '/oauth/token', headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ grant_type: 'client_credentials', client_id: client.client_id, client_secret: client.client_secret }).toString(),
      });
      expect(r.statusCode, r.body).toBe(200);
      return r.json<{ access_token: string }>().access_token;
    };
    // two signing keys under the old SECRETS_KEY: one retired (still verifying), one current
    const t0 = await signed();
    await h.app.signingKeys.rotate();
    const t1 = await signed();
    const [kidRetired, kidCurrent] = [decodeProtectedHeader(t0).kid!, decodeProtectedHeader(t1).kid!];
    expect(kidRetired).not.toBe(kidCurrent);
    const oldBox = secretBoxFrom({ SECRETS_KEY: TEST_SECRETS_KEY });
    const before = new Map((await privateKeys()).map((r) => [r.id, oldBox.open(r.private_jwk, `jwt_signing_keys:${r.id}`)]));
    expect([...before.keys()].sort()).toEqual([kidRetired, kidCurrent].sort());
    const privateD = [...before.values()].map((j) => (JSON.parse(j) as JWK).d!);

    // the rotation: new SECRETS_KEY, the old one in SECRETS_KEYS_OLD; the start re-seals
    const rotating = await start({ SECRETS_KEY: K2, SECRETS_KEYS_OLD: TEST_SECRETS_KEY });
    await rotating.cp.stop();
    expect(rotating.cp.logs().find((l) => l.msg === 'stored secrets sealed under SECRETS_KEY')).toMatchObject({
      resealed: { jwt_signing_keys: 2 }, kid: keyIdOf(Buffer.from(K2, 'base64')),
    });
    const newBox = secretBoxFrom({ SECRETS_KEY: K2 });
    for (const r of await privateKeys()) {
      expect(r.private_jwk.startsWith(newBox.currentPrefix), r.id).toBe(true);
      expect(newBox.open(r.private_jwk, `jwt_signing_keys:${r.id}`)).toBe(before.get(r.id)); // the same key, re-sealed
      expect(() => oldBox.open(r.private_jwk, `jwt_signing_keys:${r.id}`)).toThrow(/neither SECRETS_KEY nor SECRETS_KEYS_OLD/);
    }
    // nothing in the table shows a private key: no JWK "d", no d value
    const dump = JSON.stringify((await h.pool.query('SELECT * FROM jwt_signing_keys')).rows);
    expect(dump).not.toContain('"d"');
    for (const d of privateD) expect(dump).not.toContain(d);

    // the old key is gone: a control plane with only SECRETS_KEY=K2
    const { cp, base } = await start({ SECRETS_KEY: K2 });
    try {
      const t2 = await tokenFrom(base);
      expect(decodeProtectedHeader(t2).kid).toBe(kidCurrent); // signed by the re-sealed current key
      const jwks = (await (await fetch(`${base}/.well-known/jwks.json`)).json()) as JSONWebKeySet;
      expect(jwks.keys.map((k) => k.kid).sort()).toEqual([kidRetired, kidCurrent].sort());
      const keySet = createLocalJWKSet(jwks);
      for (const [label, t] of [['before (retired key)', t0], ['before (current key)', t1], ['after', t2]] as const) {
        const { payload } = await jwtVerify(t, keySet, { issuer: h.config.JWT_ISSUER, audience: h.config.JWT_AUDIENCE });
        expect(payload.sub, label).toBe(client.client_id);
        const api = await fetch(`${base}/v1/links`, { headers: { authorization: `Bearer ${t}` } });
        expect(api.status, label).toBe(200);
      }
    } finally {
      await cp.stop();
    }
  });
});
