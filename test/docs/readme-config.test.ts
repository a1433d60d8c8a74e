import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { toJsonSchema } from '../../src/config/schema.ts';

type Node = {
  properties?: Record<string, Node>;
  additionalProperties?: Node | boolean;
  items?: Node;
  anyOf?: Node[];
};

function optionNames(node: Node, out = new Set<string>()): Set<string> {
  for (const [name, child] of Object.entries(node.properties ?? {})) {
    if (name !== '$schema') out.add(name);
    optionNames(child, out);
  }
  if (node.items) optionNames(node.items, out);
  if (node.additionalProperties && typeof node.additionalProperties === 'object')
    optionNames(node.additionalProperties, out);
  for (const branch of node.anyOf ?? []) optionNames(branch, out);
  return out;
}

test('every config option is documented in the README', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const missing = [...optionNames(toJsonSchema() as Node)].filter((name) => !readme.includes(name));
  assert.deepEqual(missing, [], `options missing from README.md: ${missing.join(', ')}`);
});
