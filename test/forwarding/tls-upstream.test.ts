// A function behind HTTPS (Lambda function URLs, Cloud Run, Function Compute custom domains): the pool
// speaks TLS with SNI and verifies the certificate against Node's trust store, which NODE_EXTRA_CA_CERTS
// extends for a private CA. An untrusted certificate is a connect failure: nothing was sent, so GET and
// POST alike are served by legacy. The fixture's key and certificate (localhost, 127.0.0.1, valid to
// 2126) exist only for these tests.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { type TestContext, test } from 'node:test';
import { startFixture } from '../helpers/fnshift.ts';
import { send, spawnFnshift } from '../helpers/raw.ts';

const certFile = new URL('../fixtures/tls/cert.pem', import.meta.url).pathname;
const keyFile = new URL('../fixtures/tls/key.pem', import.meta.url).pathname;

type Seen = { method: string; body: string; servername: string | undefined };

async function startTlsFunction(t: TestContext): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const servername = (req.socket as { servername?: string }).servername;
      seen.push({ method: req.method!, body: Buffer.concat(chunks).toString(), servername });
      res.writeHead(200, { 'content-type': 'text/plain' }).end('function over tls');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  server.unref();
  return { url: `https://localhost:${(server.address() as AddressInfo).port}`, seen };
}

async function startFnshift(t: TestContext, functionUrl: string, env: NodeJS.ProcessEnv) {
  const legacy = await startFixture(t, (_req, res) => res.writeHead(200).end('legacy'));
  const route = {
    name: 'recommend',
    match: { pathPrefix: '/api/recommend' },
    function: 'recommend',
    weight: 100,
  };
  const config = {
    legacy: { url: legacy.url },
    functions: { recommend: { url: functionUrl } },
    routes: [route],
  };
  return spawnFnshift(t, config, { env });
}

test('forwards GET and POST to an HTTPS function, with SNI, when its CA is trusted', async (t) => {
  const fn = await startTlsFunction(t);
  const fnshift = await startFnshift(t, fn.url, { NODE_EXTRA_CA_CERTS: certFile });

  const get = await send(`${fnshift.dataUrl}/api/recommend`);
  assert.equal(get.status, 200);
  assert.equal(get.body.toString(), 'function over tls');
  assert.equal(get.headers['x-fnshift-target'], 'function');
  const post = await send(`${fnshift.dataUrl}/api/recommend`, { method: 'POST', body: '{"item":7}' });
  assert.equal(post.body.toString(), 'function over tls');
  assert.deepEqual(
    fn.seen.map((s) => [s.method, s.body, s.servername]),
    [
      ['GET', '', 'localhost'],
      ['POST', '{"item":7}', 'localhost'],
    ],
  );
});

test('an untrusted certificate is a connect failure: GET and POST go to legacy, the function sees nothing', async (t) => {
  const fn = await startTlsFunction(t);
  const fnshift = await startFnshift(t, fn.url, { NODE_EXTRA_CA_CERTS: '' });

  for (const method of ['GET', 'POST']) {
    const reply = await send(`${fnshift.dataUrl}/api/recommend`, {
      method,
      body: method === 'POST' ? '{}' : undefined,
    });
    assert.equal(reply.status, 200, method);
    assert.equal(reply.body.toString(), 'legacy');
    assert.equal(reply.headers['x-fnshift-fallback'], 'connect_failure');
  }
  assert.equal(fn.seen.length, 0);
});
