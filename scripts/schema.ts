// Writes schema/fnshift.schema.json from the zod schema (`npm run schema`); a test fails when it is stale.
import { writeFileSync } from 'node:fs';
import { toJsonSchema } from '../src/config/schema.ts';

export function renderSchema(): string {
  return `${JSON.stringify({ ...toJsonSchema(), title: 'fnshift.yaml', $id: 'https://fnshift.dev/schema/fnshift.schema.json' }, null, 2)}\n`;
}

if (import.meta.main) {
  writeFileSync(new URL('../schema/fnshift.schema.json', import.meta.url), renderSchema());
  process.stdout.write('wrote schema/fnshift.schema.json\n');
}
