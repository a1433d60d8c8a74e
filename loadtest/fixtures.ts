// The legacy app and the function of a load test, each a node:http server in its own child process (so
// neither shares an event loop with fnshift or the generator), steered over IPC: kill, hang, fail, recover.
import { fileURLToPath } from 'node:url';
import {
  createFixtureServer,
  type FixtureCounters,
  type FixtureMode,
  type FixtureServerOptions,
} from './fixture-server.ts';
import { type Child, forkChild, waitForReady } from './processes.ts';

const SCRIPT = fileURLToPath(import.meta.url);
const START_TIMEOUT_MS = 10_000;
const CONTROL_TIMEOUT_MS = 2000;

export type { FixtureServerOptions as FixtureOptions };

type ControlMessage =
  | { readonly type: 'mode'; readonly mode: FixtureMode; readonly failStatus?: number }
  | { readonly type: 'stats' };

type ControlReply = { readonly type: 'ack'; readonly mode: FixtureMode; readonly counters: FixtureCounters };

export interface FixtureHandle {
  readonly role: FixtureServerOptions['role'];
  readonly url: string;
  readonly options: FixtureServerOptions;
  /** The fixture process's pid (a new one after a restart). */
  pid(): number | undefined;
  isAlive(): boolean;
  /** SIGKILL: connections are reset and new ones refused until `recover()`. */
  kill(): Promise<void>;
  /** Accepts and never answers; restarts the process first if it was killed. */
  hang(): Promise<void>;
  /** Answers every request with `status` (503 by default). */
  fail(status?: number): Promise<void>;
  /** Back to normal; restarts the process (with a cold start) if it was killed. */
  recover(): Promise<void>;
  /** Requests received since the current process started. */
  counters(): Promise<FixtureCounters | undefined>;
  stop(): Promise<void>;
}

export async function startFixture(options: FixtureServerOptions): Promise<FixtureHandle> {
  let port = 0;
  let child: Child = await spawnFixture(options, 0, (p) => {
    port = p;
  });
  const ensureRunning = async (mode: FixtureMode) => {
    if (!child.hasExited()) return false;
    // The same port, so fnshift's config keeps pointing at it, as a restarted pod behind a Service would.
    child = await spawnFixture({ ...options, mode }, port, () => {});
    return true;
  };
  const setMode = async (mode: FixtureMode, failStatus?: number) => {
    if (await ensureRunning(mode)) return;
    await control(child, { type: 'mode', mode, failStatus });
  };
  return {
    role: options.role,
    url: `http://127.0.0.1:${port}`,
    options,
    pid: () => child.process.pid,
    isAlive: () => !child.hasExited(),
    kill: () => child.kill(),
    hang: () => setMode('hang'),
    fail: (status = 503) => setMode('fail', status),
    recover: () => setMode('normal'),
    counters: async () =>
      child.hasExited() ? undefined : (await control(child, { type: 'stats' })).counters,
    stop: () => child.stop(),
  };
}

async function spawnFixture(
  options: FixtureServerOptions,
  port: number,
  onPort: (port: number) => void,
): Promise<Child> {
  const child = forkChild(`${options.role} fixture`, SCRIPT, [JSON.stringify(options), String(port)]);
  try {
    onPort(await waitForReady(child, START_TIMEOUT_MS));
    return child;
  } catch (error) {
    await child.stop();
    throw error;
  }
}

function control(child: Child, message: ControlMessage): Promise<ControlReply> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.process.off('message', onMessage);
      reject(new Error(`${child.name} did not answer a ${message.type} message`));
    }, CONTROL_TIMEOUT_MS);
    const onMessage = (reply: ControlReply) => {
      if (reply?.type !== 'ack') return;
      clearTimeout(timer);
      child.process.off('message', onMessage);
      resolve(reply);
    };
    child.process.on('message', onMessage);
    child.process.send(message);
  });
}

function main(): void {
  const options = JSON.parse(process.argv[2] ?? '{}') as FixtureServerOptions;
  const fixture = createFixtureServer(options);
  let mode: FixtureMode = options.mode ?? 'normal';
  process.on('message', (message: ControlMessage) => {
    if (message.type === 'mode') {
      mode = message.mode;
      fixture.setMode(message.mode, message.failStatus);
    }
    process.send?.({ type: 'ack', mode, counters: fixture.counters } satisfies ControlReply);
  });
  // The run talks over IPC; when it goes away (even killed), so does the fixture.
  process.on('disconnect', () => process.exit(0));
  fixture.server.listen(Number(process.argv[3] ?? 0), '127.0.0.1', () => {
    const address = fixture.server.address();
    if (address === null || typeof address === 'string') throw new Error('no TCP address');
    process.send?.({ event: 'ready', port: address.port });
  });
}

if (import.meta.main) main();
