/** `npm run docs:config`: (re)writes docs/configuration.md from the config schemas. */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { renderConfigDoc } from './config-doc.js';

// npm runs scripts from the package root
const target = resolve(process.cwd(), 'docs/configuration.md');
writeFileSync(target, renderConfigDoc());
process.stdout.write(`wrote ${target}\n`);
