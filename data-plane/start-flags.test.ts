/**
 * Every start of the node carries its V8 start flags (start-flags.ts), so an operator who starts it
 * the documented way gets them without knowing: the npm script, the container commands, the
 * all-in-one launcher and the bench (which measures the node as deployed).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../shared/testing/index.js';
import { missingStartFlags, NODE_START_ENV, NODE_START_FLAGS } from './start-flags.js';

const read = (path: string) => readFileSync(join(REPO_ROOT, path), 'utf8');
/** The arguments before `dist/data-plane/main.js` in a JSON-array container command. */
function commandFlags(text: string): string[] {
  const m = /command: (\[[^\]]*"dist\/data-plane\/main\.js"\])/.exec(text);
  expect(m, 'a node command').not.toBeNull();
  return (JSON.parse(m![1]!) as string[]).slice(1, -1);
}

describe('the node is started with its start flags', () => {
  it('are the ones the tail needs', () => {
    expect(NODE_START_FLAGS).toContain('--single-threaded-gc');
  });

  it('npm run data-plane', () => {
    const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
    const args = scripts['data-plane']!.split(/\s+/);
    expect(args.slice(0, args.indexOf('dist/data-plane/main.js'))).toEqual(expect.arrayContaining([...NODE_START_FLAGS]));
  });

  it.each(['deploy/compose/compose.yaml', 'deploy/k8s/linkplane.yaml'])('%s', (file) => {
    expect(commandFlags(read(file))).toEqual(expect.arrayContaining([...NODE_START_FLAGS]));
  });

  it('the all-in-one launcher and the bench', () => {
    expect(read('deploy/all-in-one.ts')).toMatch(/nodeFlags: NODE_START_FLAGS/);
    expect(read('bench/lib/processes.ts')).toMatch(/if \(script === 'data-plane\/main\.js'\) extra\.unshift\(\.\.\.NODE_START_FLAGS\)/);
  });

  it('V8 accepts them at start, and missingStartFlags sees them', () => {
    const out = execFileSync(process.execPath, [...NODE_START_FLAGS, '-e', 'process.stdout.write(JSON.stringify(process.execArgv))'], { encoding: 'utf8' });
    const argv = JSON.parse(out) as string[];
    expect(missingStartFlags(argv)).toEqual([]);
    expect(missingStartFlags([])).toEqual([...NODE_START_FLAGS]);
  });
});

describe('the node is started with its start environment', () => {
  const vars = Object.entries(NODE_START_ENV);

  it('is the one the memory target needs', () => {
    expect(NODE_START_ENV).toEqual({ MALLOC_ARENA_MAX: '2' });
  });

  it('npm run data-plane', () => {
    const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
    const args = scripts['data-plane']!.split(/\s+/);
    expect(args.slice(0, args.indexOf('exec'))).toEqual(vars.map(([k, v]) => `${k}=${v}`));
  });

  it('deploy/compose/compose.yaml: the node service', () => {
    const node = /\n {2}node:\n([\s\S]*?)\n {2}\w/.exec(read('deploy/compose/compose.yaml'))![1]!;
    for (const [k, v] of vars) expect(node).toContain(`      ${k}: "${v}"`);
  });

  it('deploy/k8s/linkplane.yaml: the node container', () => {
    const text = read('deploy/k8s/linkplane.yaml');
    const container = text.slice(text.indexOf('dist/data-plane/main.js'));
    for (const [k, v] of vars) expect(container).toContain(`- { name: ${k}, value: "${v}" }`);
  });

  it('the all-in-one launcher and the bench', () => {
    expect(read('deploy/all-in-one.ts')).toMatch(/\.\.\.NODE_START_ENV, \.\.\.common/);
    expect(read('bench/lib/processes.ts')).toMatch(/const startEnv = script === 'data-plane\/main\.js' \? NODE_START_ENV : \{\}/);
  });
});
