// compose.yaml (no Docker engine here to run it): it builds the sidecar image, its command is a real
// fnshift command with real flags, and it publishes only on the host's loopback.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { parse } from 'yaml';
import { buildProgram } from '../../src/cli/main.ts';
import { IMAGE_NODE } from '../../src/deploy/sidecar.ts';

const repo = new URL('../../', import.meta.url);

type Service = {
  build: { context: string; dockerfile: string };
  command: string[];
  ports: string[];
  healthcheck: { test: string[] };
  read_only?: boolean;
};

test('compose.yaml builds deploy/Dockerfile and runs a real fnshift command with real flags', async () => {
  const compose = parse(await readFile(new URL('compose.yaml', repo), 'utf8')) as {
    services: Record<string, Service>;
  };
  const service = compose.services.fnshift!;
  assert.equal(service.build.context, '.');
  assert.ok(existsSync(new URL(service.build.dockerfile, repo)), service.build.dockerfile);
  assert.equal(service.healthcheck.test[1], IMAGE_NODE, 'distroless has no shell: the check runs node');
  assert.equal(service.read_only, true);
  for (const port of service.ports) assert.match(port, /^127\.0\.0\.1:/, 'published on loopback only');

  const [name, ...args] = service.command;
  const command = buildProgram().commands.find((c) => c.name() === name);
  assert.ok(command, `fnshift has a "${name}" command`);
  const flags = args.filter((a) => a.startsWith('--'));
  const missing = flags.filter((flag) => !command.options.some((o) => o.long === flag));
  assert.deepEqual(missing, []);
  const published = service.ports.map((p) => p.split(':').at(-1));
  for (const flag of ['--port', '--admin-port']) {
    assert.ok(published.includes(args[args.indexOf(flag) + 1]), `${flag}'s port is published`);
  }
});
