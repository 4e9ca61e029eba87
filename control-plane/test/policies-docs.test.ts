/** The example of docs/policies.md must work when pasted: run it against a control plane over real HTTP. */
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docBlocks } from '../../shared/testing/index.js';
import { ADMIN_SECRET, createHarness, type Harness } from './harness.js';
import { runBash } from './openapi-validator.js';

const [example] = docBlocks('docs/policies.md', 'sh', { min: 1 }) as [string];

describe('docs/policies.md example', () => {
  let h: Harness;
  let port: number;

  beforeAll(async () => {
    h = await createHarness('policies_docs');
    await h.app.listen({ port: 0, host: '127.0.0.1' });
    port = (h.app.server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await h?.close();
  });

  it('runs as written: the violation, the pending link, its approval and the check', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'lp-policies-doc-'));
    const script = example
      .replace(/^API=.*$/m, `API=http://127.0.0.1:${port}`)
      .replace(/Bearer lp_change_me_to_a_long_random_secret_0001/, `Bearer ${ADMIN_SECRET}`)
      .replace(/^curl -s /gm, 'curl -s -w "\\n[%{http_code}]\\n" ');
    const r = await runBash(script, cwd);
    rmSync(cwd, { recursive: true, force: true });
    expect(r.status, r.stderr).toBe(0);
    expect([...r.stdout.matchAll(/^\[(\d{3})\]$/gm)].map((x) => Number(x[1])), r.stdout).toEqual([200, 422, 200, 200, 200, 200]);
    expect(r.stdout).toContain('"code":"policy_violation"');
    expect(r.stdout).toMatch(/"details":\{"rule":"https_only","field":"destination_url"/);
    const queue = /\{"data":\[(.*)\],"next_cursor"/.exec(r.stdout)![1]!;
    expect(queue).toMatch(/"path":"spring".*"status":"pending"/);
    const { rows } = await h.pool.query<{ status: string; path: string }>(`SELECT status, path FROM links WHERE deleted_at IS NULL`);
    expect(rows).toEqual([{ status: 'live', path: 'spring' }]);
    expect(r.stdout).toMatch(/"data":\[\{"link_id":"ln_[0-9A-Z]+","domain":"go.example.com","path":"spring","violations":\[\{"rule":"destination_hosts_allow"/);
  });
});
