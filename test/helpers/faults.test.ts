// The back-to-baseline check itself: it must see unref()'d timers, sockets and servers, which
// process.getActiveResourcesInfo() (what it counted before) does not list, and must not count what has
// ended or what an idle pool rightly keeps.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { assertBackToBaseline, baseline, exchange, startScenario, toxics } from './faults.ts';

/** What the check counted before: only the resources that keep the event loop alive. */
function activeResources(): { sockets: number; servers: number; timers: number } {
  const types = process.getActiveResourcesInfo();
  const count = (type: string) => types.filter((t) => t === type).length;
  return { sockets: count('TCPSocketWrap'), servers: count('TCPServerWrap'), timers: count('Timeout') };
}

test("reports an unref'd timer left armed after the scenario, which getActiveResourcesInfo() never lists", async (t) => {
  const s = await startScenario(t, { fn: toxics.respond(200, 'function') });
  const before = baseline(s.app);
  assert.equal((await exchange(s.url())).body.toString(), 'function');
  await assertBackToBaseline(s.app, before);
  const listed = activeResources();

  // A request-body idle timer that nobody cleared would look like this (body.ts unrefs its own).
  const leaked = setTimeout(() => {}, 60_000);
  leaked.unref();
  t.after(() => clearTimeout(leaked));

  assert.deepEqual(activeResources(), listed, 'the old count would have seen the timer');
  await assert.rejects(
    assertBackToBaseline(s.app, before, 200),
    /1 more timer than at baseline .*unref'd timer of 60000 ms made at .*faults\.test\.ts/,
  );
  clearTimeout(leaked);
  await assertBackToBaseline(s.app, before);
});

test("reports unref'd sockets and servers left open after the scenario, which getActiveResourcesInfo() never lists", async (t) => {
  const s = await startScenario(t, { fn: toxics.respond(200, 'function') });
  const before = baseline(s.app);
  assert.equal((await exchange(s.url())).body.toString(), 'function');
  await assertBackToBaseline(s.app, before);
  const listed = activeResources();

  // Both ends unref'd, as a pool's idle socket is on fnshift's side: nothing here keeps the loop alive.
  const accepted: Socket[] = [];
  const server = createServer((socket) => {
    socket.unref();
    accepted.push(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  server.unref();
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
  client.unref();
  await once(client, 'connect');
  t.after(() => {
    client.destroy();
    server.close();
  });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(accepted.length, 1);

  assert.deepEqual(activeResources(), listed, 'the old count would have seen the socket');
  const failure = await assertBackToBaseline(s.app, before, 200).then(
    () => assert.fail('the leaked sockets went unnoticed'),
    (error: Error) => error.message,
  );
  assert.match(
    failure,
    /2 more TCP sockets than at baseline .*unref'd TCP socket :\d+ -> :\d+ made at .*faults\.test\.ts/,
  );
  assert.match(failure, /unref'd TCP socket :\d+ -> :\d+ accepted by the server on :\d+/);
  assert.match(failure, /1 more TCP server than at baseline .*unref'd TCP server on :\d+ made at /);

  client.destroy();
  for (const socket of accepted) socket.destroy();
  server.close();
  await assertBackToBaseline(s.app, before);
});

test('counts no timer that fired or was cleared and no socket that closed, before their destroy hooks have run', async (t) => {
  const s = await startScenario(t, { fn: toxics.respond(200, 'function') });
  const before = baseline(s.app);
  const socket = connect(s.fn!.port, '127.0.0.1');
  await once(socket, 'connect');
  const cleared = setTimeout(() => {}, 60_000);
  await new Promise((resolve) => setTimeout(resolve, 1));

  socket.destroy();
  clearTimeout(cleared);
  // Node runs destroy hooks in a later loop turn: here all three are still queued.
  assert.deepEqual(baseline(s.app).counts, before.counts);
});

test('counts neither the socket an idle pool keeps nor its sweep interval', async (t) => {
  const s = await startScenario(t, { fn: toxics.respond(200, 'function') });
  const before = baseline(s.app);
  for (let i = 0; i < 3; i++) assert.equal((await exchange(s.url())).status, 200);

  assert.equal(s.app.snapshot.functions.recommend!.pool.stats.free, 1);
  // Well before the pool's 4 s idle timeout, after which neither would be left to count.
  await assertBackToBaseline(s.app, before, 500);
});
