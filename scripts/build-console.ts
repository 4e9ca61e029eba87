/**
 * Bundles the admin console (console/) into `dist/ui`: one hashed JS file and one hashed CSS file
 * (with uPlot's), their .br/.gz twins, and an index.html that loads them (no inline code: the
 * control plane serves it under a strict CSP). Reports the sizes and fails over the budget.
 * `npm run build` runs it after tsc: node dist/scripts/build-console.js [outDir].
 */
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { build } from 'esbuild';

/** Gzipped JavaScript the console may ship (the first load on a phone). */
export const JS_BUDGET_GZIP_BYTES = 150 * 1024;

export interface ConsoleBuild {
  outDir: string;
  /** Paths under outDir → raw and gzipped sizes. */
  files: { path: string; bytes: number; gzip: number }[];
  jsGzip: number;
}

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

const page = (js: string, css: string) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<title>linkplane console</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="./${css}">
<script type="module" src="./${js}"></script>
</head>
<body>
<div id="app"><noscript>The linkplane console needs JavaScript.</noscript></div>
</body>
</html>
`;

/** Builds into `outDir` (replaced whole, atomically: a running server never sees half a build). */
export async function buildConsole(outDir = join(repoRoot(), 'dist', 'ui'), opts: { budget?: number } = {}): Promise<ConsoleBuild> {
  const root = repoRoot();
  const staging = `${outDir}.tmp-${process.pid}-${Date.now()}`;
  rmSync(staging, { recursive: true, force: true });
  const result = await build({
    absWorkingDir: root,
    entryPoints: { app: 'console/main.tsx' },
    bundle: true,
    format: 'esm',
    target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    minify: true,
    legalComments: 'none',
    entryNames: 'assets/[name]-[hash]',
    outdir: staging,
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  mkdirSync(join(staging, 'assets'), { recursive: true });
  const files: ConsoleBuild['files'] = [];
  const emit = (rel: string, body: Uint8Array) => {
    const full = join(staging, rel);
    writeFileSync(full, body);
    const gz = gzipSync(body, { level: 9 });
    files.push({ path: rel, bytes: body.byteLength, gzip: gz.byteLength });
    if (rel.endsWith('.html')) return;
    writeFileSync(`${full}.gz`, gz);
    writeFileSync(`${full}.br`, brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: body.byteLength } }));
  };
  let js = '';
  let css = '';
  for (const f of result.outputFiles) {
    const rel = `assets/${basename(f.path)}`;
    if (rel.endsWith('.js')) js = rel;
    else if (rel.endsWith('.css')) css = rel;
    emit(rel, f.contents);
  }
  if (!js || !css) throw new Error(`console build: expected one JS and one CSS file, got ${result.outputFiles.map((f) => f.path).join(', ')}`);
  emit('index.html', Buffer.from(page(js, css)));
  const jsGzip = files.filter((f) => f.path.endsWith('.js')).reduce((s, f) => s + f.gzip, 0);
  const budget = opts.budget ?? JS_BUDGET_GZIP_BYTES;
  if (jsGzip > budget) {
    rmSync(staging, { recursive: true, force: true });
    throw new Error(`console build: ${jsGzip} bytes of gzipped JavaScript is over the budget of ${budget} bytes`);
  }
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(dirname(outDir), { recursive: true });
  renameSync(staging, outDir);
  return { outDir, files, jsGzip };
}

const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = process.argv[2] ? resolve(process.argv[2]) : undefined;
  buildConsole(out).then(
    (b) => {
      for (const f of b.files) process.stdout.write(`console: ${f.path.padEnd(32)} ${kb(f.bytes).padStart(9)}  ${kb(f.gzip).padStart(8)} gzip\n`);
      process.stdout.write(`console: JavaScript ${kb(b.jsGzip)} gzipped of a ${kb(JS_BUDGET_GZIP_BYTES)} budget → ${b.outDir}\n`);
    },
    (err: Error) => {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    },
  );
}
