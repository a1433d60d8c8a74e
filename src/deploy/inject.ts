// `fnshift inject` as a pure text transform (like `linkerd inject`): Deployments in a YAML stream get the
// sidecar, its volumes and ports; every other document, and every Deployment already injected the same
// way, comes back byte for byte.
import { isDeepStrictEqual } from 'node:util';
import { type Document, isMap, isScalar, isSeq, parseAllDocuments, type YAMLMap, type YAMLSeq } from 'yaml';
import { FnshiftError } from '../errors.ts';
import {
  SIDECAR_NAME,
  type SidecarOptions,
  sidecarContainer,
  sidecarPorts,
  sidecarVolumeNames,
  sidecarVolumes,
} from './sidecar.ts';

export type InjectReport = {
  name: string;
  action: 'injected' | 'updated' | 'unchanged';
  /** What the sidecar cannot fix by itself, for the operator to read (stderr). */
  hints: string[];
};

export type InjectResult = { text: string; reports: InjectReport[] };

/** Long enough for the app's preStop sleep, its own shutdown and fnshift's drain (see docs/deploy.md). */
export const MIN_GRACE_SECONDS = 45;

function badInput(message: string): FnshiftError {
  return new FnshiftError('FNSHIFT_BAD_REQUEST', message);
}

function nameOf(node: unknown): unknown {
  return isMap(node) ? node.get('name') : undefined;
}

/** Puts `wanted` where an item of the same name is, or inserts it; says whether anything changed. */
function upsertByName(
  doc: Document,
  parent: YAMLMap,
  key: string,
  wanted: Record<string, unknown>,
  at: 'start' | 'end',
) {
  const node = parent.get(key, true);
  const isAbsent = node === undefined || (isScalar(node) && node.value === null);
  if (isAbsent || (isSeq(node) && node.items.length === 0)) {
    parent.set(key, doc.createNode([wanted]));
    return true;
  }
  if (!isSeq(node)) throw badInput(`${key} must be a list`);
  const seq = node as YAMLSeq;
  const index = seq.items.findIndex((item) => nameOf(item) === wanted.name);
  if (index === -1) {
    if (at === 'start') seq.items.unshift(doc.createNode(wanted));
    else seq.items.push(doc.createNode(wanted));
    return true;
  }
  const existing = seq.items[index] as YAMLMap;
  if (isDeepStrictEqual(existing.toJSON(), wanted)) return false;
  seq.items[index] = doc.createNode(wanted);
  return true;
}

function removeByName(parent: YAMLMap, key: string, name: string): boolean {
  const seq = parent.get(key, true);
  if (!isSeq(seq)) return false;
  const index = seq.items.findIndex((item) => nameOf(item) === name);
  if (index === -1) return false;
  seq.items.splice(index, 1);
  if (seq.items.length === 0) parent.delete(key);
  return true;
}

function hintsFor(podSpec: Record<string, unknown>, deployment: string): string[] {
  const hints: string[] = [];
  const containers = (podSpec.containers ?? []) as Array<Record<string, unknown>>;
  for (const c of containers) {
    if (c.name === SIDECAR_NAME) continue;
    const lifecycle = c.lifecycle as { preStop?: unknown } | undefined;
    if (!lifecycle?.preStop) {
      hints.push(
        `${deployment}: container "${String(c.name)}" has no preStop hook; add lifecycle.preStop.sleep.seconds: 5 so it keeps serving while endpoints are removed`,
      );
    }
  }
  const grace = podSpec.terminationGracePeriodSeconds;
  if (typeof grace !== 'number' || grace < MIN_GRACE_SECONDS) {
    hints.push(
      `${deployment}: terminationGracePeriodSeconds is ${grace ?? 'unset (30)'}; ${MIN_GRACE_SECONDS} covers a 5 s preStop, the app's shutdown and fnshift's drain`,
    );
  }
  return hints;
}

function injectPodSpec(
  doc: Document,
  path: Array<string | number>,
  deployment: string,
  options: SidecarOptions,
): InjectReport {
  const podSpec = doc.getIn([...path, 'spec', 'template', 'spec'], true);
  if (!isMap(podSpec)) throw badInput(`Deployment ${deployment} has no spec.template.spec`);
  const containers = podSpec.get('containers', true);
  if (!isSeq(containers) || containers.items.length === 0) {
    throw badInput(`Deployment ${deployment} has no containers`);
  }
  const isNative = options.isNative ?? true;
  const wasInjected = [podSpec.get('initContainers', true), containers].some(
    (seq) => isSeq(seq) && seq.items.some((item) => nameOf(item) === SIDECAR_NAME),
  );
  const container = sidecarContainer({ ...options, isNative });
  // First in initContainers, so any later init container can already call through it.
  let isChanged = isNative
    ? upsertByName(doc, podSpec, 'initContainers', container, 'start')
    : upsertByName(doc, podSpec, 'containers', container, 'end');
  // Switching between native and classic moves the container rather than running two.
  isChanged = removeByName(podSpec, isNative ? 'containers' : 'initContainers', SIDECAR_NAME) || isChanged;
  const volumes = sidecarVolumes(options);
  for (const volume of volumes) isChanged = upsertByName(doc, podSpec, 'volumes', volume, 'end') || isChanged;
  for (const name of sidecarVolumeNames) {
    if (!volumes.some((v) => v.name === name))
      isChanged = removeByName(podSpec, 'volumes', name) || isChanged;
  }
  return {
    name: deployment,
    action: !isChanged ? 'unchanged' : wasInjected ? 'updated' : 'injected',
    hints: hintsFor(podSpec.toJSON() as Record<string, unknown>, deployment),
  };
}

function kindOf(node: unknown, where: string): string {
  if (!isMap(node)) throw badInput(`${where} is not a Kubernetes object (a mapping with kind)`);
  const kind = node.get('kind');
  if (typeof kind !== 'string' || kind === '') throw badInput(`${where} has no kind`);
  return kind;
}

function objectName(node: YAMLMap): string {
  const name = node.getIn(['metadata', 'name']);
  return typeof name === 'string' ? name : '(unnamed)';
}

/** Injects one document in place; returns the reports of the Deployments it held. */
function injectDocument(doc: Document, where: string, options: SidecarOptions): InjectReport[] {
  const kind = kindOf(doc.contents, where);
  const root = doc.contents as YAMLMap;
  if (kind === 'Deployment') return [injectPodSpec(doc, [], objectName(root), options)];
  if (kind !== 'List') return [];
  // `kubectl get deploy -o yaml` without a name answers with a List.
  const items = root.get('items', true);
  if (!isSeq(items)) return [];
  const reports: InjectReport[] = [];
  items.items.forEach((item, i) => {
    if (kindOf(item, `${where}, items[${i}]`) !== 'Deployment') return;
    reports.push(injectPodSpec(doc, ['items', i], objectName(item as YAMLMap), options));
  });
  return reports;
}

/** A `---` with nothing (or only comments) after it. */
function isEmpty(doc: Document): boolean {
  return doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null);
}

/** kubectl writes `- name:` level with its parent key; keep the file's own style where we rewrite. */
function isSeqIndented(source: string): boolean {
  return !/^( *)[^\s#-][^\n]*:[ \t]*\n\1- /m.test(source);
}

/** JSON in (`kubectl get -o json`), JSON out; YAML keeps its comments and sequence style. */
function render(doc: Document, source: string): string {
  if (isMap(doc.contents) && doc.contents.flow) return `${JSON.stringify(doc.toJS(), null, 2)}\n`;
  return doc.toString({ indentSeq: isSeqIndented(source), lineWidth: 0, flowCollectionPadding: false });
}

export function injectManifests(text: string, options: SidecarOptions = {}): InjectResult {
  const docs = parseAllDocuments(text, { uniqueKeys: true });
  if (!Array.isArray(docs)) throw badInput('no Kubernetes objects in the input');
  const reports: InjectReport[] = [];
  let out = '';
  let offset = 0;
  docs.forEach((doc, i) => {
    const where = `document ${i + 1}`;
    const error = doc.errors[0];
    if (error) throw badInput(`${where}: YAML ${error.message.split('\n')[0]}`);
    const end = doc.range[2];
    const source = text.slice(offset, end);
    offset = end;
    if (isEmpty(doc)) {
      out += source;
      return;
    }
    const found = injectDocument(doc, where, options);
    reports.push(...found);
    const isChanged = found.some((r) => r.action !== 'unchanged');
    out += isChanged ? render(doc, source) : source;
  });
  out += text.slice(offset);
  if (docs.every(isEmpty)) throw badInput('no Kubernetes objects in the input');
  return { text: out, reports };
}

/** Printed once per run: the Service is the one object inject cannot safely rewrite. */
export const SERVICE_HINT = `point the Service's targetPort at "${sidecarPorts.data.name}" (port ${sidecarPorts.data.port}) so traffic goes through fnshift; the app should listen on 127.0.0.1 only`;
