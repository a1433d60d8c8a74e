import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';

const cli = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const functionsDir = new URL('../../src/local/functions/', import.meta.url).pathname;

test('functions serve runs a directory of handlers over HTTP and stops on SIGTERM', async (t) => {
  const child = spawn(
    process.execPath,
    [cli, 'functions', 'serve', functionsDir, '--listen', '127.0.0.1:0'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let output = '';
  child.stdout.setEncoding('utf8');
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no address printed:\n${output}`)), 15_000);
    child.stdout.on('data', (chunk: string) => {
      output += chunk;
      const match = /at (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match && output.includes('feedback:')) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
  });
  assert.match(output, /serving 3 function\(s\)/);

  const res = await fetch(`${url}/recommend/api/recommend?userId=alice&size=3`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-served-by'), 'function');
  assert.equal(((await res.json()) as { items: unknown[] }).items.length, 3);
  const missing = await fetch(`${url}/nope`);
  assert.equal(missing.status, 404);
  await missing.arrayBuffer();

  child.kill('SIGTERM');
  const [code] = await once(child, 'exit');
  assert.equal(code, 0);
});

test('functions serve exits 2 on a bad --listen', async () => {
  const child = spawn(process.execPath, [cli, 'functions', 'serve', functionsDir, '--listen', 'nonsense'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const [code] = await once(child, 'exit');
  assert.equal(code, 2);
});
