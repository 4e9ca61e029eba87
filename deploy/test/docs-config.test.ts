/** docs/configuration.md is generated from the config schemas: the committed page must be what the script writes. */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { controlPlaneSchema } from '../../control-plane/config.js';
import { dataPlaneSchema } from '../../data-plane/config.js';
import { REPO_ROOT } from '../../shared/testing/index.js';
import { renderConfigDoc } from '../docs/config-doc.js';
import { allInOneSchema } from '../local/all-in-one-schema.js';

const committed = readFileSync(join(REPO_ROOT, 'docs/configuration.md'), 'utf8');
const generated = renderConfigDoc();

describe('docs/configuration.md', () => {
  it('is what `npm run docs:config` generates from the schemas (run it after changing a schema)', () => {
    expect(committed).toBe(generated);
  });

  it('has a row for every variable of every process, with its default', () => {
    const rows = (section: string) => {
      const from = generated.indexOf(`\n## ${section}`);
      const to = generated.indexOf('\n## ', from + 1);
      return generated.slice(from, to).split('\n').filter((l) => l.startsWith('| `')).map((l) => l.split(' | ')[0]!.slice(3, -1));
    };
    expect(rows('Control plane')).toEqual(expect.arrayContaining(Object.keys(controlPlaneSchema)));
    expect(rows('Control plane').length).toBe(Object.keys(controlPlaneSchema).length);
    expect(rows('Redirect node').sort()).toEqual(Object.keys(dataPlaneSchema()).sort());
    expect(rows('All-in-one').sort()).toEqual(Object.keys(allInOneSchema).sort());
    expect(generated).toContain('| `RATE_LIMIT_BURST` | `200` | integer ≥ 1 |');
    expect(generated).toContain('| `CORS_ORIGINS` | — (none) | comma-separated list |');
  });

  it('does not depend on the machine that generates it (host name, checkout path, CPU count)', () => {
    expect(generated).not.toContain(hostname());
    expect(generated).not.toContain(REPO_ROOT);
    expect(generated).toContain('| `WORKERS` | the CPUs allowed |');
    expect(generated).toContain('| `NODE_ID` | the host name |');
  });
});
