/**
 * Every code block of README.md and docs/*.md that is meant to be pasted runs in a test. A block counts
 * as run when a test reads its page and language through `docBlocks('<page>', '<lang>', …)` (which fails
 * on fewer blocks than the test expects), or, for pages of docs/, when a test names the page; a block
 * that is not meant to be run as is (a command that starts the product, the 20-minute bench) says why
 * on the line before its fence: `<!-- not run: … -->`. Only code one pastes counts (shell, JavaScript,
 * TypeScript, Python, YAML); diagrams (no language) and example answers or log lines (json, text) are
 * illustrations.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../shared/testing/index.js';

const PAGES = ['README.md', ...readdirSync(join(REPO_ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
/** Fence languages of code meant to be pasted and run. */
const PASTED = new Set(['sh', 'bash', 'shell', 'console', 'js', 'javascript', 'mjs', 'ts', 'typescript', 'python', 'py', 'yaml', 'yml']);
const SKIP_DIRS = new Set(['node_modules', 'dist', '.data', '.git']);

function testFiles(dir = REPO_ROOT): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (e.isDirectory()) return SKIP_DIRS.has(e.name) ? [] : testFiles(join(dir, e.name));
    return e.name.endsWith('.test.ts') || (dir.endsWith('/test') && e.name.endsWith('.ts')) ? [join(dir, e.name)] : [];
  });
}

interface Block { page: string; line: number; lang: string; notRun?: string }

function blocksOf(page: string): Block[] {
  const lines = readFileSync(join(REPO_ROOT, page), 'utf8').split('\n');
  const out: Block[] = [];
  let open = false;
  for (const [i, line] of lines.entries()) {
    if (!line.startsWith('```')) continue;
    if (!open) {
      const before = lines.slice(0, i).reverse().find((l) => l.trim() !== '') ?? '';
      const notRun = /^<!-- not run: (.+) -->$/.exec(before.trim())?.[1];
      out.push({ page, line: i + 1, lang: line.slice(3).trim(), ...(notRun ? { notRun } : {}) });
    }
    open = !open;
  }
  return out;
}

describe('documentation code blocks', () => {
  const sources = testFiles().map((f) => ({ file: relative(REPO_ROOT, f), text: readFileSync(f, 'utf8') })).filter((s) => s.file !== 'deploy/test/docs-blocks.test.ts');
  const claims = new Set(sources.flatMap((s) => [...s.text.matchAll(/docBlocks\(\s*'([^']+)',\s*'([^']+)'/g)].map((m) => `${m[1]} ${m[2]}`)));
  const named = (page: string) => page.startsWith('docs/') && sources.some((s) => s.text.includes(`'${page}'`));

  it('the scan finds the tests that run blocks', () => {
    expect([...claims].sort()).toEqual(expect.arrayContaining(['docs/bulk-jobs.md sh', 'docs/clicks-and-analytics.md sh', 'docs/errors.md json', 'docs/getting-started.md sh', 'docs/operations.md yaml']));
    expect(named('docs/webhooks.md')).toBe(true); // webhooks-readme reads its sh, js and python blocks by a variable language
  });

  it('every block of code meant to be pasted is run by a test or says why not', () => {
    const blocks = PAGES.flatMap(blocksOf);
    expect(blocks.length).toBeGreaterThanOrEqual(15);
    const unrun = blocks.filter((b) => PASTED.has(b.lang) && !b.notRun && !claims.has(`${b.page} ${b.lang}`) && !named(b.page));
    expect(unrun.map((b) => `${b.page}:${b.line} (${b.lang})`)).toEqual([]);
  });
});
