// Hot reload under fire (reliability §3 H2): the config file is replaced by rename ten times a second,
// flipping a route between legacy and the function, while autocannon loads the proxy; the proxy must
// not answer a single 5xx and no connection may fail.
import assert from 'node:assert/strict';
import type { EventEmitter } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import autocannon from 'autocannon';
import { getRoutes } from '../admin/admin-api.ts';
import { startFixture } from '../helpers/fnshift.ts';
import { eventually, replaceByRename, startFnshiftProcess, tempDir } from '../helpers/process.ts';

/** autocannon emits the parser's head ({ statusCode, headers: [name, value, …] }), not what its types say. */
type ParsedHead = { statusCode: number; headers: unknown[] };
function onHead(client: autocannon.Client, listener: (head: ParsedHead) => void): void {
  (client as unknown as EventEmitter).on('headers', listener);
}

function headerOf(head: ParsedHead, name: string): string | undefined {
  const i = head.headers.findIndex((h, j) => j % 2 === 0 && String(h).toLowerCase() === name);
  return i === -1 ? undefined : String(head.headers[i + 1]);
}

const STORM_MS = 5000;
const REWRITE_EVERY_MS = 100;

test('answers no 5xx while the config is rewritten 10 times a second under load', async (t) => {
  const legacy = await startFixture(t);
  const fn = await startFixture(t);
  const dir = await tempDir(t);
  const stateDir = await tempDir(t);
  const file = join(dir, 'fnshift.yaml');
  // The revision comment makes every rewrite a real change, so each debounced read has something to apply.
  const render = (weight: number, revision = 0) => `# revision ${revision}
listen: 127.0.0.1:0
admin: { listen: 127.0.0.1:0 }
legacy: { url: ${legacy.url} }
functions: { recommend: { url: ${fn.url} } }
routes:
  - { name: recommend, match: { pathPrefix: /api/recommend }, function: recommend, weight: ${weight} }
  - { name: item, match: { pathPrefix: /api/item }, function: recommend, weight: ${100 - weight} }
state: { file: ${join(stateDir, 'state.json')} }
reload: { watch: true, pollIntervalMs: 0 }
`;
  // The default 200 ms debounce, against a rewrite every 100 ms: the directory never goes quiet.
  await writeFile(file, render(0));
  const proc = await startFnshiftProcess(t, file);

  const statuses = new Map<number, number>();
  /** Responses per `route → target`, from the x-fnshift-route and x-fnshift-target headers. */
  const servedBy: Record<string, number> = {};
  const load = new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: proc.dataUrl,
        connections: 16,
        pipelining: 1,
        duration: (STORM_MS + 300) / 1000,
        timeout: 5,
        requests: [{ path: '/api/recommend/x' }, { path: '/api/item/y' }, { path: '/other' }],
        setupClient: (client) => {
          onHead(client, (opts) => {
            statuses.set(opts.statusCode, (statuses.get(opts.statusCode) ?? 0) + 1);
            const key = `${headerOf(opts, 'x-fnshift-route') ?? '(none)'} → ${headerOf(opts, 'x-fnshift-target')}`;
            servedBy[key] = (servedBy[key] ?? 0) + 1;
          });
        },
      },
      (error, result) => (error ? reject(error) : resolve(result)),
    );
    t.after(() => instance.stop());
  });

  // Not a strict alternation: the debounce ceiling (1 s) spans 10 rewrites, so with period 2 every reload
  // could read the same parity and never flip the route. Period 3 cycles through both weights.
  const weightOf = (revision: number) => (revision % 3 === 0 ? 0 : 100);
  let rewrites = 0;
  const storm = setInterval(() => {
    rewrites++;
    replaceByRename(file, render(weightOf(rewrites), rewrites)).catch(() => {});
  }, REWRITE_EVERY_MS);
  t.after(() => clearInterval(storm));
  await new Promise((resolve) => setTimeout(resolve, STORM_MS));
  clearInterval(storm);
  const reloadsDuringStorm = proc.logs.filter((l) => l.msg === 'config reloaded').length;
  const result = await load;
  // The last rewrite is applied once the storm is over: no update is lost.
  const lastWeight = weightOf(rewrites);
  await eventually(async () => {
    const route = (await getRoutes(proc.adminUrl)).routes.find((r) => r.name === 'recommend');
    return route?.weight === lastWeight ? true : undefined;
  }, `the last rewrite (weight ${lastWeight}) to be in force`);

  const reloadsApplied = proc.logs.filter((l) => l.msg === 'config reloaded').length;
  const reloadsRefused = proc.logs.filter(
    (l) => l.msg === 'config reload refused: keeping the last good config',
  ).length;
  const fiveXx = [...statuses].filter(([code]) => code >= 500).reduce((n, [, count]) => n + count, 0);
  const view = await getRoutes(proc.adminUrl);
  console.log(
    JSON.stringify({
      reloadStorm: {
        requests: result.requests.total,
        requestsPerSec: result.requests.average,
        rewrites,
        reloadsDuringStorm,
        reloadsApplied,
        reloadsRefused,
        fiveXx,
        non2xx: result.non2xx,
        connectionErrors: result.errors,
        timeouts: result.timeouts,
        servedBy,
        statusCodes: Object.fromEntries(statuses),
      },
    }),
  );

  assert.equal(fiveXx, 0, `5xx answers: ${JSON.stringify(Object.fromEntries(statuses))}`);
  assert.equal(result.errors, 0, 'no connection errors');
  assert.equal(result.timeouts, 0);
  assert.equal(result.non2xx, 0);
  assert.ok(result.requests.total > 500, `only ${result.requests.total} requests`);
  assert.ok(rewrites >= 25, `only ${rewrites} rewrites`);
  // The debounce ceiling (5 × 200 ms) applies a change about once a second even though events never stop.
  assert.ok(reloadsDuringStorm >= 3, `only ${reloadsDuringStorm} of ${rewrites} rewrites were applied`);
  assert.equal(reloadsRefused, 0, 'a rename-replace is never seen half-written');
  // The flips took effect while the load ran: the same route was served by both sides.
  assert.ok((servedBy['recommend → function'] ?? 0) > 0, JSON.stringify(servedBy));
  assert.ok((servedBy['recommend → legacy'] ?? 0) > 0, JSON.stringify(servedBy));
  assert.equal(view.config.lastError, null);
});
