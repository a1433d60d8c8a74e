// Fleet-wide weights: the weight edit keeps every comment and touches one line, inside a ConfigMap as
// kubectl prints it; the CLI prints the kubectl recipe, is its middle step with --stdin, and runs it
// with --apply (against a fake kubectl here).
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { parseDocument } from 'yaml';
import { parseConfig } from '../../src/config/load.ts';
import { fleetRecipe, setRouteWeight, setRouteWeightInConfigMap } from '../../src/deploy/fleet.ts';
import type { FnshiftError } from '../../src/errors.ts';
import { runCli } from './process.ts';

const config = `# yaml-language-server: $schema=./schema.json
listen: 0.0.0.0:8080
legacy:
  url: http://127.0.0.1:3000
functions:
  recommend: { url: 'http://127.0.0.1:9000' }
  item:
    url: http://127.0.0.1:9001
routes:
  # the home page feed
  - name: recommend
    match: { pathPrefix: /api/recommend }
    function: recommend
    weight: 10 # raised on Monday
    sticky: { header: x-user-id }
  - name: item
    match:
      pathPrefix: /api/item
    function: item
    weight: 0
`;

function indent(text: string, spaces: number): string {
  return text
    .split('\n')
    .map((line) => (line ? ' '.repeat(spaces) + line : line))
    .join('\n');
}

// As `kubectl get configmap -o yaml` prints it.
const configMap = `apiVersion: v1
data:
  fnshift.yaml: |
${indent(config, 4)}kind: ConfigMap
metadata:
  creationTimestamp: "2026-11-20T10:00:00Z"
  name: fnshift-config
  namespace: shop
  resourceVersion: "48213"
  uid: 0b8c7d9e-1111-2222-3333-444455556666
`;

function changedLines(before: string, after: string): Array<[string, string]> {
  const a = before.split('\n');
  const b = after.split('\n');
  assert.equal(a.length, b.length, 'the edit adds or removes no line');
  return a.flatMap((line, i) => (line === b[i] ? [] : [[line, b[i]!] as [string, string]]));
}

test('sets one route’s weight and changes nothing else, comments included', () => {
  const edit = setRouteWeight(config, 'recommend', 25);
  assert.deepEqual(changedLines(config, edit.text), [
    ['    weight: 10 # raised on Monday', '    weight: 25 # raised on Monday'],
  ]);
  assert.equal(edit.previousWeight, 10);
  assert.equal(edit.isChanged, true);
  const parsed = parseConfig(edit.text);
  assert.ok(parsed.ok);
  assert.equal(parsed.config.routes[0]!.weight, 25);
  assert.equal(parsed.config.routes[1]!.weight, 0);
});

test('refuses an unknown route, naming the routes there are', () => {
  assert.throws(() => setRouteWeight(config, 'checkout', 5), {
    code: 'FNSHIFT_CONFIG_INVALID',
    message: 'no route named "checkout" (have: recommend, item)',
  });
});

test('refuses a weight the config would reject rather than write it', () => {
  assert.throws(
    () => setRouteWeight(config, 'item', 12.345),
    (error: FnshiftError) => {
      assert.equal(error.code, 'FNSHIFT_CONFIG_INVALID');
      assert.match(String(error.details?.problems), /routes\[1\]\.weight: must be in steps of 0.01/);
      return true;
    },
  );
});

test('warns when the weight is already there, since per-pod overrides then stay', () => {
  const edit = setRouteWeight(config, 'item', 0);
  assert.equal(edit.isChanged, false);
  assert.match(edit.warnings.join('\n'), /already at 0% .* per-pod weights/);
});

test('warns when a rollout may own the route’s weight', () => {
  const withRollout = config.replace(
    '    weight: 0\n',
    '    weight: 0\n    rollout:\n      steps: [5, 50, 100]\n',
  );
  assert.match(setRouteWeight(withRollout, 'item', 5).warnings.join('\n'), /route item has a rollout/);
});

test('edits the config inside a ConfigMap as kubectl prints it, keeping its block style and resourceVersion', () => {
  const edit = setRouteWeightInConfigMap(configMap, 'fnshift.yaml', 'recommend', 50);
  assert.deepEqual(changedLines(configMap, edit.text), [
    ['        weight: 10 # raised on Monday', '        weight: 50 # raised on Monday'],
  ]);
  const doc = parseDocument(edit.text).toJS();
  assert.equal(doc.metadata.resourceVersion, '48213', 'kubectl apply then refuses a stale overwrite');
  assert.ok(parseConfig(doc.data['fnshift.yaml']).ok);
});

test('refuses a ConfigMap without the key, or something that is not a ConfigMap', () => {
  assert.throws(() => setRouteWeightInConfigMap(configMap, 'config.yaml', 'recommend', 5), {
    message: 'the ConfigMap has no data key "config.yaml" (have: fnshift.yaml)',
  });
  assert.throws(() => setRouteWeightInConfigMap('kind: Secret\n', 'fnshift.yaml', 'recommend', 5), {
    message: /expected one ConfigMap/,
  });
});

test('the recipe gets, edits and applies the ConfigMap in its namespace', () => {
  assert.equal(
    fleetRecipe({ configMap: 'fnshift-config', namespace: 'shop', key: 'fnshift.yaml' }, 'recommend', 25),
    [
      'kubectl get configmap fnshift-config --namespace shop --output yaml \\',
      '  | npx fnshift weight recommend 25 --fleet --stdin \\',
      '  | kubectl apply --namespace shop --filename -',
    ].join('\n'),
  );
  assert.match(fleetRecipe({ configMap: 'c', key: 'my config.yaml' }, 'r', 1), /--key 'my config.yaml'/);
});

test('fnshift weight --fleet prints the recipe; --stdin is its middle step', async () => {
  const [printed, filtered] = await Promise.all([
    runCli(['weight', 'recommend', '25', '--fleet', '--configmap', 'fnshift-config', '-n', 'shop']),
    runCli(['weight', 'recommend', '25', '--fleet', '--stdin'], { input: configMap }),
  ]);
  assert.equal(printed.status, 0, printed.stderr);
  assert.match(printed.stdout, /kubectl get configmap fnshift-config --namespace shop --output yaml/);
  assert.match(printed.stdout, /kubectl apply --namespace shop --filename -/);
  assert.equal(filtered.status, 0, filtered.stderr);
  assert.equal(filtered.stdout, setRouteWeightInConfigMap(configMap, 'fnshift.yaml', 'recommend', 25).text);
});

test('fnshift weight --fleet --apply runs kubectl get, edits, and pipes the result to kubectl apply', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fnshift-fleet-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'configmap.yaml'), configMap);
  // A fake kubectl: logs its arguments, answers `get` with the ConfigMap, keeps what `apply` is given.
  const fake = join(dir, 'kubectl');
  await writeFile(
    fake,
    `#!${process.execPath}
const fs = require('node:fs');
const dir = ${JSON.stringify(dir)};
const args = process.argv.slice(2);
fs.appendFileSync(dir + '/calls.log', args.join(' ') + '\\n');
if (args[0] === 'get') process.stdout.write(fs.readFileSync(dir + '/configmap.yaml', 'utf8'));
if (args[0] === 'apply') {
  fs.writeFileSync(dir + '/applied.yaml', fs.readFileSync(0));
  console.log('configmap/fnshift-config configured');
}
`,
  );
  await chmod(fake, 0o755);
  const env = { PATH: `${dir}:${dirname(process.execPath)}:${process.env.PATH}` };
  const result = await runCli(
    ['weight', 'recommend', '25', '--fleet', '--configmap', 'fnshift-config', '-n', 'shop', '--apply'],
    { env },
  );
  assert.equal(result.status, 0, result.stderr);
  assert.deepEqual((await readFile(join(dir, 'calls.log'), 'utf8')).trim().split('\n'), [
    'get configmap fnshift-config --namespace shop --output yaml',
    'apply --namespace shop --filename -',
  ]);
  assert.equal(
    await readFile(join(dir, 'applied.yaml'), 'utf8'),
    setRouteWeightInConfigMap(configMap, 'fnshift.yaml', 'recommend', 25).text,
  );
  assert.match(result.stdout, /recommend: 10% → 25% in configmap shop\/fnshift-config/);

  const unknown = await runCli(
    ['weight', 'nope', '25', '--fleet', '--configmap', 'fnshift-config', '--apply'],
    { env },
  );
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /no route named "nope"/);
  assert.doesNotMatch(await readFile(join(dir, 'calls.log'), 'utf8'), /apply --filename/);
});
