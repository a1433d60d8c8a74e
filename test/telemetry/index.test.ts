// startTelemetry wires metrics, tracing, the access log and breaker log lines, and stops them all.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { publishBreaker } from '../../src/telemetry/events.ts';
import { startTelemetry } from '../../src/telemetry/index.ts';
import { createLogger } from '../../src/telemetry/log.ts';
import { type Running, startFixture, startFnshift } from '../helpers/fnshift.ts';
import { send } from '../helpers/raw.ts';
import { parseExposition } from './prometheus-text.ts';

test('logs breaker transitions, counts requests and leaves tracing off without OTEL settings', async (t) => {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({
    destination: { write: (text: string) => void lines.push(JSON.parse(text) as Record<string, unknown>) },
  });
  let running: Running | undefined;
  const telemetry = startTelemetry({
    logger,
    snapshot: () => running!.app.snapshot,
    breakerState: (name) => running!.app.breakers.state(name),
    accessLog: { sampleRatio: 1 },
    env: {},
  });
  t.after(() => telemetry.shutdown());
  const legacy = await startFixture(t);
  running = await startFnshift(t, { legacy: { url: legacy.url } });
  assert.equal(telemetry.isTracing, false);

  await send(`${running.url}/page`);
  publishBreaker({ functionName: 'recommend', event: 'open' });
  publishBreaker({ functionName: 'recommend', event: 'reject' });
  publishBreaker({ functionName: 'recommend', event: 'half_open' });
  publishBreaker({ functionName: 'recommend', event: 'close' });

  assert.deepEqual(
    lines.map((l) => [l.level, l.function ?? l.path, l.log ?? null]),
    [
      [30, '/page', 'access'],
      [40, 'recommend', null],
      [30, 'recommend', null],
      [30, 'recommend', null],
    ],
  );
  const m = parseExposition(await telemetry.metrics.render());
  assert.equal(
    m.value('fnshift_requests_total', { route: 'unmatched', target: 'legacy', status_class: '2xx' }),
    1,
  );
  assert.equal(m.value('fnshift_breaker_transitions_total', { function: 'recommend', event: 'open' }), 1);
  assert.equal(m.value('fnshift_breaker_rejections_total', { function: 'recommend' }), 1);

  await telemetry.shutdown();
  await send(`${running.url}/page`);
  publishBreaker({ functionName: 'recommend', event: 'open' });
  assert.equal(lines.length, 4);
});

test('turns the access log on from FNSHIFT_ACCESS_LOG_SAMPLE_RATIO, and says why not when it is invalid', async (t) => {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({
    destination: { write: (text: string) => void lines.push(JSON.parse(text) as Record<string, unknown>) },
  });
  let running: Running | undefined;
  const start = (ratio: string) =>
    startTelemetry({
      logger,
      snapshot: () => running!.app.snapshot,
      breakerState: (name) => running!.app.breakers.state(name),
      env: { FNSHIFT_ACCESS_LOG_SAMPLE_RATIO: ratio },
    });
  const legacy = await startFixture(t);
  running = await startFnshift(t, { legacy: { url: legacy.url } });

  const invalid = start('ten percent');
  await send(`${running.url}/page`);
  await invalid.shutdown();
  assert.deepEqual(
    lines.map((l) => [l.level, l.msg]),
    [[40, 'access log off: the sample ratio must be from 0 to 1']],
  );

  const on = start('1');
  t.after(() => on.shutdown());
  await send(`${running.url}/page?token=x`);
  assert.deepEqual(lines.at(-1)!.path, '/page');
  assert.equal(lines.at(-1)!.log, 'access');
});
