/**
 * Code blocks of the documentation (README.md, docs/*.md), for the tests that run them as written.
 * Every lookup names how many blocks it expects at least, so a heading or fence renamed in the docs
 * fails the test instead of letting it run nothing.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './process.js';

/** The text of `file` (relative to the repository), or of its section under heading `section` (any level). */
export function docSection(file: string, section?: string): string {
  const text = readFileSync(join(REPO_ROOT, file), 'utf8');
  if (section === undefined) return text;
  const lines = text.split('\n');
  let inFence = false;
  let start = -1;
  let level = 0;
  for (const [i, line] of lines.entries()) {
    if (line.startsWith('```')) inFence = !inFence;
    const m = inFence ? null : /^(#{1,6}) (.*)$/.exec(line);
    if (!m) continue;
    if (start < 0 && m[2]!.trim() === section) {
      start = i;
      level = m[1]!.length;
    } else if (start >= 0 && m[1]!.length <= level) {
      return lines.slice(start, i).join('\n');
    }
  }
  if (start < 0) throw new Error(`${file} has no heading "${section}"`);
  return lines.slice(start).join('\n');
}

/** The ````lang` blocks of `file` (or of one section of it), in order; throws when there are fewer than `min`. */
export function docBlocks(file: string, lang: string, opts: { section?: string; min: number }): string[] {
  const where = `${file}${opts.section ? ` ("${opts.section}")` : ''}`;
  const blocks = [...docSection(file, opts.section).matchAll(new RegExp('^```' + lang + '\\n([\\s\\S]*?)^```$', 'gm'))].map((m) => m[1]!);
  if (blocks.length < opts.min) throw new Error(`${where}: ${blocks.length} \`\`\`${lang} blocks, expected at least ${opts.min}`);
  return blocks;
}
