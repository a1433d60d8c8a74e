import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const cli = new URL('../../bin/fnshift.js', import.meta.url).pathname;

function runCli(args: string[]) {
  return spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 20_000 });
}

function writeTemp(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'fnshift-validate-')), 'fnshift.yaml');
  writeFileSync(file, text);
  return file;
}

test('validate exits 0 on a good file and summarises it', () => {
  const file = writeTemp(`legacy: { url: http://127.0.0.1:3000 }
functions: { recommend: { url: http://127.0.0.1:9000 } }
routes: [{ name: recommend, match: { pathPrefix: /api/recommend }, function: recommend, weight: 5 }]
`);
  const result = runCli(['validate', '-c', file]);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /recommend: \/api\/recommend → recommend at 5%/);
});

test('validate exits 2 and lists every problem of a bad file', () => {
  const file = writeTemp(`legacy: { url: nope }
functions: {}
routes: [{ name: Bad Name, match: {}, function: missing, weight: 101 }]
`);
  const result = runCli(['validate', '-c', file]);
  assert.equal(result.status, 2);
  for (const expected of [
    'legacy.url',
    'routes[0].name',
    'routes[0].weight: must be between 0 and 100',
    'routes[0].function',
    'routes[0].match',
  ]) {
    assert.ok(result.stderr.includes(expected), `missing ${expected} in:\n${result.stderr}`);
  }
});

test('validate exits 2 when the file cannot be read, and usage errors exit 2', () => {
  assert.equal(runCli(['validate', '-c', '/nonexistent/fnshift.yaml']).status, 2);
  assert.equal(runCli(['validate']).status, 2);
  assert.equal(runCli(['no-such-command']).status, 2);
});
