// The local function host (`fnshift functions serve DIR`): runs Lambda/FC-style handlers behind plain HTTP.
import { randomUUID } from 'node:crypto';
import diagnostics from 'node:diagnostics_channel';
import { readdir } from 'node:fs/promises';
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
  STATUS_CODES,
} from 'node:http';
import type { Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { FnshiftError } from '../errors.ts';
import { readBody } from './body.ts';
import { type FunctionEvent, hostProblem, toEvent, writeProblem, writeResult } from './event.ts';
import { listenLocal } from './listen.ts';

export type FunctionContext = Readonly<{
  functionName: string;
  requestId: string;
  /** Epoch ms after which the host answers 504 without the handler's result. */
  deadlineMs?: number;
  getRemainingTimeInMillis(): number;
}>;

export type Handler = (event: FunctionEvent, context: FunctionContext) => unknown;

export type FunctionHostOptions = Readonly<{
  /** A folder of `NAME.ts|.js|.mjs` files, each exporting `handler`. */
  dir?: string;
  handlers?: Readonly<Record<string, Handler>>;
  host?: string;
  port?: number;
  /** Added before every invocation, to play a network hop or a cold start. */
  latencyMs?: number;
  timeoutMs?: number;
}>;

export type FunctionHost = {
  url: string;
  server: Server;
  invocations: Record<string, number>;
  close(): Promise<void>;
};

/** One invocation, for telemetry; carries no event, result or error text so nothing sensitive leaks. */
export type InvokeMessage = Readonly<{
  functionName: string;
  requestId: string;
  statusCode: number;
  durationMs: number;
}>;

export const invokeChannel = diagnostics.channel('fnshift:functions:invoke');

export const FUNCTION_NAME = /^[a-z0-9][a-z0-9_-]*$/;
/** Lambda's synchronous payload limit. */
export const PAYLOAD_LIMIT_BYTES = 6 * 1024 * 1024;
/** About API Gateway's integration limit (29 s): long enough for any demo, short enough that a hung handler ends. */
const DEFAULT_TIMEOUT_MS = 30_000;
const MODULE_FILE = /^([a-z0-9][a-z0-9_-]*)\.(ts|js|mjs)$/;

type Outcome = { kind: 'ok'; value: unknown } | { kind: 'threw' } | { kind: 'timeout' };

function configError(message: string, cause?: unknown): FnshiftError {
  return new FnshiftError('FNSHIFT_CONFIG_INVALID', message, { cause });
}

async function loadModule(dir: string, file: string): Promise<Handler> {
  let module: { handler?: unknown };
  try {
    module = await import(pathToFileURL(join(dir, file)).href);
  } catch (error) {
    throw configError(`function file ${file} cannot be loaded`, error);
  }
  if (typeof module.handler !== 'function') {
    throw configError(`function file ${file} does not export a handler`);
  }
  return module.handler as Handler;
}

/** Every handler by name; a bad name, a duplicate or a module without `handler` stops the start. */
export async function loadFunctions(options: FunctionHostOptions): Promise<Map<string, Handler>> {
  const functions = new Map<string, Handler>();
  const add = (name: string, handler: Handler) => {
    if (!FUNCTION_NAME.test(name)) {
      throw configError(`function name ${JSON.stringify(name)} is not [a-z0-9_-]`);
    }
    if (functions.has(name)) throw configError(`function ${name} is defined twice`);
    if (typeof handler !== 'function') throw configError(`function ${name} has no handler`);
    functions.set(name, handler);
  };
  for (const [name, handler] of Object.entries(options.handlers ?? {})) add(name, handler);
  if (options.dir !== undefined) {
    const dir = resolve(options.dir);
    const files = (await readdir(dir, { withFileTypes: true })).filter(
      (f) => f.isFile() && MODULE_FILE.test(f.name),
    );
    for (const file of files.sort((a, b) => a.name.localeCompare(b.name))) {
      add(MODULE_FILE.exec(file.name)![1]!, await loadModule(dir, file.name));
    }
  }
  return functions;
}

function makeContext(functionName: string, requestId: string, timeoutMs: number): FunctionContext {
  const deadlineMs = Date.now() + timeoutMs;
  return Object.freeze({
    functionName,
    requestId,
    deadlineMs,
    getRemainingTimeInMillis: () => Math.max(0, deadlineMs - Date.now()),
  });
}

/** Runs a handler, sync or async; a throw, a rejection and a timeout are outcomes, never unhandled. */
function invoke(
  handler: Handler,
  event: FunctionEvent,
  context: FunctionContext,
  timeoutMs: number,
): Promise<Outcome> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Outcome>((done) => {
    timer = setTimeout(done, timeoutMs, { kind: 'timeout' });
  });
  const run = new Promise((settle) => settle(handler(event, context))).then<Outcome, Outcome>(
    (value) => ({ kind: 'ok', value }),
    () => ({ kind: 'threw' }),
  );
  // The timer must not outlive a finished handler: it would hold the process open for timeoutMs.
  return Promise.race([run, timeout]).finally(() => clearTimeout(timer));
}

function splitTarget(target: string): { name: string; path: string } {
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  const slash = path.indexOf('/', 1);
  return { name: path.slice(1, slash === -1 ? undefined : slash), path };
}

function sendJson(
  res: ServerResponse,
  status: number,
  value: unknown,
  headers: Record<string, string>,
): void {
  const body = Buffer.from(JSON.stringify(value));
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
}

type HostState = {
  functions: Map<string, Handler>;
  invocations: Record<string, number>;
  latencyMs: number;
  timeoutMs: number;
};

function writeOutcome(res: ServerResponse, outcome: Outcome, marks: Record<string, string>): number {
  if (outcome.kind === 'ok') return writeResult(res, outcome.value, marks);
  if (outcome.kind === 'timeout') {
    return writeProblem(res, 'FNSHIFT_FUNCTION_TIMEOUT', 'the function timed out', marks);
  }
  return writeProblem(res, 'FNSHIFT_FUNCTION_THREW', 'the function threw; see its own logs', marks);
}

function listFunctions(res: ServerResponse, state: HostState, marks: Record<string, string>): void {
  const functions = [...state.functions.keys()].map((name) => ({
    name,
    path: `/${name}`,
    invocations: state.invocations[name],
  }));
  sendJson(res, 200, { functions }, marks);
}

async function invokeAndWrite(
  req: IncomingMessage,
  res: ServerResponse,
  state: HostState,
  name: string,
  body: Buffer,
): Promise<void> {
  const handler = state.functions.get(name)!;
  const marks = { 'x-served-by': 'function', 'x-function-name': name };
  if (state.latencyMs > 0) await delay(state.latencyMs);
  const startMs = performance.now();
  const requestId = randomUUID();
  state.invocations[name] = (state.invocations[name] ?? 0) + 1;
  const event = toEvent(req, body, { basePath: `/${name}`, requestId });
  const context = makeContext(name, requestId, state.timeoutMs);
  const statusCode = writeOutcome(res, await invoke(handler, event, context, state.timeoutMs), marks);
  if (invokeChannel.hasSubscribers) {
    const durationMs = performance.now() - startMs;
    invokeChannel.publish({ functionName: name, requestId, statusCode, durationMs } satisfies InvokeMessage);
  }
}

async function serve(req: IncomingMessage, res: ServerResponse, state: HostState): Promise<void> {
  const { name, path } = splitTarget(req.url ?? '/');
  const marks: Record<string, string> = { 'x-served-by': 'function' };
  if (path === '/' && (req.method === 'GET' || req.method === 'HEAD')) {
    return listFunctions(res, state, marks);
  }
  if (!state.functions.has(name)) {
    return void writeProblem(res, 'FNSHIFT_NOT_FOUND', 'no function with this name', marks);
  }
  marks['x-function-name'] = name;
  const body = await readBody(req, PAYLOAD_LIMIT_BYTES);
  if (body.ok) return invokeAndWrite(req, res, state, name, body.body);
  if (!body.isTooLarge) return; // the caller went away; there is no one to answer
  res.setHeader('connection', 'close');
  writeProblem(res, 'FNSHIFT_BODY_TOO_LARGE', 'the body is larger than 6 MiB', marks);
}

/** Node's default answer to a malformed request has none of our headers; this one does. */
function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  if (!socket.writable || error.code === 'ECONNRESET') return void socket.destroy();
  const isOverflow = error.code === 'HPE_HEADER_OVERFLOW';
  const { status, body } = hostProblem(
    isOverflow ? 'FNSHIFT_HEADERS_TOO_LARGE' : 'FNSHIFT_BAD_REQUEST',
    'malformed HTTP request',
  );
  const head =
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nconnection: close\r\ncontent-type: application/problem+json\r\n` +
    `x-served-by: function\r\ncontent-length: ${body.length}\r\n\r\n`;
  socket.end(Buffer.concat([Buffer.from(head), body]));
}

function durationMs(
  name: string,
  value: number | undefined,
  fallbackMs: number,
  isZeroAllowed: boolean,
): number {
  if (value === undefined) return fallbackMs;
  if (!Number.isFinite(value) || value < 0 || (value === 0 && !isZeroAllowed)) {
    throw configError(`${name} must be a finite number of milliseconds${isZeroAllowed ? ' ≥ 0' : ' > 0'}`);
  }
  return value;
}

export async function startFunctionHost(options: FunctionHostOptions = {}): Promise<FunctionHost> {
  const latencyMs = durationMs('latencyMs', options.latencyMs, 0, true);
  const timeoutMs = durationMs('timeoutMs', options.timeoutMs, DEFAULT_TIMEOUT_MS, false);
  const functions = await loadFunctions(options);
  const invocations: Record<string, number> = Object.fromEntries([...functions.keys()].map((n) => [n, 0]));
  const state: HostState = { functions, invocations, latencyMs, timeoutMs };
  const server = createServer((req, res) => {
    serve(req, res, state).catch(() => writeProblem(res, 'FNSHIFT_INTERNAL', 'the function host failed'));
  });
  server.on('clientError', answerClientError);
  const { url, close } = await listenLocal(server, options);
  return { url, server, invocations, close };
}
