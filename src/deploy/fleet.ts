// Fleet-wide weights: edit a route's weight in fnshift.yaml, or in the ConfigMap that holds it, keeping
// every comment and the rest of the text as written. Every replica mounts the same ConfigMap and reloads
// it, and the sticky bucket is a pure hash of the user's key, so every replica sends the same users to
// the function at the same weight. An admin-API change, by contrast, lives in one process.
import { isMap, isScalar, isSeq, parseDocument } from 'yaml';
import { parseConfig } from '../config/load.ts';
import { FnshiftError } from '../errors.ts';

export type WeightEdit = {
  text: string;
  previousWeight: number;
  isChanged: boolean;
  /** Reasons the new weight may not take effect at once, for the operator. */
  warnings: string[];
};

export const DEFAULT_CONFIG_KEY = 'fnshift.yaml';

function invalid(message: string, problems?: string[]): FnshiftError {
  return new FnshiftError('FNSHIFT_CONFIG_INVALID', message, problems ? { details: { problems } } : {});
}

/** fnshift.yaml text with one route's weight set; refuses to produce a config fnshift would reject. */
export function setRouteWeight(configText: string, route: string, weightPercent: number): WeightEdit {
  const doc = parseDocument(configText, { uniqueKeys: true });
  if (doc.errors.length > 0)
    throw invalid(`the config is not YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
  const routes = doc.get('routes', true);
  if (!isSeq(routes)) throw invalid('the config has no routes list');
  const names = routes.items.map((item) => (isMap(item) ? String(item.get('name')) : '?'));
  const index = names.indexOf(route);
  if (index === -1) throw invalid(`no route named "${route}" (have: ${names.join(', ') || 'none'})`);
  const node = routes.items[index]!;
  if (!isMap(node)) throw invalid(`routes[${index}] is not a mapping`);
  const previousWeight = Number(node.get('weight'));
  // Setting the scalar's value (not replacing the node) keeps a trailing `# comment` on the line.
  const weightNode = node.get('weight', true);
  if (isScalar(weightNode)) weightNode.value = weightPercent;
  else node.set('weight', weightPercent);
  const text = doc.toString({ lineWidth: 0 });
  const checked = parseConfig(text);
  if (!checked.ok) throw invalid('the edited config would be invalid', checked.problems);
  const warnings: string[] = [];
  if (node.has('rollout')) {
    warnings.push(
      `route ${route} has a rollout: while one is progressing or paused it owns the weight, and this edit waits until it ends`,
    );
  }
  const isChanged = previousWeight !== weightPercent;
  if (!isChanged) {
    warnings.push(
      `route ${route} is already at ${weightPercent}% in the config; per-pod weights set through the admin API stay until the config's weight changes (or DELETE /routes/${route}/weight on each pod)`,
    );
  }
  return { text, previousWeight, isChanged, warnings };
}

/** A ConfigMap (as `kubectl get -o yaml` prints it) with the weight edited inside `data[key]`. */
export function setRouteWeightInConfigMap(
  configMapText: string,
  key: string,
  route: string,
  weightPercent: number,
): WeightEdit {
  const doc = parseDocument(configMapText, { uniqueKeys: true });
  if (doc.errors.length > 0) throw invalid(`not YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
  if (!isMap(doc.contents) || doc.get('kind') !== 'ConfigMap') {
    throw invalid('expected one ConfigMap (kubectl get configmap NAME -o yaml)');
  }
  const data = doc.get('data', true);
  const value = isMap(data) ? data.get(key, true) : undefined;
  if (!isScalar(value) || typeof value.value !== 'string') {
    const keys = isMap(data) ? data.items.map((pair) => String((pair.key as { value?: unknown }).value)) : [];
    throw invalid(`the ConfigMap has no data key "${key}" (have: ${keys.join(', ') || 'none'})`);
  }
  const edit = setRouteWeight(value.value, route, weightPercent);
  // resourceVersion stays: `kubectl apply` then refuses to overwrite a change made since the get.
  value.value = edit.text;
  return { ...edit, text: doc.toString({ lineWidth: 0 }) };
}

export type FleetTarget = { configMap: string; namespace?: string; key: string };

function shellWord(word: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** The shell pipeline that `--apply` runs: get the ConfigMap, edit it here, apply it back. */
export function fleetRecipe(target: FleetTarget, route: string, weightPercent: number): string {
  const ns = target.namespace ? ` --namespace ${shellWord(target.namespace)}` : '';
  const key = target.key === DEFAULT_CONFIG_KEY ? '' : ` --key ${shellWord(target.key)}`;
  return [
    `kubectl get configmap ${shellWord(target.configMap)}${ns} --output yaml \\`,
    `  | npx fnshift weight ${shellWord(route)} ${weightPercent} --fleet --stdin${key} \\`,
    `  | kubectl apply${ns} --filename -`,
  ].join('\n');
}
