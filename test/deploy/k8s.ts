// Offline Kubernetes manifest checks: kubernetes-models' schema validators (types, required fields,
// quantities), a strict unknown-key check those validators cannot do, and a few apiserver rules the
// OpenAPI schemas do not carry. Plus `kubectl kustomize` to render, skipped where kubectl is absent.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';

export type K8sObject = Record<string, unknown> & {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
};

type ModelClass = { prototype: { validate(this: unknown): void } };

const run = promisify(execFile);

export const kubectlPath = ['/usr/bin/kubectl', '/usr/local/bin/kubectl'].find((p) => existsSync(p));
export const noKubectl = kubectlPath
  ? false
  : 'kubectl is not installed: the kustomize rendering checks need `kubectl kustomize`';

export async function kustomize(dir: string): Promise<K8sObject[]> {
  const { stdout } = await run(kubectlPath!, ['kustomize', dir], { maxBuffer: 16 * 1024 * 1024 });
  return parseObjects(stdout);
}

export function parseObjects(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((doc) => {
      if (doc.errors.length > 0) throw doc.errors[0];
      return doc.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null);
}

async function modelOf(apiVersion: string, kind: string): Promise<ModelClass | undefined> {
  const specifier = apiVersion.startsWith('monitoring.coreos.com/')
    ? `@kubernetes-models/prometheus-operator/${apiVersion}`
    : `kubernetes-models/${apiVersion}`;
  try {
    return ((await import(specifier)) as Record<string, ModelClass | undefined>)[kind];
  } catch {
    return undefined;
  }
}

/**
 * Runs the generated validator over a Proxy that records which keys it reads at each path. The
 * validator reads every property its schema declares (`data.x !== undefined`) and enumerates maps
 * (`for (k in data)`), so a key it never read is one the schema does not know: a typo.
 */
function validateTracking(model: ModelClass, object: unknown) {
  const readKeys = new Map<string, Set<string> | 'any'>();
  const mark = (path: string, key: string) => {
    const seen = readKeys.get(path);
    if (seen === 'any') return;
    if (seen) seen.add(key);
    else readKeys.set(path, new Set([key]));
  };
  const track = (value: unknown, path: string): unknown => {
    if (value === null || typeof value !== 'object') return value;
    const isArray = Array.isArray(value);
    return new Proxy(value, {
      get(target, key, receiver) {
        const child = Reflect.get(target, key, receiver);
        if (typeof key !== 'string' || (isArray && !/^\d+$/.test(key))) return child;
        if (!isArray) mark(path, key);
        return track(child, `${path}/${key}`);
      },
      has(target, key) {
        if (typeof key === 'string' && !isArray) mark(path, key);
        return Reflect.has(target, key);
      },
      ownKeys(target) {
        if (!isArray) readKeys.set(path, 'any');
        return Reflect.ownKeys(target);
      },
    });
  };
  let schemaError: string | undefined;
  try {
    model.prototype.validate.call(track(object, ''));
  } catch (error) {
    schemaError = (error as Error).message;
  }
  return { schemaError, readKeys };
}

function unknownKeys(value: unknown, path: string, readKeys: Map<string, Set<string> | 'any'>): string[] {
  if (value === null || typeof value !== 'object') return [];
  if (Array.isArray(value)) return value.flatMap((v, i) => unknownKeys(v, `${path}/${i}`, readKeys));
  const known = readKeys.get(path);
  const problems: string[] = [];
  for (const [key, child] of Object.entries(value)) {
    // Never looked at: the schema leaves this object open (or its parent was already reported).
    if (known === undefined) continue;
    if (known !== 'any' && !known.has(key)) {
      problems.push(`${path}/${key}: unknown field`);
      continue;
    }
    problems.push(...unknownKeys(child, `${path}/${key}`, readKeys));
  }
  return problems;
}

/** Enums the OpenAPI schemas dropped (they live in descriptions); only those our manifests use. */
const enumRules: Array<[RegExp, readonly string[], string]> = [
  [/\/initContainers\/\d+\/restartPolicy$/, ['Always'], 'an init container takes only Always'],
  [/\/containers\/\d+\/restartPolicy$/, [], 'a regular container takes none (before ContainerRestartRules)'],
  [/\/imagePullPolicy$/, ['Always', 'IfNotPresent', 'Never'], ''],
  [/\/ports\/\d+\/protocol$/, ['TCP', 'UDP', 'SCTP'], ''],
  [/\/seccompProfile\/type$/, ['RuntimeDefault', 'Localhost', 'Unconfined'], ''],
  [/^\/spec\/template\/spec\/restartPolicy$/, ['Always'], 'a Deployment takes only Always'],
];

function enumProblems(value: unknown, path: string): string[] {
  if (value === null || typeof value !== 'object') {
    const rule = enumRules.find(([pattern]) => pattern.test(path));
    if (!rule || rule[1].includes(String(value))) return [];
    return [
      `${path}: "${String(value)}" is not one of [${rule[1].join(', ')}]${rule[2] ? ` (${rule[2]})` : ''}`,
    ];
  }
  return Object.entries(value).flatMap(([k, v]) => enumProblems(v, `${path}/${k}`));
}

const IANA_SVC_NAME = /^(?=.{1,15}$)(?=.*[a-z])[a-z0-9]+(-[a-z0-9]+)*$/;

type Container = {
  name: string;
  ports?: Array<{ name?: string; containerPort: number }>;
  volumeMounts?: Array<{ name: string }>;
  startupProbe?: { httpGet?: { port: unknown } };
  livenessProbe?: { httpGet?: { port: unknown } };
  readinessProbe?: { httpGet?: { port: unknown } };
};

/** Rules the apiserver enforces in code, not in the schema: names, references inside the pod. */
function podSpecProblems(spec: Record<string, unknown>, path: string): string[] {
  const problems: string[] = [];
  const all = [
    ...((spec.initContainers ?? []) as Container[]).map(
      (c, i) => [c, `${path}/initContainers/${i}`] as const,
    ),
    ...((spec.containers ?? []) as Container[]).map((c, i) => [c, `${path}/containers/${i}`] as const),
  ];
  const names = all.map(([c]) => c.name);
  for (const name of names.filter((n, i) => names.indexOf(n) !== i)) {
    problems.push(`${path}: container name "${name}" is used twice`);
  }
  const volumes = new Set(((spec.volumes ?? []) as Array<{ name: string }>).map((v) => v.name));
  for (const [c, at] of all) {
    const portNames = (c.ports ?? []).flatMap((p) => (p.name ? [p.name] : []));
    for (const name of portNames) {
      if (!IANA_SVC_NAME.test(name))
        problems.push(`${at}: port name "${name}" is not an IANA_SVC_NAME (≤ 15)`);
    }
    for (const m of c.volumeMounts ?? []) {
      if (!volumes.has(m.name)) problems.push(`${at}: volumeMount "${m.name}" names no volume`);
    }
    for (const kind of ['startupProbe', 'livenessProbe', 'readinessProbe'] as const) {
      const port = c[kind]?.httpGet?.port;
      if (typeof port === 'string' && !portNames.includes(port)) {
        problems.push(`${at}/${kind}: port "${port}" is not a port of this container`);
      }
    }
  }
  return problems;
}

/** Every problem found in one object; an empty list means it is valid. */
export async function validateObject(object: K8sObject): Promise<string[]> {
  const where = `${object.kind}/${object.metadata?.name ?? '?'}`;
  const model = await modelOf(object.apiVersion, object.kind);
  if (!model) return [`${where}: no schema for ${object.apiVersion} ${object.kind}`];
  const { schemaError, readKeys } = validateTracking(model, object);
  const problems = schemaError
    ? [schemaError]
    : [...unknownKeys(object, '', readKeys), ...enumProblems(object, '')];
  const template = (object.spec as { template?: { spec?: Record<string, unknown> } } | undefined)?.template;
  if (template?.spec) problems.push(...podSpecProblems(template.spec, '/spec/template/spec'));
  return problems.map((p) => `${where}: ${p}`);
}

export async function validateAll(objects: K8sObject[]): Promise<string[]> {
  return (await Promise.all(objects.map(validateObject))).flat();
}
