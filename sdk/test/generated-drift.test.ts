/**
 * The SDK's generated types must be what openapi-typescript makes of a live control plane's
 * GET /v1/openapi.json today. When this fails, the API changed: run `npm run sdk:generate` and
 * commit sdk/src/generated/openapi.ts (then fix what no longer type-checks).
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApiToTypeScript } from '../scripts/openapi-to-ts.js';
import { startLiveStack, type LiveStack } from './live-stack.js';

describe('sdk/src/generated/openapi.ts', () => {
  let stack: LiveStack;
  beforeAll(async () => {
    stack = await startLiveStack('sdkdrift');
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('matches GET /v1/openapi.json of a live control plane (else: npm run sdk:generate)', async () => {
    const doc = await (await fetch(`${stack.apiUrl}/v1/openapi.json`)).json();
    const fresh = await openApiToTypeScript(doc);
    const checkedIn = readFileSync(new URL('../src/generated/openapi.ts', import.meta.url), 'utf8');
    expect(checkedIn === fresh, 'sdk/src/generated/openapi.ts is stale: run npm run sdk:generate').toBe(true);
  });
});
