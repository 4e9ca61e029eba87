/**
 * The documentation's relative links resolve: every link in README.md, docs/*.md, deploy/README.md and
 * bench/README.md to a file of the repository exists, and an anchor (`page.md#section`, `#section`)
 * names a heading of that page (GitHub's slugs). And every page of docs/ is linked from the README.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../shared/testing/index.js';

const DOCS = readdirSync(join(REPO_ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`);
const FILES = ['README.md', ...DOCS, 'deploy/README.md', 'bench/README.md'];

/** Base names of every *.test.ts of the repository. */
function testFileNames(dir = REPO_ROOT): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (e.isDirectory()) return ['node_modules', 'dist', '.data', '.git'].includes(e.name) ? [] : testFileNames(join(dir, e.name));
    return e.name.endsWith('.test.ts') ? [e.name] : [];
  });
}

/** Markdown outside fenced blocks and inline code. */
function prose(text: string): string {
  let inFence = false;
  return text
    .split('\n')
    .filter((l) => {
      if (l.startsWith('```')) inFence = !inFence;
      return !inFence && !l.startsWith('```');
    })
    .map((l) => l.replace(/`[^`]*`/g, '``'))
    .join('\n');
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
export function anchorsOf(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  let inFence = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('```')) inFence = !inFence;
    const m = inFence ? null : /^#{1,6} (.*)$/.exec(line);
    if (!m) continue;
    const base = m[1]!.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/ /g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

function links(file: string): string[] {
  const text = prose(readFileSync(join(REPO_ROOT, file), 'utf8'));
  return [...text.matchAll(/\[[^\]]*\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((t) => !/^[a-z][a-z+.-]*:/i.test(t));
}

describe('documentation links', () => {
  it('the anchor slugs follow GitHub', () => {
    expect([...anchorsOf('# A (`npm start`)\n## Metrics (`GET /metrics` on `OPS_PORT`)\n## Retries, dead letters\n## Retries, dead letters\n```\n# not a heading\n```')])
      .toEqual(['a-npm-start', 'metrics-get-metrics-on-ops_port', 'retries-dead-letters', 'retries-dead-letters-1']);
  });

  it.each(FILES)('%s: every relative link resolves to a file and heading', (file) => {
    const broken: string[] = [];
    const found = links(file);
    for (const target of found) {
      const [path, anchor] = target.split('#') as [string, string | undefined];
      const resolved = path === '' ? join(REPO_ROOT, file) : join(REPO_ROOT, dirname(file), decodeURIComponent(path));
      if (!resolved.startsWith(REPO_ROOT) || !existsSync(resolved)) {
        broken.push(`${target}: no such file ${relative(REPO_ROOT, resolved)}`);
        continue;
      }
      if (anchor !== undefined && resolved.endsWith('.md') && !anchorsOf(readFileSync(resolved, 'utf8')).has(anchor)) {
        broken.push(`${target}: no heading #${anchor} in ${relative(REPO_ROOT, resolved)}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('every test file the docs name exists (paths, file names, and the test names of the security table)', () => {
    const all = new Set(testFileNames());
    const missing: string[] = [];
    for (const file of FILES) {
      const text = readFileSync(join(REPO_ROOT, file), 'utf8');
      for (const [, name] of text.matchAll(/`([\w./-]+\.test\.ts)`/g)) {
        const ok = name!.includes('/') ? existsSync(join(REPO_ROOT, name!)) : all.has(name!);
        if (!ok) missing.push(`${file}: ${name}`);
      }
    }
    const security = readFileSync(join(REPO_ROOT, 'docs/security.md'), 'utf8');
    const table = security.slice(security.indexOf('| promise | tested by |'), security.indexOf('\n\n', security.indexOf('| promise | tested by |')));
    const named = table.split('\n').slice(2).flatMap((row) => [...(row.split(' | ')[1] ?? '').matchAll(/`([a-z0-9-]+)`/g)].map((m) => m[1]!));
    expect(named.length).toBeGreaterThanOrEqual(15);
    for (const name of named) if (!all.has(`${name}.test.ts`)) missing.push(`docs/security.md: ${name}`);
    expect(missing).toEqual([]);
  });

  it('the README links every page of docs/, and is the short front door (≤ 200 lines)', () => {
    const readme = links('README.md');
    expect(DOCS.length).toBeGreaterThanOrEqual(11);
    expect(DOCS.filter((d) => !readme.some((l) => l.split('#')[0] === d))).toEqual([]);
    expect(readFileSync(join(REPO_ROOT, 'README.md'), 'utf8').split('\n').length).toBeLessThanOrEqual(200);
  });
});
