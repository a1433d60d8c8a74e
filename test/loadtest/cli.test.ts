// The loadtest command line: exit 99 on a breached SLO, 0 when met, 2 on bad flags, and --compare.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { LoadtestResult } from '../../loadtest/result.ts';

const cli = fileURLToPath(new URL('../../loadtest/cli.ts', import.meta.url));
const fnshiftCli = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

function runCli(
  args: readonly string[],
  entry: readonly string[] = [cli],
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...entry, ...args],
      { timeout: 30_000, env: { ...process.env, CI: 'true' } },
      (error, stdout, stderr) => {
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

const quick = ['--scenario', 'baseline', '--short', '--duration-s', '1', '--rate', '100'];

test('exits 99 when the p99 SLO is breached, and 0 with --compare when every SLO is met', {
  timeout: 60_000,
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fnshift-loadtest-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const first = await runCli([...quick, '--slo-p99-ms', '0.001', '--out', join(dir, 'first')]);
  assert.equal(first.code, 99, first.stderr);
  assert.match(first.stdout, /SLO BREACHED: p99 [\d.]+ ms > 0.001 ms/);
  const breached = JSON.parse(readFileSync(join(dir, 'first', 'results.json'), 'utf8')) as LoadtestResult;
  assert.equal(breached.slo.isBreached, true);
  assert.match(readFileSync(join(dir, 'first', 'report.md'), 'utf8'), /\*\*BREACHED\*\*/);

  const second = await runCli([
    ...quick,
    '--slo-p99-ms',
    '60000',
    '--slo-error-rate',
    '50%',
    '--compare',
    join(dir, 'first', 'results.json'),
    '--out',
    join(dir, 'second'),
  ]);
  assert.equal(second.code, 0, second.stderr);
  const compared = JSON.parse(readFileSync(join(dir, 'second', 'results.json'), 'utf8')) as LoadtestResult;
  assert.equal(compared.slo.isBreached, false);
  assert.ok(compared.compare, 'the comparison is kept in the JSON');
  assert.deepEqual(
    compared.compare.headline.map((d) => d.key),
    Object.keys(compared.headline),
  );
  assert.match(readFileSync(join(dir, 'second', 'report.md'), 'utf8'), /## Compared with .*first/);
  assert.match(readFileSync(join(dir, 'second', 'report.html'), 'utf8'), /Compared with/);
});

test('exits 2 on an unknown scenario, a bad number or a missing --compare file', {
  timeout: 30_000,
}, async () => {
  assert.equal((await runCli(['--scenario', 'nope'])).code, 2);
  assert.equal((await runCli(['--scenario', 'baseline', '--rate', '-5'])).code, 2);
  assert.equal((await runCli(['--scenario', 'baseline', '--slo-error-rate', '2'])).code, 2);
  assert.equal((await runCli([])).code, 2);
  assert.equal((await runCli(['--scenario', 'baseline', '--compare', '/nonexistent/results.json'])).code, 2);
  const help = await runCli(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--slo-p99-ms/);
});

test('runs as `fnshift loadtest` with the same flags and exit codes', { timeout: 30_000 }, async () => {
  const help = await runCli(['--help'], [fnshiftCli, 'loadtest']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--scenario NAME/);
  const bad = await runCli(['--scenario', 'nope'], [fnshiftCli, 'loadtest']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown scenario "nope"/);
});
