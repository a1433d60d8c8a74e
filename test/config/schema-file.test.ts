import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { renderSchema } from '../../scripts/schema.ts';

test('the shipped JSON Schema matches the zod schema (run `npm run schema` when this fails)', () => {
  const shipped = readFileSync(new URL('../../schema/fnshift.schema.json', import.meta.url), 'utf8');
  assert.equal(shipped, renderSchema());
});
