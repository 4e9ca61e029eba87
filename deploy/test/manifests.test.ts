/**
 * The deploy files against their schemas and against each other: every Kubernetes manifest through
 * kubernetes-models (the API's OpenAPI schemas), the compose file through dclint (the Compose
 * spec's schema and its rules) and, where Debian's docker-compose 1.29 is installed, its own
 * `config` check. Then what the schemas cannot see: the namespace the NATS URL assumes, the
 * StatefulSet's headless Service, pull policy of a local image, a non-root user that can write
 * the data volume, WORKERS within the memory limit.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { NODE_BASE_BYTES, WORKER_BYTES } from '../../data-plane/default-workers.js';
import { REPO_ROOT } from '../../shared/testing/index.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- parsed YAML, checked field by field

const K8S = join(REPO_ROOT, 'deploy/k8s/linkplane.yaml');
const COMPOSE = join(REPO_ROOT, 'deploy/compose/compose.yaml');
const IMAGE_UID = 1000;

const docs: Obj[] = parseAllDocuments(readFileSync(K8S, 'utf8')).map((d) => {
  expect(d.errors).toEqual([]);
  return d.toJSON() as Obj;
});
const find = (kind: string, name: string) => docs.find((d) => d.kind === kind && d.metadata?.name === name);

/** apiVersion `apps/v1` → module `kubernetes-models/apps/v1`; core `v1` → `kubernetes-models/v1`. */
async function modelFor(apiVersion: string, kind: string): Promise<new (o: Obj) => { validate(): void }> {
  const mod = (await import(`kubernetes-models/${apiVersion}`)) as Record<string, new (o: Obj) => { validate(): void }>;
  const cls = mod[kind];
  if (!cls) throw new Error(`kubernetes-models has no ${apiVersion} ${kind}`);
  return cls;
}

function mib(q: string): number {
  const m = /^(\d+)(Mi|Gi)$/.exec(q);
  if (!m) throw new Error(`unexpected quantity ${q}`);
  return Number(m[1]) * (m[2] === 'Gi' ? 1024 : 1) * 1024 * 1024;
}

describe('deploy/k8s/linkplane.yaml', () => {
  it('has the expected objects, each valid against the Kubernetes schema', async () => {
    expect(docs.map((d) => `${d.kind}/${d.metadata?.name}`)).toEqual([
      'Namespace/linkplane', 'Secret/linkplane', 'ConfigMap/linkplane', 'Deployment/control-plane', 'Service/control-plane',
      'Service/node', 'StatefulSet/node', 'Service/redirects', 'PodDisruptionBudget/node',
    ]);
    for (const d of docs) {
      const Model = await modelFor(d.apiVersion as string, d.kind as string);
      expect(() => new Model(d).validate(), `${d.kind}/${d.metadata?.name}`).not.toThrow();
    }
  });

  it('rejects what the schema forbids (the validator is not a no-op)', async () => {
    const sts = structuredClone(find('StatefulSet', 'node')!);
    sts.spec.template.spec.containers[0].imagePullPolicy = 'Sometimes';
    const Model = await modelFor('apps/v1', 'StatefulSet');
    expect(() => new Model(sts).validate()).toThrow(/imagePullPolicy must be equal to one of the allowed values/);
  });

  it('puts everything in the namespace the NATS URL and the helm command assume', () => {
    for (const d of docs.filter((x) => x.kind !== 'Namespace')) expect(d.metadata.namespace, `${d.kind}/${d.metadata.name}`).toBe('linkplane');
    expect(find('ConfigMap', 'linkplane')!.data.NATS_URL).toBe('nats://nats.linkplane.svc:4222');
    expect(readFileSync(K8S, 'utf8')).toContain('helm install nats nats/nats -n linkplane -f deploy/k8s/nats-values.yaml');
  });

  it("gives the StatefulSet its headless Service, selecting the StatefulSet's pods", () => {
    const sts = find('StatefulSet', 'node')!;
    const svc = find('Service', sts.spec.serviceName as string);
    expect(svc?.spec.clusterIP).toBe('None');
    expect(svc?.spec.selector).toEqual(sts.spec.template.metadata.labels);
  });

  it('runs the local image as its non-root user, with a data volume that user can write', () => {
    for (const w of [find('Deployment', 'control-plane')!, find('StatefulSet', 'node')!]) {
      const pod = w.spec.template.spec;
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: IMAGE_UID, runAsGroup: IMAGE_UID });
      for (const c of pod.containers as Obj[]) {
        expect(c.image).toBe('linkplane:0.1.0');
        expect(c.imagePullPolicy).toBe('IfNotPresent');
      }
    }
    const node = find('StatefulSet', 'node')!.spec.template.spec;
    expect(node.securityContext.fsGroup).toBe(IMAGE_UID);
    const mount = (node.containers[0].volumeMounts as Obj[]).find((m) => m.name === 'data');
    const env = Object.fromEntries((node.containers[0].env as Obj[]).map((e) => [e.name, e.value]));
    expect(String(env.LMDB_PATH).startsWith(`${mount?.mountPath}/`)).toBe(true);
  });

  it('sets WORKERS so that the serving threads fit under the memory limit', () => {
    const c = find('StatefulSet', 'node')!.spec.template.spec.containers[0];
    const workers = Number((c.env as Obj[]).find((e) => e.name === 'WORKERS')?.value);
    const limit = mib(c.resources.limits.memory as string);
    expect(workers).toBe(2);
    expect(NODE_BASE_BYTES + workers * WORKER_BYTES).toBeLessThanOrEqual(limit);
  });
});

/** dclint's error-level findings for one file (style warnings aside). */
function dclintErrors(file: string): { rule: string; message: string }[] {
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'node_modules/dclint/bin/dclint.cjs'), file, '-f', 'json', '--color', 'false'], { encoding: 'utf8' });
  const report = JSON.parse(r.stdout) as { messages: { type: string; rule: string; message: string }[] }[];
  return report.flatMap((f) => f.messages.filter((m) => m.type === 'error').map(({ rule, message }) => ({ rule, message })));
}

describe('deploy/compose/compose.yaml', () => {
  const compose = parse(readFileSync(COMPOSE, 'utf8')) as Obj;

  it('passes dclint (Compose spec schema and rules): no errors', () => {
    expect(dclintErrors(COMPOSE)).toEqual([]);
  });

  it('dclint catches a schema violation (the linter is not a no-op)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lp-compose-'));
    try {
      const broken = join(dir, 'compose.yaml');
      writeFileSync(broken, readFileSync(COMPOSE, 'utf8').replace(/^ {2}node:$/m, '  node:\n    bogus_key: 1'));
      expect(dclintErrors(broken).map((m) => m.rule)).toContain('invalid-schema');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('has no top-level name (the docker-compose 1.29 Debian ships refuses it)', () => {
    expect(Object.keys(compose)).not.toContain('name');
  });

  it.skipIf(!existsSync('/usr/bin/docker-compose'))('is accepted by docker-compose config (Debian docker-compose 1.29)', () => {
    const r = spawnSync('/usr/bin/docker-compose', ['-p', 'linkplane', '-f', COMPOSE, 'config', '-q'], {
      encoding: 'utf8',
      env: { ...process.env, BOOTSTRAP_ADMIN_KEY: 'x'.repeat(40), SECRETS_KEY: Buffer.alloc(32, 7).toString('base64') },
    });
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
  });

  it('runs the nodes on the image with a /data volume and WORKERS set', () => {
    const node = compose.services.node as Obj;
    expect(node.image).toBe('linkplane:0.1.0');
    expect(node.volumes).toEqual(['/data']);
    expect(node.environment.LMDB_PATH).toBe('/data/lmdb');
    expect(node.environment.WORKERS).toBe('2');
    expect(node.user).toBeUndefined(); // the image's USER, which owns /data (image-user.test.ts)
  });
});
