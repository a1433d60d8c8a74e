// admin.probesListen: a second, read-only admin listener for the kubelet and Prometheus, so the listener
// that takes changes can stay on loopback.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createApp } from '../../src/app.ts';
import { buildConfig, startFixture } from '../helpers/fnshift.ts';

test('the probes listener serves health and metrics, and nothing that reads or changes routes', async (t) => {
  const legacy = await startFixture(t);
  const config = buildConfig({
    admin: { listen: '127.0.0.1:0', probesListen: '127.0.0.1:0' },
    legacy: { url: legacy.url },
    functions: { f: { url: legacy.url } },
    routes: [{ name: 'r', match: { pathPrefix: '/r' }, function: 'f', weight: 5 }],
  });
  const app = createApp(config, {
    metrics: { contentType: 'text/plain', render: async () => 'fnshift_up 1\n' },
  });
  const addresses = await app.start();
  t.after(() => app.shutdown(500));
  assert.ok(addresses.probes && addresses.probes !== addresses.admin);

  for (const path of ['/livez', '/readyz', '/metrics']) {
    const res = await fetch(`${addresses.probes}${path}`);
    assert.equal(res.status, 200, path);
    await res.arrayBuffer();
  }
  const routes = await fetch(`${addresses.probes}/routes`);
  assert.equal(routes.status, 404);
  await routes.arrayBuffer();
  const put = await fetch(`${addresses.probes}/routes/r/weight`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: '{"weight": 50}',
  });
  assert.equal(put.status, 404);
  await put.arrayBuffer();
  const reload = await fetch(`${addresses.probes}/reload`, { method: 'POST' });
  assert.equal(reload.status, 404);
  await reload.arrayBuffer();

  assert.equal(app.snapshot.weights.get('r')?.weightPercent, 5);
  const viaAdmin = await fetch(`${addresses.admin}/routes`);
  assert.equal(viaAdmin.status, 200);
  await viaAdmin.arrayBuffer();
});
