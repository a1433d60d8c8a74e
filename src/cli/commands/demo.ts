// `fnshift demo` (`npm start`): a legacy recommendation BFF, its logic moved into local functions, and
// fnshift in front at visible weights, with what to try printed.
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateConfig } from '../../config/load.ts';
import type { ConfigInput } from '../../config/schema.ts';
import { startFunctionHost } from '../../local/function-host.ts';
import { startLegacyApp } from '../../local/legacy-app.ts';
import { run } from '../../main.ts';
import { createLogger } from '../../telemetry/log.ts';

export function demoConfig(
  legacyUrl: string,
  functionsUrl: string,
  listen: { host: string; port: number; adminPort: number },
): ConfigInput {
  const host = listen.host.includes(':') ? `[${listen.host}]` : listen.host;
  return {
    listen: `${host}:${listen.port}`,
    admin: { listen: `${host}:${listen.adminPort}` },
    legacy: { url: legacyUrl },
    functions: {
      recommend: { url: `${functionsUrl}/recommend`, timeoutMs: 800 },
      item: { url: `${functionsUrl}/item`, timeoutMs: 800 },
      feedback: { url: `${functionsUrl}/feedback`, timeoutMs: 800 },
    },
    routes: [
      {
        name: 'recommend',
        match: { pathPrefix: '/api/recommend' },
        function: 'recommend',
        weight: 50,
        sticky: { header: 'x-user-id' },
      },
      {
        name: 'item',
        match: { pathPrefix: '/api/item' },
        function: 'item',
        weight: 25,
        sticky: { cookie: 'uid' },
      },
      {
        name: 'feedback',
        match: { path: '/api/feedback', methods: ['POST'] },
        function: 'feedback',
        weight: 10,
        sticky: { header: 'x-user-id' },
      },
    ],
    state: { file: join(tmpdir(), `fnshift-demo-state-${process.pid}.json`) },
  };
}

export async function demoCommand(
  options: { port: number; adminPort: number; host?: string },
  out: (line: string) => void,
) {
  // Users alice and heidi hash to buckets 4078 and 6636: at 50% one lands on each side.
  const legacy = await startLegacyApp({ host: '127.0.0.1', port: 0 });
  const functions = await startFunctionHost({
    dir: new URL('../../local/functions/', import.meta.url).pathname,
  });
  const validated = validateConfig(
    demoConfig(legacy.url, functions.url, {
      host: options.host ?? '127.0.0.1',
      port: options.port,
      adminPort: options.adminPort,
    }),
  );
  if (!validated.ok) throw new Error(`demo config invalid: ${validated.problems.join('; ')}`);
  const logger = createLogger({ level: process.env.FNSHIFT_LOG_LEVEL ?? 'warn' });
  const { app, addresses, telemetry } = await run({ config: validated.config, logger, isEmbedded: true });
  const url = addresses.data;
  out(`fnshift demo: a legacy shop BFF, its logic moved into functions, and fnshift in front

  legacy app   ${legacy.url}
  functions    ${functions.url}  (recommend, item, feedback: Lambda / Function Compute handlers)
  fnshift      ${url}   <- send traffic here
  admin        ${addresses.admin}   (GET /routes, /livez, /readyz, /metrics)

  routes: recommend 50% (sticky on x-user-id) · item 25% (cookie uid) · feedback 10% (POST)

Try:
  curl -si -H 'x-user-id: alice' '${url}/api/recommend?scene=home' | grep -i -E '^x-(fnshift|served)'
  curl -si -H 'x-user-id: heidi' '${url}/api/recommend?scene=home' | grep -i -E '^x-(fnshift|served)'
  curl -si -H 'x-fnshift-force: function' '${url}/api/item/sku-0042'
  curl -si -X POST -H 'content-type: application/json' -H 'x-user-id: alice' -d '{"itemId":"sku-0042","action":"click"}' '${url}/api/feedback'
  npx fnshift status --admin ${addresses.admin}
  npx fnshift weight recommend 100 --admin ${addresses.admin}

Ctrl-C stops everything.`);
  let isStopping = false;
  const stop = async () => {
    if (isStopping) return;
    isStopping = true;
    await app.shutdown(2000);
    await telemetry.shutdown();
    // The state file is this run's own: every demo starts at the weights above.
    await Promise.all([legacy.close(), functions.close(), rm(validated.config.state.file, { force: true })]);
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
  return { app, addresses, legacy, functions, stop };
}
