/** A plane started by the all-in-one launcher: its JSON log lines relayed, its exit awaited. */
import { spawn, type ChildProcess } from 'node:child_process';
import { levelRank } from '../../shared/index.js';

export interface Child {
  name: string;
  proc: ChildProcess;
  exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<number | null>;
}


/**
 * Starts `node <script>` in its own process group (so Ctrl-C reaches the launcher, which stops the
 * planes in order) with `env` added to the launcher's environment.
 */
export function startChild(name: string, script: string, env: Record<string, string>, opts: { verbose: boolean; baseEnv: NodeJS.ProcessEnv; nodeFlags?: readonly string[] }): Child {
  const proc = spawn(process.execPath, [...(opts.nodeFlags ?? []), '--enable-source-maps', script], {
    env: { ...opts.baseEnv, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const relay = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) {
      if (!line) continue;
      let level = 'error';
      let msg = line;
      try {
        const j = JSON.parse(line) as { level?: string; msg?: string; err?: { message?: string } };
        level = j.level ?? 'info';
        msg = `${j.msg ?? ''}${j.err?.message ? ` (${j.err.message})` : ''}`;
      } catch {
        // not JSON (a crash trace, a config error): always shown
      }
      if (opts.verbose) process.stdout.write(`[${name}] ${line}\n`);
      else if (levelRank(level) >= levelRank('warn')) process.stdout.write(`[${name}] ${level}: ${msg}\n`);
    }
  };
  proc.stdout!.on('data', relay);
  proc.stderr!.on('data', relay);
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return {
    name,
    proc,
    exited,
    async stop(graceMs = 15_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
