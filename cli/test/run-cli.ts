/**
 * Runs the CLI in a child process, or under a pseudo-terminal. `BIN` is the real launcher
 * (`npx linkplane` runs it: TypeScript through tsx, about 2 s a start on a loaded CI machine);
 * most tests run the same sources bundled once by esbuild (`bundleCli`, about 0.5 s a start).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export const BIN = fileURLToPath(new URL('../bin/linkplane.js', import.meta.url));

let entry = BIN;

/** Bundles cli/src (with the SDK and dependencies) into one file that later runs use; returns its path. */
export async function bundleCli(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'lp-cli-bundle-'));
  const main = join(dir, 'main.mjs');
  await build({
    entryPoints: [fileURLToPath(new URL('../src/main.ts', import.meta.url))],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile: main,
    alias: { '@linkplane/sdk': fileURLToPath(new URL('../../sdk/src/index.ts', import.meta.url)) },
    // CommonJS dependencies (cli-progress) require Node built-ins
    banner: { js: "import { createRequire as __lpCreateRequire } from 'node:module'; const require = __lpCreateRequire(import.meta.url);" },
    logLevel: 'warning',
  });
  const bin = join(dir, 'linkplane.mjs');
  writeFileSync(bin, "const { main } = await import('./main.mjs');\nprocess.exitCode = await main(process.argv.slice(2));\n");
  entry = bin;
  return bin;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], env: Record<string, string | undefined>, opts: { input?: string; cwd?: string; bin?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [opts.bin ?? entry, ...args], { env: { ...process.env, ...env }, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}

const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Runs the bin under a pseudo-terminal (util-linux `script`): stdout and stderr are the terminal,
 * so what a person would see is in `output` (stdout and stderr interleaved), escape codes included.
 */
export function runCliInTty(args: string[], env: Record<string, string | undefined>): Promise<{ code: number | null; output: string }> {
  const cmd = [process.execPath, entry, ...args].map(shellQuote).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qfec', `stty cols 160 rows 40; ${cmd}`, '/dev/null'], { env: { ...process.env, TERM: 'xterm', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}
