// One attempt against one upstream: undici's dispatch API straight into the client's response, with
// backpressure both ways and no whole-body buffering. Resolves, never rejects.
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { FnshiftError } from '../errors.ts';
import type { BodySource } from './body.ts';
import { responseHeaders } from './headers.ts';
import { acquire, release, type Upstream } from './upstreams.ts';

export type AttemptRequest = {
  upstream: Upstream;
  method: string;
  /** Path and query as sent, the upstream's base path included. */
  path: string;
  headers: string[];
  body: Buffer | BodySource | null;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  res: ServerResponse;
  /** Consulted on response headers before anything reaches the client; true keeps the response off the wire. */
  shouldDivert?: (statusCode: number) => boolean;
  /** Extra headers for the client's response (x-fnshift-*), read when the response starts. */
  decorate?: (headers: Record<string, string | string[]>) => void;
};

export type AttemptResult =
  /** The upstream's response went to the client in full. */
  | { kind: 'relayed'; statusCode: number }
  /** The upstream answered a status the caller chose to divert; nothing was written to the client. */
  | { kind: 'diverted'; statusCode: number }
  /**
   * The attempt failed. `isSent` is false only if the request never reached a connection (refused, DNS,
   * connect timeout, pool full): only then did the upstream provably see nothing.
   */
  | { kind: 'failed'; error: Error; isSent: boolean; isResponseStarted: boolean }
  /** The client went away; the upstream call was aborted. */
  | { kind: 'client_gone'; isSent: boolean };

class AttemptHandler implements Dispatcher.DispatchHandler {
  readonly #req: AttemptRequest;
  readonly #resolve: (result: AttemptResult) => void;
  #controller: Dispatcher.DispatchController | undefined;
  #isSent = false;
  #isResponseStarted = false;
  #isDone = false;
  #isClientGone = false;

  constructor(req: AttemptRequest, resolve: (result: AttemptResult) => void) {
    this.#req = req;
    this.#resolve = resolve;
    req.res.once('close', this.#onClientClose);
  }

  #onClientClose = (): void => {
    if (this.#isDone || this.#req.res.writableFinished) return;
    this.#isClientGone = true;
    this.#controller?.abort(new Error('client closed the connection'));
    if (!this.#controller) {
      // Not on a connection yet: it is aborted as soon as it starts (see onRequestStart).
      this.#finish({ kind: 'client_gone', isSent: false });
    }
  };

  #onDrain = (): void => {
    this.#controller?.resume();
  };

  #finish(result: AttemptResult): void {
    if (this.#isDone) return;
    this.#isDone = true;
    this.#req.res.off('close', this.#onClientClose);
    this.#req.res.off('drain', this.#onDrain);
    release(this.#req.upstream);
    this.#resolve(result);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    this.#isSent = true;
    if (this.#isClientGone) controller.abort(new Error('client closed the connection'));
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    statusMessage?: string,
  ): void {
    const req = this.#req;
    if (req.shouldDivert?.(statusCode)) {
      this.#finish({ kind: 'diverted', statusCode });
      controller.abort(new Error('response diverted'));
      return;
    }
    if (this.#isClientGone) return;
    const problem = responseProblem(req, statusCode, headers);
    if (problem) {
      // Nothing was written yet, so the caller gets a clean 502 (or legacy) and undici drops the socket.
      controller.abort(new FnshiftError('FNSHIFT_UPSTREAM_BAD_RESPONSE', problem));
      return;
    }
    const out = responseHeaders(headers);
    req.decorate?.(out);
    this.#isResponseStarted = true;
    try {
      req.res.writeHead(statusCode, statusMessage || undefined, out);
    } catch (error) {
      // Invalid header values from the upstream: nothing was written, so the caller can answer 502.
      this.#isResponseStarted = false;
      controller.abort(error as Error);
    }
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#isDone || this.#isClientGone) return;
    if (!this.#req.res.write(chunk)) {
      controller.pause();
      this.#req.res.once('drain', this.#onDrain);
    }
  }

  onResponseEnd(): void {
    if (this.#isDone) return;
    const statusCode = this.#req.res.statusCode;
    if (!this.#isClientGone) this.#req.res.end();
    this.#finish(
      this.#isClientGone ? { kind: 'client_gone', isSent: true } : { kind: 'relayed', statusCode },
    );
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (this.#isDone) return;
    if (this.#isClientGone) return this.#finish({ kind: 'client_gone', isSent: this.#isSent });
    this.#finish({ kind: 'failed', error, isSent: this.#isSent, isResponseStarted: this.#isResponseStarted });
  }
}

/**
 * What undici's parser lets through but a response must not have: a declared body over maxResponseBytes
 * (undici only counts bytes as they arrive, so the caller would get a head and then a cut), and any
 * Transfer-Encoding but a single `chunked` (`chunked, chunked`, `gzip, chunked`: HAProxy refuses them,
 * and a coding other than chunked would reach the caller undecoded once the hop-by-hop field is dropped).
 */
function responseProblem(
  req: AttemptRequest,
  statusCode: number,
  headers: IncomingHttpHeaders,
): string | undefined {
  const te = headers['transfer-encoding'];
  if (te !== undefined && String(te).trim().toLowerCase() !== 'chunked') {
    return `unsupported transfer-encoding: ${String(te)}`;
  }
  // HEAD and 304 declare the length of a body they do not carry.
  if (req.method === 'HEAD' || statusCode === 304) return undefined;
  const length = Number(headers['content-length']);
  if (length > req.upstream.limits.maxResponseBytes) {
    return `response of ${length} bytes exceeds ${req.upstream.limits.maxResponseBytes}`;
  }
  return undefined;
}

export function attempt(req: AttemptRequest): Promise<AttemptResult> {
  const refused = acquire(req.upstream);
  if (refused)
    return Promise.resolve({ kind: 'failed', error: refused, isSent: false, isResponseStarted: false });
  return new Promise((resolve) => {
    const handler = new AttemptHandler(req, resolve);
    try {
      req.upstream.pool.dispatch(
        {
          path: req.path,
          method: req.method as Dispatcher.HttpMethod,
          headers: req.headers,
          body: req.body,
          headersTimeout: req.headersTimeoutMs,
          bodyTimeout: req.bodyTimeoutMs,
          // Replays are decided by fnshift's fallback rule, never by undici on a pipelined socket.
          idempotent: false,
          blocking: true,
        },
        handler,
      );
    } catch (error) {
      handler.onResponseError(undefined as unknown as Dispatcher.DispatchController, error as Error);
    }
  });
}
