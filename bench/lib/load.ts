/**
 * Runs a LoadSpec in its own process pinned to the client core (the orchestrator stays off the
 * measured cores and its event loop never delays the generator).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { cpuPlan, pinned } from './cpu-pin.js';
import type { LoadResult, LoadSpec } from './http-load.js';

type ChildReply = { ok: true; result: LoadResult } | { ok: false; error: string };

export function generateLoad(spec: LoadSpec, cpus: string | null = cpuPlan().client): Promise<LoadResult> {
  const script = fileURLToPath(new URL('./load-child.js', import.meta.url));
  const [cmd, args] = pinned(process.execPath, ['--max-old-space-size=2048', script], cpus);
  const child = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise<LoadResult>((resolve, reject) => {
    let settled = false;
    child.once('message', (m: ChildReply) => {
      settled = true;
      if (m.ok) resolve(m.result);
      else reject(new Error(`load generator failed: ${m.error}`));
    });
    child.once('error', (err) => {
      if (!settled) reject(err);
    });
    child.once('exit', (code, signal) => {
      if (!settled) reject(new Error(`load generator exited (${code ?? signal}) without a result`));
    });
    child.send(spec);
  });
}
