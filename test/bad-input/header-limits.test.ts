// B5, B6, B9 as raw bytes: header sections past the limits, two Hosts, underscores in names. Each is
// refused with problem+json, the connection is closed, nothing is forwarded, and the next caller is served.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  assertBackToBaseline,
  baseline,
  rawCode,
  rawExchange,
  startScenario,
  toxics,
} from '../helpers/faults.ts';

const request = (headers: string) => `GET /api/recommend HTTP/1.1\r\nHost: fnshift.test\r\n${headers}\r\n`;
// 16 KiB of header section counted as Node counts it (every byte after the request line).
const HEAD_START = 'GET /api/recommend HTTP/1.1\r\n';
const OVERSIZED = `X-Pad: ${'p'.repeat(16 * 1024 + 1 - 'Host: fnshift.test\r\nX-Pad: \r\n'.length)}\r\n`;

const BAD: Array<[string, string, number, string]> = [
  [
    '101 header fields',
    request(Array.from({ length: 100 }, (_, i) => `X-H${i}: v\r\n`).join('')),
    431,
    'FNSHIFT_HEADERS_TOO_LARGE',
  ],
  [
    '16 KiB + 1 of headers',
    `${HEAD_START}Host: fnshift.test\r\n${OVERSIZED}\r\n`,
    431,
    'FNSHIFT_HEADERS_TOO_LARGE',
  ],
  ['two Host headers', request('Host: evil.example\r\n'), 400, 'FNSHIFT_BAD_HEADER'],
  ['an underscore in a header name', request('X_Forwarded_For: 10.0.0.1\r\n'), 400, 'FNSHIFT_BAD_HEADER'],
  ['an underscore in Content_Length', request('Content_Length: 5\r\n'), 400, 'FNSHIFT_BAD_HEADER'],
];

for (const [what, bytes, status, code] of BAD) {
  test(`answers ${status} ${code} to ${what} and closes the connection`, async (t) => {
    const s = await startScenario(t, { fn: toxics.echo('function') });
    const before = baseline(s.app);

    const reply = await rawExchange(s.port, bytes);
    assert.equal(reply.status, status, reply.text.slice(0, 300));
    assert.equal(rawCode(reply.text), code);
    assert.equal(reply.isClosed, true);
    assert.equal(s.fn!.count() + s.legacy!.count(), 0, 'the refused request was forwarded');

    const next = await rawExchange(s.port, request('Connection: close\r\n'));
    assert.equal(next.status, 200);
    assert.equal(s.fn!.count(), 1);
    await assertBackToBaseline(s.app, before);
  });
}

test('serves exactly 100 header fields and a header section just under 16 KiB', async (t) => {
  const s = await startScenario(t, { fn: toxics.echo('function') });
  const hundred = request(
    `${Array.from({ length: 98 }, (_, i) => `X-H${i}: v\r\n`).join('')}Connection: close\r\n`,
  );
  assert.equal((await rawExchange(s.port, hundred)).status, 200);
  const under = request(`Connection: close\r\nX-Pad: ${'p'.repeat(16 * 1024 - 100)}\r\n`);
  assert.equal((await rawExchange(s.port, under)).status, 200);
  assert.equal(s.fn!.count(), 2);
});
