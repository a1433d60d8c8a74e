// `fnshift inject`: Deployments get the native sidecar, volumes and ports; the output passes the schemas
// and the strict key check; a second pass changes nothing; other documents pass through byte for byte;
// garbage is exit 2 with a clear error.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import { injectManifests } from '../../src/deploy/inject.ts';
import {
  DEFAULT_TOKEN_SECRET,
  sidecarContainer,
  sidecarPorts,
  sidecarVolumes,
} from '../../src/deploy/sidecar.ts';
import { type K8sObject, parseObjects, validateAll } from './k8s.ts';
import { runCli } from './process.ts';

const service = `# the Service stays as written
apiVersion: v1
kind: Service
metadata:
  name: shop   # odd spacing kept
spec:
  ports:
  - {port: 80, targetPort: 3000}
`;

// As `kubectl get deploy -o yaml` writes it: sequences level with their key.
const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop-bff
  labels:
    app: shop
spec:
  selector:
    matchLabels:
      app: shop
  template:
    metadata:
      labels:
        app: shop
    spec:
      terminationGracePeriodSeconds: 45
      containers:
      - name: app # the legacy app
        image: shop:1
        lifecycle:
          preStop:
            sleep:
              seconds: 5
      volumes:
      - name: tmp
        emptyDir: {}
`;

const configMap = `apiVersion: v1
kind: ConfigMap
metadata:
  name: fnshift-config
data:
  fnshift.yaml: |
    listen: 0.0.0.0:8080
`;

/** The pod spec of the `index`th object of a YAML stream (a Deployment). */
function podSpecOf(text: string, index = 0): IPodSpec {
  return (parseObjects(text)[index] as unknown as IDeployment).spec!.template.spec!;
}

test('adds fnshift as the first init container with restartPolicy Always, and its volumes', () => {
  const { text, reports } = injectManifests(deployment, { tokenSecret: DEFAULT_TOKEN_SECRET });
  assert.deepEqual(
    reports.map((r) => [r.name, r.action]),
    [['shop-bff', 'injected']],
  );
  const spec = podSpecOf(text);
  assert.deepEqual(spec.initContainers, [sidecarContainer({ tokenSecret: DEFAULT_TOKEN_SECRET })]);
  assert.equal(spec.initContainers?.[0]?.restartPolicy, 'Always');
  assert.deepEqual(
    spec.volumes?.map((v) => v.name),
    ['tmp', 'fnshift-config', 'fnshift-state', 'fnshift-admin-token'],
  );
  assert.deepEqual(spec.volumes?.slice(1), sidecarVolumes({ tokenSecret: DEFAULT_TOKEN_SECRET }));
  assert.equal(spec.containers[0]?.name, 'app');
  assert.match(text, /- name: app # the legacy app/, 'comments and the sequence style are kept');
});

test('the injected output passes the Kubernetes schemas and the strict key check', async () => {
  for (const isNative of [true, false]) {
    const { text } = injectManifests(`${service}---\n${deployment}`, { isNative, tokenSecret: 'tok' });
    assert.deepEqual(await validateAll(parseObjects(text)), [], `isNative=${isNative}`);
  }
});

test('probes the read-only probes port, and declares no port for the loopback admin API', () => {
  for (const isNative of [true, false]) {
    const spec = podSpecOf(injectManifests(deployment, { isNative, tokenSecret: 'tok' }).text);
    const sidecar = [...(spec.initContainers ?? []), ...spec.containers].find((c) => c.name === 'fnshift')!;
    for (const probe of [sidecar.startupProbe, sidecar.livenessProbe, sidecar.readinessProbe]) {
      assert.equal(probe?.httpGet?.port, sidecarPorts.probes.name, `isNative=${isNative}`);
      assert.equal(probe?.exec, undefined);
    }
    assert.deepEqual(
      sidecar.ports?.map((p) => [p.name, p.containerPort]),
      [
        [sidecarPorts.data.name, sidecarPorts.data.port],
        [sidecarPorts.probes.name, sidecarPorts.probes.port],
      ],
    );
    assert.ok(!sidecar.ports?.some((p) => p.containerPort === sidecarPorts.admin.port));
  }
});

test('injecting twice changes nothing', () => {
  const once = injectManifests(`${service}---\n${deployment}`).text;
  const twice = injectManifests(once);
  assert.equal(twice.text, once);
  assert.deepEqual(
    twice.reports.map((r) => r.action),
    ['unchanged'],
  );
});

test('passes documents that are not Deployments through byte for byte', () => {
  const input = `${service}---\n${configMap}---\n${deployment}---\n# trailing comment\n`;
  const { text } = injectManifests(input);
  assert.ok(text.startsWith(`${service}---\n${configMap}---\n`), text);
  assert.ok(text.endsWith('---\n# trailing comment\n'), text);
  assert.equal(injectManifests(`${service}---\n${configMap}`).text, `${service}---\n${configMap}`);
});

test('injects every Deployment of a List, as kubectl get deploy -o yaml prints several', () => {
  const list = {
    apiVersion: 'v1',
    kind: 'List',
    items: [parseObjects(deployment)[0], { ...parseObjects(configMap)[0] }, parseObjects(deployment)[0]],
  };
  (list.items[2] as K8sObject).metadata.name = 'other';
  const { text, reports } = injectManifests(JSON.stringify(list));
  assert.deepEqual(
    reports.map((r) => r.name),
    ['shop-bff', 'other'],
  );
  const items = (parseObjects(text)[0] as unknown as { items: IDeployment[] }).items;
  assert.equal(items[0]!.spec!.template.spec!.initContainers?.[0]?.name, 'fnshift');
  assert.equal(items[1]!.kind, 'ConfigMap');
  assert.equal(items[1]!.spec, undefined);
});

test('answers JSON with JSON, as kubectl get -o json | fnshift inject - expects', () => {
  const json = `${JSON.stringify(parseObjects(deployment)[0], null, 2)}\n`;
  const { text } = injectManifests(json);
  const out = JSON.parse(text) as IDeployment;
  assert.equal(out.spec?.template.spec?.initContainers?.[0]?.name, 'fnshift');
  assert.equal(injectManifests(text).text, text);
});

test('re-injecting with other flags updates the sidecar in place instead of adding a second one', () => {
  const native = injectManifests(deployment, { tokenSecret: 'tok' }).text;
  const classic = injectManifests(native, { isNative: false, image: 'registry.local/fnshift:2' });
  assert.equal(classic.reports[0]?.action, 'updated');
  const spec = podSpecOf(classic.text);
  assert.equal(spec.initContainers, undefined);
  assert.deepEqual(
    spec.containers.map((c) => c.name),
    ['app', 'fnshift'],
  );
  assert.equal(spec.containers[1]?.image, 'registry.local/fnshift:2');
  assert.equal(spec.containers[1]?.restartPolicy, undefined);
  assert.ok(!spec.volumes?.some((v) => v.name === 'fnshift-admin-token'));
});

test('hints at what it cannot fix: the Service, a missing preStop, a short grace period', () => {
  const bare = deployment
    .replace(/ {6}terminationGracePeriodSeconds: 45\n/, '')
    .replace(/ {8}lifecycle:\n {10}preStop:\n {12}sleep:\n {14}seconds: 5\n/, '');
  const { reports } = injectManifests(bare);
  const hints = reports[0]!.hints.join('\n');
  assert.match(hints, /container "app" has no preStop hook/);
  assert.match(hints, /terminationGracePeriodSeconds is unset/);
  assert.deepEqual(injectManifests(deployment).reports[0]!.hints, []);
});

test('the CLI reads stdin, writes YAML to stdout and reports on stderr', async () => {
  const result = await runCli(['inject', '-'], { input: `${service}---\n${deployment}` });
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stderr, /deployment shop-bff injected/);
  assert.match(result.stderr, /targetPort at "fnshift-http"/);
  const spec = podSpecOf(result.stdout, 1);
  assert.equal(spec.initContainers?.[0]?.name, 'fnshift');
  assert.equal(spec.initContainers?.[0]?.readinessProbe?.httpGet?.port, 'fnshift-probes');
  assert.ok(spec.volumes?.some((v) => v.secret?.secretName === 'fnshift-admin-token'));
  const again = await runCli(['inject', '-'], { input: result.stdout });
  assert.equal(again.stdout, result.stdout);
});

test('garbage input exits 2 with a clear error and writes nothing', async () => {
  const cases: Array<[string, RegExp]> = [
    ['just some words', /document 1 is not a Kubernetes object/],
    ['a: [1, 2\n', /document 1: YAML/],
    ['', /no Kubernetes objects in the input/],
    ['apiVersion: v1\nmetadata: {name: x}\n', /document 1 has no kind/],
    ['kind: Deployment\nmetadata: {name: x}\nspec: {}\n', /Deployment x has no spec.template.spec/],
  ];
  for (const [input, message] of cases) {
    assert.throws(
      () => injectManifests(input),
      { code: 'FNSHIFT_BAD_REQUEST', message },
      JSON.stringify(input),
    );
  }
  const garbage = await runCli(['inject', '-'], { input: '\u0000\u0001 just some words' });
  assert.equal(garbage.status, 2, garbage.stderr);
  assert.match(garbage.stderr, /^fnshift: stdin: document 1 /);
  assert.equal(garbage.stdout, '');
  const missing = await runCli(['inject', '/nonexistent/deploy.yaml'], { input: '' });
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /cannot read \/nonexistent\/deploy.yaml/);
});
