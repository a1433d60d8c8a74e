// The fast lane's response over a real socket: a head relayed from an upstream (writeRelayedHead, which
// trusts the response parser's checks) goes out byte for byte as writeHead would send the same fields.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { type TestContext, test } from 'node:test';
import { configSchema } from '../../src/config/schema.ts';
import { FastRequest, FastResponse } from '../../src/forwarding/fast-exchange.ts';
import { parseFastHead } from '../../src/forwarding/fast-head.ts';

const limits = configSchema.parse({
  legacy: { url: 'http://127.0.0.1:1' },
  functions: {},
  routes: [],
}).limits;
const DATE = 'Sat, 28 Nov 2026 14:00:00 GMT';

type Write = (res: FastResponse) => void;

/** What a caller's socket receives when `write` answers a `method` request on a connection that then closes. */
async function received(t: TestContext, method: string, write: Write): Promise<string> {
  const server = createServer((socket: Socket) => {
    const head = parseFastHead(
      Buffer.from(`${method} / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`),
      limits,
    );
    assert.ok(head, 'the test request is one the lane takes');
    const req = new FastRequest(head, socket, undefined);
    const owner = { onFinished: () => socket.end() };
    write(new FastResponse(req, owner, { shouldKeepAlive: false, keepAliveTimeoutMs: 5000 }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
  const chunks: Buffer[] = [];
  client.on('data', (chunk: Buffer) => chunks.push(chunk));
  await once(client, 'end');
  client.destroy();
  return Buffer.concat(chunks).toString('latin1');
}

/** Fields as the response parser and responseHeaders leave them, with fnshift's own appended. */
const CASES: {
  name: string;
  method: string;
  status: number;
  reason: string;
  fields: string[];
  body: string;
}[] = [
  {
    name: 'a body framed by content-length',
    method: 'GET',
    status: 200,
    reason: 'OK',
    fields: [
      'content-type',
      'application/json',
      'content-length',
      '2',
      'date',
      DATE,
      'x-fnshift-target',
      'legacy',
    ],
    body: '{}',
  },
  {
    name: 'no content-length: chunked framing',
    method: 'GET',
    status: 201,
    reason: 'Created',
    fields: ['set-cookie', 'a=1', 'set-cookie', 'b=2', 'date', DATE],
    body: 'made',
  },
  {
    name: 'an empty reason phrase gets the standard one',
    method: 'GET',
    status: 404,
    reason: '',
    fields: ['content-length', '0', 'date', DATE],
    body: '',
  },
  { name: 'a 204', method: 'GET', status: 204, reason: 'No Content', fields: ['date', DATE], body: '' },
  {
    name: 'a HEAD request',
    method: 'HEAD',
    status: 200,
    reason: 'OK',
    fields: ['content-length', '3086', 'date', DATE, 'x-fnshift-route', 'recommend'],
    body: '',
  },
];

for (const c of CASES) {
  test(`writeRelayedHead sends what writeHead sends for the same fields: ${c.name}`, async (t) => {
    const relayed = await received(t, c.method, (res) => {
      res.writeRelayedHead(c.status, c.reason, c.fields);
      res.end(c.body);
    });
    const checked = await received(t, c.method, (res) => {
      res.writeHead(c.status, c.reason || undefined, c.fields);
      res.end(c.body);
    });
    assert.equal(relayed, checked);
  });
}

test('a relayed head is the status line, the fields as given, then framing and connection', async (t) => {
  const bytes = await received(t, 'GET', (res) => {
    res.writeRelayedHead(200, 'OK', ['content-length', '2', 'date', DATE, 'x-fnshift-target', 'function']);
    res.end('ok');
  });
  assert.equal(
    bytes,
    `HTTP/1.1 200 OK\r\ncontent-length: 2\r\ndate: ${DATE}\r\nx-fnshift-target: function\r\nconnection: close\r\n\r\nok`,
  );
});

test('a relayed head without a date gets one, as a checked head does', async (t) => {
  const bytes = await received(t, 'GET', (res) => {
    res.writeRelayedHead(200, 'OK', ['content-length', '0']);
    res.end();
  });
  assert.match(
    bytes,
    /^HTTP\/1\.1 200 OK\r\ncontent-length: 0\r\ndate: \w{3}, \d{2} \w{3} \d{4} [\d:]{8} GMT\r\n/,
  );
});

test('writeRelayedHead after a head was written throws, as writeHead does', async (t) => {
  await received(t, 'GET', (res) => {
    res.writeRelayedHead(200, 'OK', ['content-length', '0']);
    assert.throws(() => res.writeRelayedHead(200, 'OK', []), { code: 'ERR_HTTP_HEADERS_SENT' });
    res.end();
  });
});
