// Request bodies toward an upstream: streamed with a byte cap and an idle deadline, or buffered whole
// (under the fallback cap) so an idempotent request can be replayed on legacy.
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { FnshiftError } from '../errors.ts';
import type { ProxyRequest } from './exchange.ts';

/**
 * A body still to be read from the request: then the request is Node's own, since the fast lane reads
 * the bodies it takes whole, with their heads (`req.body`).
 */
export function hasStreamedBody(req: ProxyRequest): req is IncomingMessage {
  if (req.body !== undefined) return false;
  const length = req.headers['content-length'];
  if (length !== undefined) return length !== '0';
  return req.headers['transfer-encoding'] !== undefined;
}

export type BodyLimits = { maxBodyBytes: number; bodyIdleTimeoutMs: number };

function overCap(maxBodyBytes: number): FnshiftError {
  return new FnshiftError('FNSHIFT_BODY_TOO_LARGE', `body exceeds ${maxBodyBytes} bytes`);
}

function idleTimeout(ms: number): FnshiftError {
  return new FnshiftError('FNSHIFT_REQUEST_TIMEOUT', `no body bytes for ${ms} ms`);
}

/**
 * A pull-based view of the client's body. `hasStarted` stays false until an upstream reads from it,
 * which is the proof that nothing of the body left fnshift.
 */
export class BodySource extends Readable {
  hasStarted = false;
  readonly #req: IncomingMessage;
  readonly #limits: BodyLimits;
  #bytes = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(req: IncomingMessage, limits: BodyLimits) {
    super({ highWaterMark: 64 * 1024 });
    this.#req = req;
    this.#limits = limits;
  }

  /**
   * The idle deadline runs only while the upstream side wants bytes and waits for the client: a body held
   * back because the upstream stopped reading is the upstream's delay (its attempt times that), not the
   * client's.
   */
  override _read(): void {
    if (!this.hasStarted) {
      this.hasStarted = true;
      this.#req.on('data', this.#onData);
      this.#req.once('end', this.#onEnd);
      this.#req.once('error', this.#onError);
      this.#req.once('aborted', this.#onAborted);
      if (this.#req.readableEnded) this.#onEnd();
    }
    this.#armTimer();
    this.#req.resume();
  }

  #armTimer(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(
      () => this.destroy(idleTimeout(this.#limits.bodyIdleTimeoutMs)),
      this.#limits.bodyIdleTimeoutMs,
    );
    this.#timer.unref();
  }

  #onData = (chunk: Buffer): void => {
    this.#bytes += chunk.length;
    if (this.#bytes > this.#limits.maxBodyBytes) {
      this.destroy(overCap(this.#limits.maxBodyBytes));
      return;
    }
    if (this.push(chunk)) {
      this.#armTimer();
      return;
    }
    // Full: the reader has not caught up. _read() resumes the client and its deadline.
    clearTimeout(this.#timer);
    this.#req.pause();
  };

  #onEnd = (): void => {
    clearTimeout(this.#timer);
    this.push(null);
  };

  #onError = (error: Error): void => {
    this.destroy(error);
  };

  #onAborted = (): void => {
    this.destroy(new FnshiftError('FNSHIFT_BAD_REQUEST', 'client aborted the upload'));
  };

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    clearTimeout(this.#timer);
    this.#req.off('data', this.#onData);
    this.#req.off('end', this.#onEnd);
    this.#req.off('error', this.#onError);
    this.#req.off('aborted', this.#onAborted);
    callback(error);
  }
}

/**
 * Gives a streamed body piece's memory back once the upstream socket is done with it (its write
 * callback). Node's parser hands over each piece of a request body in an ArrayBuffer of its own, and V8
 * frees such off-heap memory only after some 64 MiB of it have piled up: a cold process grew about
 * 70 MiB over one 200 MiB upload. Detaching the buffer frees it now. Only a piece that is its buffer's
 * one whole view is released, so a slice of shared memory is never touched.
 */
export function releasePiece(piece: Buffer): void {
  const memory = piece.buffer;
  if (!(memory instanceof ArrayBuffer) || memory.detached) return;
  if (piece.byteOffset === 0 && piece.byteLength === memory.byteLength) memory.transfer(0);
}

/** What goes upstream as the body: the bytes the fast lane read whole, a stream of the rest, or none. */
export function bodyOf(req: ProxyRequest, limits: BodyLimits): Buffer | BodySource | null {
  if (req.body !== undefined) return req.body.length > 0 ? req.body : null;
  return hasStreamedBody(req) ? new BodySource(req, limits) : null;
}

/** Reads the whole body into memory; callers only do this under the fallback buffer cap. */
export function bufferBody(req: IncomingMessage, limits: BodyLimits, capBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    let timer = setTimeout(onIdle, limits.bodyIdleTimeoutMs);
    function onIdle() {
      finish(idleTimeout(limits.bodyIdleTimeoutMs));
    }
    function onData(chunk: Buffer) {
      bytes += chunk.length;
      if (bytes > capBytes) return finish(overCap(capBytes));
      chunks.push(chunk);
      clearTimeout(timer);
      timer = setTimeout(onIdle, limits.bodyIdleTimeoutMs);
    }
    function onEnd() {
      finish(undefined, Buffer.concat(chunks, bytes));
    }
    function onError(error: Error) {
      finish(new FnshiftError('FNSHIFT_BAD_REQUEST', 'client aborted the upload', { cause: error }));
    }
    function onClose() {
      if (!req.complete) finish(new FnshiftError('FNSHIFT_BAD_REQUEST', 'client aborted the upload'));
    }
    function finish(error?: FnshiftError, body?: Buffer) {
      clearTimeout(timer);
      req.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
      if (error) reject(error);
      else resolve(body!);
    }
    req.on('data', onData).once('end', onEnd).once('error', onError).once('close', onClose);
  });
}
