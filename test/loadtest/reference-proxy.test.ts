// nginx as the overhead scenario's reference hop: it forwards to the upstream it was given, and stops
// with nothing left running.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isReferenceAvailable, startReferenceProxy } from '../../loadtest/reference-proxy.ts';

function workDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'fnshift-reference-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    })
      .on('error', reject)
      .end();
  });
}

test('refuses with a start error when nginx is not where it looks', async (t) => {
  await assert.rejects(startReferenceProxy('http://127.0.0.1:9', workDir(t), '/nonexistent/nginx'), {
    code: 'FNSHIFT_LOADTEST_START',
    message: /needs nginx at \/nonexistent\/nginx/,
  });
});

test('forwards to the upstream and is gone after stop', {
  skip: isReferenceAvailable() ? false : 'nginx is not installed',
}, async (t) => {
  const seen: string[] = [];
  const upstream = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    res.end('from upstream');
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  t.after(() => upstream.close());
  const address = upstream.address();
  assert.ok(address && typeof address === 'object');
  const reference = await startReferenceProxy(`http://127.0.0.1:${address.port}`, workDir(t));
  t.after(() => reference.stop());
  assert.match(reference.detail, /^nginx\/[\d.]+, one process, upstream keepalive 64$/);
  const before = seen.length; // the start-up probe's GET /
  const answer = await get(`${reference.url}/api/recommend?u=1`);
  assert.deepEqual(answer, { status: 200, body: 'from upstream' });
  assert.deepEqual(seen.slice(before), ['GET /api/recommend?u=1']);
  const pid = reference.pid;
  assert.ok(pid !== undefined);
  await reference.stop();
  assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, 'the nginx process is gone');
  await assert.rejects(get(`${reference.url}/`), { code: 'ECONNREFUSED' });
});
