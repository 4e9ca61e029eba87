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

  it('the README links every page of docs/, and is the short front door (≤ 200 lines)', () => {
    const readme = links('README.md');
    expect(DOCS.length).toBeGreaterThanOrEqual(11);
    expect(DOCS.filter((d) => !readme.some((l) => l.split('#')[0] === d))).toEqual([]);
    expect(readFileSync(join(REPO_ROOT, 'README.md'), 'utf8').split('\n').length).toBeLessThanOrEqual(200);
  });
});
