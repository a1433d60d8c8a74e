// 200 MiB each way through a child fnshift, byte-complete, with the proxy's RSS nearly flat: bodies are
// streamed with backpressure, never buffered whole (reliability §3 D3/D4).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type TestContext, test } from 'node:test';
import { memoryOf, send, spawnFnshift } from '../helpers/raw.ts';

const MiB = 1024 * 1024;
const CHUNK_BYTES = 64 * 1024;
const TOTAL_BYTES = 200 * MiB;
const MAX_GROWTH_BYTES = 64 * MiB;

/** Deterministic content; each chunk carries its index, so a dropped or reordered chunk changes the hash. */
function* content(totalBytes: number): Generator<Buffer> {
  for (let i = 0; i < totalBytes / CHUNK_BYTES; i++) {
    const chunk = Buffer.alloc(CHUNK_BYTES, i % 251);
    chunk.writeUInt32BE(i, 0);
    yield chunk;
  }
}

function digestOf(totalBytes: number): string {
  const hash = createHash('sha256');
  for (const chunk of content(totalBytes)) hash.update(chunk);
  return hash.digest('hex');
}

type Count = { bytes: number; sha256: string };

/** An upstream that hashes request bodies as they stream in and serves GET ?bytes=N from `content()`. */
async function startCountingUpstream(t: TestContext) {
  const server = createServer((req, res) => {
    if (req.method === 'GET') {
      const totalBytes = Number(new URL(req.url!, 'http://x').searchParams.get('bytes'));
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': totalBytes });
      pipeline(Readable.from(content(totalBytes)), res).catch(() => {});
      return;
    }
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      hash.update(chunk);
    });
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ bytes, sha256: hash.digest('hex') } satisfies Count));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** POSTs `totalBytes` chunked (no Content-Length), so fnshift can only stream it. */
async function upload(url: string, totalBytes: number): Promise<Count> {
  const reply = await send(url, { method: 'POST', body: Readable.from(content(totalBytes)) });
  assert.equal(reply.status, 200, reply.body.toString());
  return JSON.parse(reply.body.toString()) as Count;
}

function download(url: string, totalBytes: number): Promise<Count> {
  return new Promise((resolve, reject) => {
    request(`${url}?bytes=${totalBytes}`, { agent: false }, (res) => {
      const hash = createHash('sha256');
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        hash.update(chunk);
      });
      res.on('error', reject);
      res.on('end', () => resolve({ bytes, sha256: hash.digest('hex') }));
    })
      .on('error', reject)
      .end();
  });
}

async function uploadBoth(dataUrl: string, totalBytes: number): Promise<void> {
  const expected = { bytes: totalBytes, sha256: digestOf(totalBytes) };
  assert.deepEqual(await upload(`${dataUrl}/fn/upload`, totalBytes), expected, 'upload to the function');
  assert.deepEqual(await upload(`${dataUrl}/legacy/upload`, totalBytes), expected, 'upload to legacy');
}

async function downloadOnce(dataUrl: string, totalBytes: number): Promise<void> {
  const expected = { bytes: totalBytes, sha256: digestOf(totalBytes) };
  assert.deepEqual(await download(`${dataUrl}/download`, totalBytes), expected, 'download from legacy');
}

const mib = (n: number) => (n / MiB).toFixed(1);

/** Runs `transfer` and returns the peak RSS seen while it ran (sampled every 50 ms, and VmHWM after). */
async function peakRssDuring(pid: number, transfer: () => Promise<void>): Promise<number> {
  let peakBytes = 0;
  const sampler = setInterval(() => {
    memoryOf(pid).then(
      (m) => {
        peakBytes = Math.max(peakBytes, m.rssBytes);
      },
      () => {},
    );
  }, 50);
  try {
    await transfer();
  } finally {
    clearInterval(sampler);
  }
  return Math.max(peakBytes, (await memoryOf(pid)).peakRssBytes);
}

test('streams 200 MiB down from legacy, then up to the function and to legacy, RSS growing under 64 MiB from cold', async (t) => {
  const legacyUrl = await startCountingUpstream(t);
  const functionUrl = await startCountingUpstream(t);
  const fnshift = await spawnFnshift(t, {
    legacy: { url: legacyUrl },
    functions: { upload: { url: functionUrl } },
    routes: [{ name: 'upload', match: { pathPrefix: '/fn' }, function: 'upload', weight: 100 }],
    limits: { maxBodyBytes: TOTAL_BYTES + MiB },
  });

  // Every transfer is measured against the cold process, with no warm-up round: the memory V8 frees
  // only in 64 MiB batches is exactly what a warm-up would hide.
  // - Response bytes are read into one reused buffer and copied only into recycled slabs
  //   (borrowed-copies.ts).
  // - Node's parser hands each piece of a request body over in a buffer of its own; fnshift frees each
  //   one once the upstream socket has written it (releasePiece in body.ts). Without that, the first
  //   upload grew RSS by about 70 MiB.
  const cold = await memoryOf(fnshift.pid);
  const downloadPeakBytes = await peakRssDuring(fnshift.pid, () =>
    downloadOnce(fnshift.dataUrl, TOTAL_BYTES),
  );
  const uploadPeakBytes = await peakRssDuring(fnshift.pid, () => uploadBoth(fnshift.dataUrl, TOTAL_BYTES));

  t.diagnostic(
    `fnshift RSS: at start ${mib(cold.rssBytes)} MiB, peak during the ${mib(TOTAL_BYTES)} MiB download ` +
      `${mib(downloadPeakBytes)} MiB, peak during the two ${mib(TOTAL_BYTES)} MiB uploads after it ` +
      `${mib(uploadPeakBytes)} MiB`,
  );
  assert.ok(
    downloadPeakBytes - cold.rssBytes < MAX_GROWTH_BYTES,
    `RSS grew by ${mib(downloadPeakBytes - cold.rssBytes)} MiB in the download`,
  );
  assert.ok(
    uploadPeakBytes - cold.rssBytes < MAX_GROWTH_BYTES,
    `RSS grew by ${mib(uploadPeakBytes - cold.rssBytes)} MiB from cold by the end of the uploads`,
  );
});
