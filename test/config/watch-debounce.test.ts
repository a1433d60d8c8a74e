// The config watcher's debounce: it waits for a quiet spell, but a burst that never goes quiet still
// reloads within the ceiling (the reload-starvation bug: 10 rewrites a second against the default
// 200 ms debounce applied 1 reload in 5 s).
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { createDebounce } from '../../src/config/watch.ts';

function setup(t: TestContext, debounceMs: number, maxWaitMs: number) {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
  const firedAtMs: number[] = [];
  const debounce = createDebounce(() => firedAtMs.push(Date.now()), debounceMs, maxWaitMs);
  t.after(() => debounce.cancel());
  return { debounce, firedAtMs };
}

test('runs once, debounceMs after the last event of a short burst', (t) => {
  const { debounce, firedAtMs } = setup(t, 200, 1000);
  debounce.trigger();
  t.mock.timers.tick(100);
  debounce.trigger();
  t.mock.timers.tick(50);
  debounce.trigger();
  t.mock.timers.tick(199);
  assert.deepEqual(firedAtMs, []);
  t.mock.timers.tick(1);
  assert.deepEqual(firedAtMs, [350]);
  t.mock.timers.tick(5000);
  assert.deepEqual(firedAtMs, [350], 'once per burst');
});

test('still runs every maxWaitMs while events keep coming faster than debounceMs (reload starvation)', (t) => {
  const { debounce, firedAtMs } = setup(t, 200, 1000);
  for (let atMs = 0; atMs < 3000; atMs += 100) {
    debounce.trigger();
    t.mock.timers.tick(100);
  }
  assert.deepEqual(firedAtMs, [1000, 2000, 3000]);
});

test('runs immediately with a zero debounce, and not at all after cancel', (t) => {
  const { debounce, firedAtMs } = setup(t, 0, 0);
  debounce.trigger();
  t.mock.timers.tick(0);
  assert.deepEqual(firedAtMs, [0]);
  debounce.trigger();
  debounce.cancel();
  t.mock.timers.tick(1000);
  assert.deepEqual(firedAtMs, [0]);
});
