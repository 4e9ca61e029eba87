/**
 * The operations ports in the deploy files (issue 12): Prometheus finds /metrics on each process's
 * OPS_PORT (control plane 9080, node 9081, the config defaults), and no public Service, load
 * balancer or published port carries it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { controlPlaneSchema } from '../../control-plane/config.js';
import { dataPlaneSchema } from '../../data-plane/config.js';
import { REPO_ROOT } from '../../shared/testing/index.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- parsed YAML, checked field by field

const CP_OPS = controlPlaneSchema.OPS_PORT.default;
const NODE_OPS = dataPlaneSchema().OPS_PORT.default;
const docs = parseAllDocuments(readFileSync(join(REPO_ROOT, 'deploy/k8s/linkplane.yaml'), 'utf8')).map((d) => d.toJSON() as Obj);
const find = (kind: string, name: string) => docs.find((d) => d.kind === kind && d.metadata?.name === name)!;
const compose = parse(readFileSync(join(REPO_ROOT, 'deploy/compose/compose.yaml'), 'utf8')) as Obj;

describe('operations ports in the deploy files', () => {
  it('defaults: control plane 9080, node 9081', () => {
    expect([CP_OPS, NODE_OPS]).toEqual([9080, 9081]);
  });

  it('k8s: each pod declares its ops port and tells Prometheus to scrape it', () => {
    for (const [kind, name, port] of [['Deployment', 'control-plane', CP_OPS], ['StatefulSet', 'node', NODE_OPS]] as const) {
      const pod = find(kind, name).spec.template;
      expect(pod.metadata.annotations).toEqual({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(port), 'prometheus.io/path': '/metrics' });
      const c = pod.spec.containers[0];
      expect(c.ports).toContainEqual({ containerPort: port, name: 'ops' });
      const opsHost = (c.env as Obj[]).find((e) => e.name === 'OPS_HOST')?.value ?? (name === 'node' ? dataPlaneSchema().OPS_HOST.default : controlPlaneSchema.OPS_HOST.default);
      expect(opsHost).toBe('0.0.0.0'); // reachable on the pod IP
    }
  });

  it('k8s: the public Services do not carry an ops port', () => {
    for (const name of ['redirects', 'control-plane']) {
      expect((find('Service', name).spec.ports as Obj[]).map((p) => p.targetPort)).toEqual(['http']);
    }
  });

  it('compose: ops ports exposed on the project network, never published on the host', () => {
    expect(compose.services['control-plane'].expose).toEqual([String(CP_OPS)]);
    expect(compose.services.node.expose).toEqual([String(NODE_OPS)]);
    expect(compose.services['control-plane'].environment.OPS_HOST).toBe('0.0.0.0');
    for (const s of Object.values(compose.services as Record<string, Obj>)) {
      for (const p of (s.ports ?? []) as string[]) expect(p).not.toMatch(/:(9080|9081)$/);
    }
  });

  it('Dockerfile exposes them', () => {
    expect(readFileSync(join(REPO_ROOT, 'deploy/container/Dockerfile'), 'utf8')).toMatch(/^EXPOSE 8080 8081 9080 9081$/m);
  });
});
