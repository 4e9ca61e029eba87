/**
 * Micro-benchmark of the click spool's per-batch work as the node does it: append a batch (durably:
 * written, synced, renamed), then `done` (unlinked) as after its PubAck. CPU of the whole process
 * (every thread: libuv's pool does the file operations) per batch, over `batches` batches of
 * `kb` KB, in a directory under `dir` (default: the OS temp dir; use the disk CLICK_DIR is on).
 *
 *   npx tsx bench/micro/click-spool.ts [batches] [kb] [dir]
 *
 * Compare builds in one sitting, alternating.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClickSpool } from '../../data-plane/clicks/click-spool.js';
import { createLogger, newClickId } from '../../shared/index.js';

const BATCHES = Number(process.argv[2] ?? 300);
const KB = Number(process.argv[3] ?? 100);
const dir = mkdtempSync(join(process.argv[4] ?? tmpdir(), 'lp-spool-micro-'));
const spool = ClickSpool.open({ dir, maxBytes: 1 << 30, log: createLogger({ name: 'micro', level: 'warn' }) });
const data = new Uint8Array(KB * 1024).map((_, i) => (i * 131) & 255);

async function round(n: number): Promise<{ cpu: number; wall: number }> {
  const t0 = process.cpuUsage();
  const w0 = performance.now();
  for (let i = 0; i < n; i++) {
    const id = newClickId(Date.now());
    await spool.append(id, data, 1000);
    const [e] = spool.take(1);
    await spool.done(e!);
  }
  const u = process.cpuUsage(t0);
  return { cpu: (u.user + u.system) / n, wall: ((performance.now() - w0) * 1000) / n };
}

try {
  await round(50);
  const out: string[] = [];
  for (let r = 0; r < 3; r++) {
    const x = await round(BATCHES);
    out.push(`${x.cpu.toFixed(0)} µs CPU (${x.wall.toFixed(0)} µs wall)`);
  }
  process.stdout.write(`per batch of ${KB} KB, append + done: ${out.join(', ')}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
