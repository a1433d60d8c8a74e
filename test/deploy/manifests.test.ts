// The kustomize base, the classic overlay and the component render offline and every object passes the
// Kubernetes schemas, the strict unknown-key check and the pod's own references; the sidecar they ship
// is the one `fnshift inject` writes, and the example config fits the ports and mounts.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import type { IPodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import type { IService } from 'kubernetes-models/v1/Service';
import { parseConfig } from '../../src/config/load.ts';
import {
  DEFAULT_TOKEN_SECRET,
  IMAGE_NODE,
  sidecarContainer,
  sidecarPaths,
  sidecarPorts,
  sidecarVolumes,
} from '../../src/deploy/sidecar.ts';
import { type K8sObject, kustomize, noKubectl, validateAll, validateObject } from './k8s.ts';

const kustomizeDir = new URL('../../deploy/kustomize/', import.meta.url).pathname;
const dockerfile = new URL('../../deploy/Dockerfile', import.meta.url);

const renders = new Map<string, Promise<K8sObject[]>>();

/** Renders each kustomization once per run; tests only read the objects. */
function render(dir: string): Promise<K8sObject[]> {
  const path = join(kustomizeDir, dir);
  if (!renders.has(path)) renders.set(path, kustomize(path));
  return renders.get(path)!;
}

function find<T>(objects: K8sObject[], kind: string, name?: string): T {
  const found = objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  assert.ok(found, `no ${kind}${name ? ` ${name}` : ''} in the output`);
  return found as unknown as T;
}

function podSpec(objects: K8sObject[], name = 'shop-bff'): IPodSpec {
  return find<IDeployment>(objects, 'Deployment', name).spec!.template.spec!;
}

function containerOf(spec: IPodSpec, name: string): IContainer {
  const c = [...(spec.initContainers ?? []), ...spec.containers].find((x) => x.name === name);
  assert.ok(c, `no ${name} container`);
  return c;
}

function envOf(container: IContainer): Record<string, string | undefined> {
  return Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value]));
}

function portOf(listen: string): number {
  return Number(listen.slice(listen.lastIndexOf(':') + 1));
}

/** Every probe of the sidecar is an httpGet on the read-only probes port, never the loopback admin API. */
function assertProbesOnProbesPort(container: IContainer) {
  const probes = [container.startupProbe, container.livenessProbe, container.readinessProbe];
  assert.deepEqual(
    probes.map((p) => [p?.httpGet?.port, p?.exec]),
    probes.map(() => [sidecarPorts.probes.name, undefined]),
  );
  assert.deepEqual(
    probes.map((p) => p?.httpGet?.path),
    ['/readyz', '/livez', '/readyz'],
  );
  const names = (container.ports ?? []).map((p) => p.name);
  assert.deepEqual(
    names,
    [sidecarPorts.data.name, sidecarPorts.probes.name],
    'the admin port is not declared',
  );
}

test('the base renders, and every object passes the schemas and the strict key check', {
  skip: noKubectl,
}, async () => {
  const objects = await render('base');
  assert.deepEqual(objects.map((o) => o.kind).sort(), ['Deployment', 'PodMonitor', 'Service']);
  assert.deepEqual(await validateAll(objects), []);
});

test('the base runs fnshift as a native sidecar identical to what fnshift inject writes', {
  skip: noKubectl,
}, async () => {
  const spec = podSpec(await render('base'));
  assert.equal(spec.initContainers?.[0]?.name, 'fnshift', 'fnshift comes first among the init containers');
  const options = { tokenSecret: DEFAULT_TOKEN_SECRET };
  assert.deepEqual(spec.initContainers?.[0], sidecarContainer(options));
  assertProbesOnProbesPort(spec.initContainers![0]!);
  for (const volume of sidecarVolumes(options)) {
    assert.deepEqual(
      spec.volumes?.find((v) => v.name === volume.name),
      volume,
    );
  }
});

test('the base follows the restricted profile, with a memory limit and no CPU limit', {
  skip: noKubectl,
}, async () => {
  const spec = podSpec(await render('base'));
  const user = /^USER (\d+):(\d+)$/m.exec(await readFile(dockerfile, 'utf8'));
  assert.ok(user, 'the Dockerfile sets a numeric USER');
  assert.equal(
    containerOf(spec, 'fnshift').securityContext?.runAsUser,
    Number(user[1]),
    'runAsUser is the image USER',
  );
  for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
    const sc = c.securityContext!;
    assert.equal(sc.runAsNonRoot, true, c.name);
    assert.equal(typeof sc.runAsUser, 'number', c.name);
    assert.equal(sc.allowPrivilegeEscalation, false, c.name);
    assert.equal(sc.readOnlyRootFilesystem, true, c.name);
    assert.deepEqual(sc.capabilities?.drop, ['ALL'], c.name);
    const { requests, limits } = c.resources!;
    assert.ok(requests?.cpu && requests.memory && limits?.memory, c.name);
    assert.equal(limits.cpu, undefined, `${c.name}: no CPU limit`);
  }
  assert.equal(spec.securityContext?.seccompProfile?.type, 'RuntimeDefault');
  assert.equal(containerOf(spec, 'fnshift').securityContext?.seccompProfile?.type, 'RuntimeDefault');
});

test('the example config fits the sidecar: ports, a loopback admin API, mounts, loopback legacy and the shutdown budget', {
  skip: noKubectl,
}, async () => {
  const spec = podSpec(await render('base'));
  const fnshift = containerOf(spec, 'fnshift');
  const result = parseConfig(await readFile(join(kustomizeDir, 'base/fnshift.yaml'), 'utf8'));
  assert.ok(result.ok, result.ok ? '' : result.problems.join('\n'));
  const config = result.config;
  const ports = Object.fromEntries((fnshift.ports ?? []).map((p) => [p.name, p.containerPort]));
  assert.equal(portOf(config.listen), ports[sidecarPorts.data.name]);
  // Changes and GET /routes on loopback only; the kubelet and Prometheus reach the pod IP, so the
  // read-only probes listener is the one there, on the port the probes and the PodMonitor name.
  assert.equal(config.admin.listen, `127.0.0.1:${sidecarPorts.admin.port}`);
  assert.ok(config.admin.probesListen?.startsWith('0.0.0.0:'), 'the probes listener faces the pod IP');
  assert.equal(portOf(config.admin.probesListen!), ports[sidecarPorts.probes.name]);
  assert.ok(
    !Object.values(ports).includes(portOf(config.admin.listen)),
    'the loopback admin port is not declared',
  );
  // The pod's other containers share loopback: changes still need the token.
  assert.equal(config.admin.tokenFile, sidecarPaths.tokenFile);
  const mounts = Object.fromEntries((fnshift.volumeMounts ?? []).map((m) => [m.name, m]));
  assert.equal(mounts['fnshift-config']?.mountPath, sidecarPaths.configDir);
  assert.equal(mounts['fnshift-config']?.subPath, undefined, 'a subPath mount never sees ConfigMap updates');
  assert.ok(config.state.file.startsWith(`${mounts['fnshift-state']?.mountPath}/`));
  assert.ok(config.admin.tokenFile.startsWith(`${mounts['fnshift-admin-token']?.mountPath}/`));
  assert.ok(
    spec.volumes?.find((v) => v.name === 'fnshift-state')?.emptyDir,
    'state on an emptyDir (the root filesystem is read-only)',
  );
  assert.deepEqual(fnshift.args, ['run', '-c', sidecarPaths.configFile]);

  const app = containerOf(spec, 'app');
  const env = envOf(app);
  const legacy = new URL(config.legacy.url);
  assert.equal(legacy.hostname, '127.0.0.1');
  assert.equal(env.HOST, '127.0.0.1');
  assert.equal(legacy.port, env.PORT);

  // Native sidecar shutdown: app preStop, app shutdown (allow 10 s), then fnshift's drain; all in the grace.
  const preStopSeconds = app.lifecycle?.preStop?.sleep?.seconds ?? 0;
  assert.ok(preStopSeconds >= 5);
  const budgetMs = preStopSeconds * 1000 + 10_000 + config.drain.timeoutMs;
  const graceSeconds = spec.terminationGracePeriodSeconds ?? 30;
  assert.ok(graceSeconds * 1000 > budgetMs, `grace ${graceSeconds} s must exceed ${budgetMs} ms`);
});

test('the Service reaches fnshift by its data port and the PodMonitor scrapes the probes port', {
  skip: noKubectl,
}, async () => {
  const objects = await render('base');
  const deployment = find<IDeployment>(objects, 'Deployment', 'shop-bff');
  const fnshift = containerOf(podSpec(objects), 'fnshift');
  const names = (fnshift.ports ?? []).map((p) => p.name);
  const labels = deployment.spec!.template.metadata!.labels!;
  const service = find<IService>(objects, 'Service', 'shop-bff');
  const targetPort = service.spec!.ports![0]!.targetPort;
  assert.equal(targetPort, 'fnshift-http');
  assert.ok(names.includes(targetPort));
  for (const [k, v] of Object.entries(service.spec!.selector!)) assert.equal(labels[k], v);
  const monitor = find<IPodMonitor>(objects, 'PodMonitor');
  const endpoint = monitor.spec.podMetricsEndpoints![0]!;
  assert.equal(endpoint.port, sidecarPorts.probes.name);
  assert.equal(endpoint.path, '/metrics');
  assert.ok(names.includes(endpoint.port));
  for (const [k, v] of Object.entries(monitor.spec.selector.matchLabels!)) assert.equal(labels[k], v);
  const otel = envOf(fnshift).OTEL_RESOURCE_ATTRIBUTES;
  assert.match(otel!, /k8s\.pod\.name=\$\(POD_NAME\)/);
  assert.match(otel!, /k8s\.namespace\.name=\$\(POD_NAMESPACE\)/);
  const order = (fnshift.env ?? []).map((e) => e.name);
  assert.ok(
    order.indexOf('POD_NAME') >= 0 && order.indexOf('POD_NAME') < order.indexOf('OTEL_RESOURCE_ATTRIBUTES'),
    '$(POD_NAME) expands only from a variable defined before it',
  );
});

test('the classic overlay runs fnshift as a regular container that sleeps before its drain', {
  skip: noKubectl,
}, async () => {
  const objects = await render('overlays/classic-sidecar');
  assert.deepEqual(await validateAll(objects), []);
  const spec = podSpec(objects);
  assert.equal(spec.initContainers, undefined);
  const fnshift = spec.containers.find((c) => c.name === 'fnshift');
  assert.ok(fnshift, 'fnshift is among the containers');
  assert.equal(fnshift.restartPolicy, undefined);
  const { restartPolicy: _, ...native } = sidecarContainer({ tokenSecret: DEFAULT_TOKEN_SECRET });
  const { lifecycle, ...rest } = fnshift;
  assert.deepEqual(rest, native);
  assertProbesOnProbesPort(fnshift);
  // The sleep action needs 1.30; before 1.29 only exec works, and distroless has only node.
  assert.equal(lifecycle?.preStop?.exec?.command?.[0], IMAGE_NODE);
  assert.deepEqual(containerOf(spec, 'app').lifecycle?.preStop?.exec?.command, ['sleep', '15']);
});

test('the component adds the sidecar only to annotated Deployments, before their own init containers', {
  skip: noKubectl,
}, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fnshift-component-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const deployment = (name: string, annotated: boolean) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
${annotated ? '  annotations:\n    fnshift.dev/inject: enabled\n' : ''}spec:
  selector:
    matchLabels: {app: ${name}}
  template:
    metadata:
      labels: {app: ${name}}
    spec:
      initContainers:
        - name: migrate
          image: ${name}:1
      containers:
        - name: web
          image: ${name}:1
`;
  await writeFile(join(dir, 'a.yaml'), deployment('orders', true));
  await writeFile(join(dir, 'b.yaml'), deployment('billing', false));
  await writeFile(
    join(dir, 'kustomization.yaml'),
    `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [a.yaml, b.yaml]
components: [${relative(dir, join(kustomizeDir, 'components/fnshift-sidecar'))}]
`,
  );
  const objects = await kustomize(dir);
  assert.deepEqual(await validateAll(objects), []);
  assert.deepEqual(
    podSpec(objects, 'orders').initContainers?.map((c) => c.name),
    ['fnshift', 'migrate'],
  );
  assertProbesOnProbesPort(containerOf(podSpec(objects, 'orders'), 'fnshift'));
  const billing = podSpec(objects, 'billing');
  assert.deepEqual(
    billing.initContainers?.map((c) => c.name),
    ['migrate'],
  );
  assert.equal(billing.volumes, undefined);
});

/** A deep copy to break on purpose; the loose type lets a test write keys no schema has. */
type Loose = { [key: string]: Loose } & Loose[];

test('the strict check catches a misspelled field, a bad enum and a dangling reference the schemas let through', async () => {
  const options = { tokenSecret: DEFAULT_TOKEN_SECRET };
  const base = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'x' },
    spec: {
      selector: { matchLabels: { app: 'x' } },
      template: {
        metadata: { labels: { app: 'x' } },
        spec: {
          initContainers: [sidecarContainer(options)],
          containers: [{ name: 'app', image: 'x:1' }],
          volumes: sidecarVolumes(options),
        },
      },
    },
  };
  const broken = (change: (pod: Loose) => void): K8sObject => {
    const copy = structuredClone(base) as unknown as Loose;
    change(copy.spec!.template!.spec!);
    return copy as unknown as K8sObject;
  };
  assert.deepEqual(await validateObject(base), []);

  const typo = broken((pod) => {
    const sidecar = pod.initContainers![0]!;
    sidecar.restartPolcy = sidecar.restartPolicy!;
    delete sidecar.restartPolicy;
    pod.containers![0]!.securityContext = { runAsNonroot: true } as unknown as Loose;
  });
  assert.deepEqual(await validateObject(typo), [
    'Deployment/x: /spec/template/spec/initContainers/0/restartPolcy: unknown field',
    'Deployment/x: /spec/template/spec/containers/0/securityContext/runAsNonroot: unknown field',
  ]);

  const badEnum = broken((pod) => {
    pod.initContainers![0]!.restartPolicy = 'Sometimes' as unknown as Loose;
  });
  assert.match(
    (await validateObject(badEnum)).join('\n'),
    /restartPolicy: "Sometimes" is not one of \[Always\]/,
  );

  const dangling = broken((pod) => {
    pod.volumes = [] as unknown as Loose;
    pod.initContainers![0]!.livenessProbe!.httpGet!.port = 'admin' as unknown as Loose;
  });
  const problems = (await validateObject(dangling)).join('\n');
  assert.match(problems, /volumeMount "fnshift-config" names no volume/);
  assert.match(problems, /livenessProbe: port "admin" is not a port of this container/);

  const quantity = broken((pod) => {
    pod.initContainers![0]!.resources!.requests!.cpu = 'fifty' as unknown as Loose;
  });
  assert.notDeepEqual(await validateObject(quantity), [], 'the schema rejects a bad quantity');

  const monitor = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PodMonitor',
    metadata: { name: 'm' },
    spec: { selector: {}, podMetricsEndpoints: [{ port: 'fnshift-probes', intervall: '30s' }] },
  };
  assert.deepEqual(await validateObject(monitor), [
    'PodMonitor/m: /spec/podMetricsEndpoints/0/intervall: unknown field',
  ]);
});
