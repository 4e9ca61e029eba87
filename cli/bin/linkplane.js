#!/usr/bin/env node
// The linkplane CLI. A published package runs its compiled dist/; inside the repository (no
// build step after `npm ci`) the TypeScript sources run through tsx, with @linkplane/sdk resolved
// to sdk/src by the repository's tsconfig paths.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dist = new URL('../dist/main.js', import.meta.url);
let entry;
if (existsSync(fileURLToPath(dist))) {
  entry = dist.href;
} else {
  const { register } = await import('tsx/esm/api');
  register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) });
  entry = new URL('../src/main.ts', import.meta.url).href;
}
const { main } = await import(entry);
process.exitCode = await main(process.argv.slice(2));
