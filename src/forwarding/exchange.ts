// What the request path reads of a request and writes to a response. Node's IncomingMessage and
// ServerResponse are both; so are the fast lane's lighter FastRequest and FastResponse.
import type { IncomingHttpHeaders } from 'node:http';

export interface ProxyRequest {
  readonly method?: string | undefined;
  readonly url?: string | undefined;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: string[];
  readonly httpVersion: string;
  readonly httpVersionMinor: number;
  /** The whole body has been read (always, for a request without one). */
  readonly complete: boolean;
  /**
   * The whole body, read before the request was handed on (the fast lane); absent when it is still to
   * be read from the request as a stream (Node's IncomingMessage).
   */
  readonly body?: Buffer | undefined;
  readonly socket: { readonly remoteAddress?: string | undefined };
}

export type ResponseHeaderValues = Record<string, string | string[] | number>;

export interface ProxyResponse {
  statusCode: number;
  /** False once the connection is to close after this response (set before the head is written). */
  shouldKeepAlive: boolean;
  readonly headersSent: boolean;
  readonly destroyed: boolean;
  readonly writableEnded: boolean;
  readonly writableFinished: boolean;
  /** `headers` as an object, or as a flat `[name, value, ...]` list (what Node's writeHead also takes). */
  writeHead(
    statusCode: number,
    statusMessage: string | undefined,
    headers: ResponseHeaderValues | string[],
  ): unknown;
  /**
   * False when the caller's socket is full: wait for 'drain'. `onFlushed` runs once the socket no longer
   * holds `chunk`, and may never run when it never took it (a response already ended, or bodiless).
   */
  write(chunk: Buffer, onFlushed?: () => void): boolean;
  end(chunk?: string | Buffer): unknown;
  destroy(error?: Error): unknown;
  once(event: 'close' | 'drain', listener: () => void): unknown;
  off(event: 'close' | 'drain', listener: () => void): unknown;
}
