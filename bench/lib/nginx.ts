/**
 * The yardstick: nginx (the Debian package) with a `map` of the same links and `return 302`,
 * one worker process, pinned to the same core as our node. Its configuration and temp files live
 * in a scratch directory the caller removes.
 */
import { spawnSync } from 'node:child_process';
import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { childPidsOf } from './proc-stat.js';
import { startProc, type Proc } from './processes.js';
import { waitForAnswer } from './http-probe.js';

export interface NginxInfo {
  path: string;
  version: string;
}

/** The nginx binary and its version, or null when it is not installed. */
export function findNginx(): NginxInfo | null {
  for (const path of ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx', 'nginx']) {
    const r = spawnSync(path, ['-v'], { encoding: 'utf8' });
    if (r.status === 0) return { path, version: (r.stderr || r.stdout).trim().replace(/^nginx version:\s*/, '') };
  }
  return null;
}

export interface RunningNginx {
  port: number;
  /** Master + worker: the CPU of both is counted. */
  pids(): number[];
  workerPid(): number | null;
  proc: Proc;
  /** Seconds from start to the first correct answer (parsing the map included). */
  startSeconds: number;
  stop(): Promise<void>;
}

function quote(s: string): string {
  return `"${s.replace(/["\\]/g, '\\$&')}"`;
}

/** Writes `<dir>/links.map` (`"host/path" "destination";` per line). */
export async function writeNginxMap(dir: string, host: string, entries: Iterable<[string, string]>): Promise<number> {
  const out = createWriteStream(join(dir, 'links.map'));
  let n = 0;
  let chunk = '';
  for (const [path, dest] of entries) {
    chunk += `${quote(`${host}/${path}`)} ${quote(dest)};\n`;
    n++;
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
  return n;
}

export interface NginxVariant {
  /** The map file (default `<dir>/links.map`): several instances can share one. */
  mapFile?: string;
  /**
   * Log every request as a click would be kept: a buffered access log (64 KiB buffer, written when
   * full) with the fields a click records — time, client and proxy addresses, host, path, query,
   * status, destination, user agent, referer, language.
   */
  accessLog?: boolean;
  /** worker_processes (default 1). */
  workers?: number;
}

/** The log format of `accessLog`: the fields a click keeps. */
export const CLICK_LOG_FORMAT =
  '$msec $remote_addr "$http_x_forwarded_for" $host "$uri" "$args" $status "$lp_destination" "$http_user_agent" "$http_referer" "$http_accept_language"';

export function nginxConfig(dir: string, port: number, entries: number, v: NginxVariant = {}): string {
  const log = v.accessLog ? `log_format click '${CLICK_LOG_FORMAT}';\n  access_log ${dir}/access.log click buffer=64k;` : 'access_log off;';
  return `worker_processes ${v.workers ?? 1};
daemon off;
master_process on;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events {
  worker_connections 8192;
}
http {
  ${log}
  server_tokens off;
  keepalive_requests 1000000000;
  keepalive_timeout 300s;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  map_hash_max_size ${Math.max(2048, 2 ** Math.ceil(Math.log2(entries * 1.25)))};
  map_hash_bucket_size 128;
  map $host$uri $lp_destination {
    default "";
    include ${v.mapFile ?? join(dir, 'links.map')};
  }
  server {
    listen 127.0.0.1:${port} default_server backlog=4096;
    location / {
      if ($lp_destination = "") {
        return 404;
      }
      return 302 $lp_destination;
    }
  }
}
`;
}

/** Starts nginx on `port` over the map already written in `dir`; resolves once `probePath` answers 302. */
export async function startNginx(opts: {
  nginx: NginxInfo;
  dir: string;
  port: number;
  entries: number;
  host: string;
  probePath: string;
  cpus: string | null;
  variant?: NginxVariant;
}): Promise<RunningNginx> {
  const { dir, port } = opts;
  mkdirSync(join(dir, 'tmp'), { recursive: true });
  writeFileSync(join(dir, 'nginx.conf'), nginxConfig(dir, port, opts.entries, opts.variant));
  const t0 = performance.now();
  const proc = startProc('nginx', opts.nginx.path, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], { cpus: opts.cpus });
  try {
    await waitForAnswer({ port, host: opts.host, path: `/${opts.probePath}`, status: 302, timeoutMs: 300_000, alive: proc.alive });
  } catch (err) {
    await proc.stop(2000);
    throw err;
  }
  const startSeconds = (performance.now() - t0) / 1000;
  const workerPid = () => childPidsOf(proc.pid)[0] ?? null;
  return {
    port,
    proc,
    startSeconds,
    workerPid,
    pids: () => [proc.pid, ...childPidsOf(proc.pid)],
    // SIGQUIT: graceful shutdown of master and workers
    async stop() {
      if (proc.alive()) proc.child.kill('SIGQUIT');
      const t = setTimeout(() => proc.child.kill('SIGKILL'), 5000);
      await proc.exited;
      clearTimeout(t);
      await proc.stop();
    },
  };
}
