/**
 * OAuth2 client credentials and JWT access tokens (issue 16): clients, POST /oauth/token (RFC 6749
 * §4.4 and its §5.2 errors), the JWKS, and the API taking a JWT as bearer — with the failures:
 * expired, wrong audience, wrong issuer, wrong signature, a rotated key, a revoked client.
 */
import { decodeJwt, decodeProtectedHeader, generateKeyPair, importJWK, SignJWT, type CryptoKey, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SigningKeys } from '../oauth/index.js';
import { secretBoxFrom } from '../secrets/index.js';
import { createDomain, createHarness, TEST_SECRETS_KEY, type Harness } from './harness.js';

interface Client { id: string; client_id: string; client_secret: string; scopes: string[] }
interface TokenAnswer { status: number; body: { access_token?: string; token_type?: string; expires_in?: number; scope?: string; error?: string; error_description?: string }; headers: Record<string, unknown> }

describe('OAuth2 client credentials and JWT bearer', () => {
  let h: Harness;
  let host: string;
  let client: Client;

  const form = (params: Record<string, string>) => new URLSearchParams(params).toString();
  const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
  const token = async (params: Record<string, string>, headers: Record<string, string> = {}): Promise<TokenAnswer> => {
    const r = await h.app.inject({ method: 'POST', url: '/oauth/token', payload: form(params), headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers } });
    return { status: r.statusCode, body: r.json(), headers: r.headers };
  };
  const tokenFor = async (c: Client, scope?: string) => {
    const r = await token({ grant_type: 'client_credentials', ...(scope ? { scope } : {}) }, { authorization: basic(c.client_id, c.client_secret) });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body.access_token!;
  };
  const newClient = async (payload: Record<string, unknown>): Promise<Client> => {
    const r = await h.req({ method: 'POST', url: '/v1/oauth/clients', payload: { name: 'c', ...payload } });
    expect(r.statusCode, r.body).toBe(201);
    return r.json();
  };
  const call = (bearer: string, method: 'GET' | 'POST' = 'GET', url = '/v1/links', payload?: object) =>
    h.req({ method, url, key: bearer, ...(payload ? { payload } : {}) });
  /** A token signed with the control plane's real current key (opened from Postgres), with claims of our choosing. */
  const forged = async (claims: Record<string, unknown>, opts: { kid?: string; key?: CryptoKey } = {}) => {
    const { rows } = await h.pool.query<{ id: string; private_jwk: string }>('SELECT id, private_jwk FROM jwt_signing_keys WHERE retired_at IS NULL');
    const box = secretBoxFrom({ SECRETS_KEY: TEST_SECRETS_KEY });
    const key = opts.key ?? ((await importJWK(JSON.parse(box.open(rows[0]!.private_jwk, `jwt_signing_keys:${rows[0]!.id}`)) as JWK, 'ES256')) as CryptoKey);
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ scope: 'links:read', client_id: client.id, ...claims })
      .setProtectedHeader({ alg: 'ES256', kid: opts.kid ?? rows[0]!.id, typ: 'at+jwt' })
      .setIssuer((claims.iss as string) ?? 'linkplane').setAudience((claims.aud as string) ?? 'linkplane-api').setSubject(client.id)
      .setIssuedAt(now).setExpirationTime((claims.exp as number) ?? now + 600)
      .sign(key);
  };

  beforeAll(async () => {
    h = await createHarness('oauth');
    host = await createDomain(h, 'oauth.example.com');
    client = await newClient({ name: 'cms', role: 'publisher' });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('a client is created like a key: its secret once (redacted on replay), never listed; its private signing keys are sealed at rest', async () => {
    expect(client).toMatchObject({ id: expect.stringMatching(/^oac_/), name: 'cms', role: 'publisher', client_secret: expect.stringMatching(/^lpc_[A-Za-z0-9]{40}$/) });
    expect(client.client_id).toBe(client.id);
    const list = await h.req({ method: 'GET', url: '/v1/oauth/clients' });
    expect(list.json().data.map((c: { id: string }) => c.id)).toContain(client.id);
    expect(list.body).not.toContain(client.client_secret);
    const first = await h.req({ method: 'POST', url: '/v1/oauth/clients', payload: { name: 'idem', role: 'analyst' }, headers: { 'idempotency-key': 'oac-1' } });
    const replay = await h.req({ method: 'POST', url: '/v1/oauth/clients', payload: { name: 'idem', role: 'analyst' }, headers: { 'idempotency-key': 'oac-1' } });
    expect(replay.json()).toMatchObject({ id: first.json().id, client_secret: null, redacted: ['client_secret'] });
    // no more power than the creator: a domain-limited admin cannot make an unrestricted client
    const limited = (await h.req({ method: 'POST', url: '/v1/keys', payload: { name: 'lim', role: 'admin', domains: [host] } })).json<{ secret: string }>();
    const esc = await h.req({ method: 'POST', url: '/v1/oauth/clients', key: limited.secret, payload: { name: 'x', role: 'analyst' } });
    expect([esc.statusCode, esc.json().error.code, esc.json().error.details.field]).toEqual([403, 'privilege_escalation', 'domains']);

    await tokenFor(client); // makes the first signing key
    const { rows } = await h.pool.query<{ private_jwk: string }>('SELECT private_jwk FROM jwt_signing_keys');
    expect(rows.length).toBe(1);
    expect(rows[0]!.private_jwk).toMatch(/^lpsec1\./);
    expect(rows[0]!.private_jwk).not.toContain('"d"');
  });

  it('POST /oauth/token issues a short-lived JWT (iss, aud, exp, scope, kid) by HTTP Basic or body credentials', async () => {
    const viaBasic = await token({ grant_type: 'client_credentials' }, { authorization: basic(client.client_id, client.client_secret) });
    expect(viaBasic.status).toBe(200);
    expect(viaBasic.headers['cache-control']).toBe('no-store');
    expect(viaBasic.headers.pragma).toBe('no-cache');
    expect(viaBasic.body).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: 900, scope: client.scopes.join(' ') });
    const jwt = viaBasic.body.access_token!;
    const header = decodeProtectedHeader(jwt);
    const claims = decodeJwt(jwt);
    const { rows } = await h.pool.query<{ id: string }>('SELECT id FROM jwt_signing_keys WHERE retired_at IS NULL');
    expect(header).toEqual({ alg: 'ES256', kid: rows[0]!.id, typ: 'at+jwt' });
    expect(claims).toMatchObject({ iss: 'linkplane', aud: 'linkplane-api', sub: client.id, client_id: client.id, scope: client.scopes.join(' ') });
    expect(claims.exp! - claims.iat!).toBe(900);
    expect(claims.jti).toEqual(expect.any(String));

    const viaBody = await token({ grant_type: 'client_credentials', client_id: client.client_id, client_secret: client.client_secret, scope: 'links:read' });
    expect([viaBody.status, viaBody.body.scope]).toEqual([200, 'links:read']);
  });

  it('answers RFC 6749 §5.2 errors', async () => {
    const good = { authorization: basic(client.client_id, client.client_secret) };
    const cases: [string, Record<string, string>, Record<string, string>, number, string][] = [
      ['no grant_type', {}, good, 400, 'invalid_request'],
      ['a grant other than client_credentials', { grant_type: 'password' }, good, 400, 'unsupported_grant_type'],
      ['a scope the client lacks', { grant_type: 'client_credentials', scope: 'links:read keys:admin' }, good, 400, 'invalid_scope'],
      ['Basic and body credentials both', { grant_type: 'client_credentials', client_id: client.client_id, client_secret: client.client_secret }, good, 400, 'invalid_request'],
      ['no client authentication', { grant_type: 'client_credentials' }, {}, 401, 'invalid_client'],
      ['a wrong secret', { grant_type: 'client_credentials' }, { authorization: basic(client.client_id, `${client.client_secret}x`) }, 401, 'invalid_client'],
      ['an unknown client in the body', { grant_type: 'client_credentials', client_id: 'oac_01J00000000000000000000000', client_secret: 'x' }, {}, 401, 'invalid_client'],
      ['a Bearer header instead of Basic', { grant_type: 'client_credentials' }, { authorization: `Bearer ${h.adminKey}` }, 401, 'invalid_client'],
    ];
    for (const [name, params, headers, status, error] of cases) {
      const r = await token(params, headers);
      expect([name, r.status, r.body.error], name).toEqual([name, status, error]);
      expect(r.body.error_description, name).toEqual(expect.any(String));
      expect(r.headers['cache-control'], name).toBe('no-store');
    }
    const wrong = await token({ grant_type: 'client_credentials' }, { authorization: basic(client.client_id, 'nope') });
    expect(wrong.headers['www-authenticate']).toBe('Basic realm="linkplane"');
    const twice = await h.app.inject({ method: 'POST', url: '/oauth/token', payload: 'grant_type=client_credentials&grant_type=client_credentials', headers: { 'content-type': 'application/x-www-form-urlencoded', ...good } });
    expect([twice.statusCode, twice.json().error]).toEqual([400, 'invalid_request']);
  });

  it('the API takes the JWT as bearer with the client\'s role, scopes and domains; the audit names the client', async () => {
    const jwt = await tokenFor(client);
    expect((await call(jwt)).statusCode).toBe(200);
    const created = await call(jwt, 'POST', '/v1/links', { domain: host, destination_url: 'https://example.org/jwt' });
    expect(created.statusCode, created.body).toBe(201);
    const audit = (await h.req({ method: 'GET', url: `/v1/audit?resource_id=${created.json().id}` })).json().data;
    expect(audit[0]).toMatchObject({ action: 'link.create', actor: { type: 'oauth_client', id: client.id, name: 'cms' } });
    expect((await h.req({ method: 'GET', url: `/v1/audit?actor_client_id=${client.id}` })).json().data.length).toBe(1);
    // a publisher client cannot manage keys; a token narrowed to links:read cannot write
    const keys = await call(jwt, 'GET', '/v1/keys');
    expect([keys.statusCode, keys.json().error.code]).toEqual([403, 'insufficient_scope']);
    const narrow = await tokenFor(client, 'links:read');
    const write = await call(narrow, 'POST', '/v1/links', { domain: host, destination_url: 'https://example.org/x' });
    expect([write.statusCode, write.json().error.code, write.json().error.details.required]).toEqual([403, 'insufficient_scope', 'links:write']);
    // a client limited to a domain: that domain only
    const other = await createDomain(h, 'other.oauth.example.com');
    const scoped = await tokenFor(await newClient({ name: 'scoped', role: 'publisher', domains: [host] }));
    expect((await call(scoped, 'POST', '/v1/links', { domain: host, destination_url: 'https://example.org/ok' })).statusCode).toBe(201);
    const refused = await call(scoped, 'POST', '/v1/links', { domain: other, destination_url: 'https://example.org/no' });
    expect([refused.statusCode, refused.json().error.code]).toEqual([403, 'domain_not_allowed']);
  });

  it('refuses an expired token (token_expired), a wrong audience or issuer, a wrong signature, an unknown kid and alg none', async () => {
    await tokenFor(client);
    const now = Math.floor(Date.now() / 1000);
    const expect401 = async (jwt: string, code: string, description: RegExp) => {
      const r = await call(jwt);
      expect(r.statusCode).toBe(401);
      expect(r.json().error.code).toBe(code);
      expect(String(r.headers['www-authenticate'])).toMatch(description);
    };
    expect((await call(await forged({}))).statusCode).toBe(200); // the forging itself is sound
    await expect401(await forged({ exp: now - 60 }), 'token_expired', /error="invalid_token", error_description="the access token expired"/);
    await expect401(await forged({ aud: 'another-api' }), 'unauthorized', /aud claim/);
    await expect401(await forged({ iss: 'https://evil.example' }), 'unauthorized', /iss claim/);
    const { privateKey } = await generateKeyPair('ES256');
    await expect401(await forged({}, { key: privateKey }), 'unauthorized', /does not verify/);
    await expect401(await forged({}, { key: privateKey, kid: 'jwk_01J00000000000000000000000' }), 'unauthorized', /does not verify/);
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url');
    const body = Buffer.from(JSON.stringify({ sub: client.id, aud: 'linkplane-api', iss: 'linkplane', exp: now + 600, scope: 'links:read' })).toString('base64url');
    await expect401(`${header}.${body}.AAAA`, 'unauthorized', /does not verify/);
  });

  it('a rotated key: new tokens carry the new kid, old tokens stay valid until they expire, the JWKS lists both', async () => {
    const before = await tokenFor(client);
    const oldKid = decodeProtectedHeader(before).kid!;
    const newKid = await h.app.signingKeys.rotate();
    expect(newKid).not.toBe(oldKid);
    const after = await tokenFor(client);
    expect(decodeProtectedHeader(after).kid).toBe(newKid);
    expect((await call(before)).statusCode).toBe(200);
    expect((await call(after)).statusCode).toBe(200);
    const jwks = await h.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
    expect(jwks.statusCode).toBe(200);
    const kids = jwks.json<{ keys: { kid: string; kty: string; alg: string; use: string; d?: string }[] }>().keys;
    expect(kids.map((k) => k.kid).sort()).toEqual([oldKid, newKid].sort());
    for (const k of kids) expect(k).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    expect(kids.some((k) => 'd' in k)).toBe(false);
    // another control plane verifies tokens of a key it has not seen yet
    const elsewhere = new SigningKeys(h.pool, secretBoxFrom({ SECRETS_KEY: TEST_SECRETS_KEY }), { rotationMs: 3_600_000, tokenTtlMs: 900_000 });
    expect(await elsewhere.verificationKey(newKid)).not.toBeNull();
    // once every token of the old key has expired (its retirement a TTL ago), it leaves the JWKS
    await h.pool.query(`UPDATE jwt_signing_keys SET retired_at = now() - interval '1 hour' WHERE id = $1`, [oldKid]);
    await h.app.signingKeys.load();
    expect((await h.app.signingKeys.jwks()).keys.map((k) => k.kid)).toEqual([newKid]);
    // and a key due for rotation is replaced on the next signing
    const due = new SigningKeys(h.pool, secretBoxFrom({ SECRETS_KEY: TEST_SECRETS_KEY }), { rotationMs: 1, tokenTtlMs: 900_000, now: () => Date.now() + 60_000 });
    const { kid } = await due.signer();
    expect(kid).not.toBe(newKid);
  });

  it('a revoked client gets no token and its tokens stop working at once', async () => {
    const c = await newClient({ name: 'to revoke', role: 'analyst' });
    const jwt = await tokenFor(c);
    expect((await call(jwt)).statusCode).toBe(200);
    const del = await h.req({ method: 'DELETE', url: `/v1/oauth/clients/${c.id}` });
    expect(del.statusCode).toBe(200);
    const r = await call(jwt);
    expect([r.statusCode, r.json().error.code, r.json().error.details.reason]).toEqual([401, 'unauthorized', 'client_revoked']);
    const again = await token({ grant_type: 'client_credentials' }, { authorization: basic(c.client_id, c.client_secret) });
    expect([again.status, again.body.error]).toEqual([401, 'invalid_client']);
    const gone = await h.req({ method: 'DELETE', url: `/v1/oauth/clients/${c.id}` });
    expect([gone.statusCode, gone.json().error.code]).toEqual([404, 'oauth_client_not_found']);
  });
});
