// An open WebSocket tunnel must not hold shutdown past the drain deadline (a client can keep one open for hours).
import { once } from 'node:events';
import { test } from 'node:test';
import { startFnshift } from '../helpers/fnshift.ts';
import { openTunnel, startUpgradeLegacy } from '../helpers/raw.ts';

test('cuts an open WebSocket tunnel at the drain deadline so shutdown completes', {
  timeout: 3000,
}, async (t) => {
  const legacy = await startUpgradeLegacy(t);
  const fnshift = await startFnshift(t, { legacy: { url: legacy.url } });
  const { client } = await openTunnel(t, fnshift.port);
  const clientClosed = once(client, 'close');

  await fnshift.app.shutdown(200);

  await clientClosed;
});
