import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';

const cli = new URL('../../src/cli/main.ts', import.meta.url).pathname;

/** Starts `fnshift demo` on free ports and resolves with the URLs it prints. */
async function startDemo(t: import('node:test').TestContext) {
  const child = spawn(process.execPath, [cli, 'demo', '--port', '0', '--admin-port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, FNSHIFT_LOG_LEVEL: 'warn' },
  });
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let output = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    output += chunk;
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`demo did not start:\n${output}`)), 15_000);
    child.stdout.on('data', (chunk: string) => {
      output += chunk;
      if (output.includes('Ctrl-C stops everything.')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`demo exited ${code}:\n${output}`)));
  });
  const url = /fnshift\s+(http:\/\/\S+)/.exec(output)?.[1];
  const admin = /admin\s+(http:\/\/\S+)/.exec(output)?.[1];
  assert.ok(url && admin, output);
  return { child, url, admin, output };
}

test('the demo serves recommendations from both sides, split by user, and stops on SIGINT', async (t) => {
  const { child, url, admin, output } = await startDemo(t);
  assert.match(output, /curl -si -H 'x-user-id: alice'/);

  const served: Record<string, string> = {};
  let legacyBody = '';
  let functionBody = '';
  for (const user of ['alice', 'heidi']) {
    const res = await fetch(`${url}/api/recommend?scene=home&size=5`, { headers: { 'x-user-id': user } });
    assert.equal(res.status, 200);
    served[user] = `${res.headers.get('x-served-by')}/${res.headers.get('x-fnshift-target')}`;
    const text = await res.text();
    if (res.headers.get('x-served-by') === 'legacy') legacyBody = text;
    else functionBody = text;
  }
  // At weight 50, alice (bucket 4078) is on the function and heidi (bucket 6636) on legacy.
  assert.deepEqual(served, { alice: 'function/function', heidi: 'legacy/legacy' });
  assert.ok(JSON.parse(legacyBody).items.length === 5 && JSON.parse(functionBody).items.length === 5);

  let onFunction = 0;
  for (let i = 0; i < 200; i++) {
    const res = await fetch(`${url}/api/recommend`, { headers: { 'x-user-id': `user-${i}` } });
    await res.arrayBuffer();
    if (res.headers.get('x-fnshift-target') === 'function') onFunction++;
  }
  assert.ok(onFunction > 60 && onFunction < 140, `${onFunction} of 200 users on the function at weight 50`);

  const feedback = await fetch(`${url}/api/feedback`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-user-id': 'alice' },
    body: JSON.stringify({ itemId: 'sku-0042', action: 'click' }),
  });
  assert.equal(feedback.status, 202);

  const routes = (await (await fetch(`${admin}/routes`)).json()) as {
    routes: Array<{ name: string; weight: number }>;
  };
  assert.deepEqual(
    routes.routes.map((r) => [r.name, r.weight]),
    [
      ['recommend', 50],
      ['item', 25],
      ['feedback', 10],
    ],
  );

  child.kill('SIGINT');
  const [code] = await once(child, 'exit');
  assert.equal(code, 0);
});
