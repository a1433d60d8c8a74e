// An OTLP/HTTP trace receiver for tests: decodes each protobuf ExportTraceServiceRequest with protobufjs
// (the field numbers of opentelemetry-proto v1 trace.proto) and keeps the spans.
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import protobuf from 'protobufjs';
import { closeServer } from '../helpers/fnshift.ts';

const TRACE_PROTO = `
syntax = "proto3";
package otlp;
message AnyValue {
  oneof value {
    string string_value = 1;
    bool bool_value = 2;
    int64 int_value = 3;
    double double_value = 4;
    ArrayValue array_value = 5;
    KeyValueList kvlist_value = 6;
    bytes bytes_value = 7;
  }
}
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
message KeyValue { string key = 1; AnyValue value = 2; }
message Resource { repeated KeyValue attributes = 1; }
message InstrumentationScope { string name = 1; string version = 2; }
message Status { string message = 2; int32 code = 3; }
message Span {
  bytes trace_id = 1;
  bytes span_id = 2;
  string trace_state = 3;
  bytes parent_span_id = 4;
  string name = 5;
  int32 kind = 6;
  fixed64 start_time_unix_nano = 7;
  fixed64 end_time_unix_nano = 8;
  repeated KeyValue attributes = 9;
  Status status = 15;
  fixed32 flags = 16;
}
message ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; }
message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
`;

const requestType = protobuf.parse(TRACE_PROTO).root.lookupType('otlp.ExportTraceServiceRequest');

/** OTLP's SpanKind numbering (trace.proto), not the API's. */
export const SPAN_KIND = { internal: 1, server: 2, client: 3 } as const;
/** OTLP's StatusCode numbering. */
export const STATUS_CODE = { unset: 0, ok: 1, error: 2 } as const;

export type Attributes = Record<string, string | number | boolean | undefined>;

export type ReceivedSpan = {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Attributes;
  statusCode: number;
  resource: Attributes;
  scope: string;
};

type Json = Record<string, unknown>;

function anyValue(value: Json | undefined): string | number | boolean | undefined {
  if (!value) return undefined;
  if ('stringValue' in value) return value.stringValue as string;
  if ('boolValue' in value) return value.boolValue as boolean;
  if ('intValue' in value) return Number(value.intValue);
  if ('doubleValue' in value) return value.doubleValue as number;
  return JSON.stringify(value);
}

function attributesOf(list: unknown): Attributes {
  const out: Attributes = {};
  for (const kv of (list as Json[] | undefined) ?? []) out[kv.key as string] = anyValue(kv.value as Json);
  return out;
}

const hex = (bytes: unknown) => (bytes ? Buffer.from(bytes as Uint8Array).toString('hex') : '');

export function decodeTraces(body: Buffer): ReceivedSpan[] {
  const message = requestType.toObject(requestType.decode(body), { longs: String, defaults: false }) as Json;
  const spans: ReceivedSpan[] = [];
  for (const rs of (message.resourceSpans as Json[] | undefined) ?? []) {
    const resource = attributesOf((rs.resource as Json | undefined)?.attributes);
    for (const ss of (rs.scopeSpans as Json[] | undefined) ?? []) {
      const scope = String((ss.scope as Json | undefined)?.name ?? '');
      for (const span of (ss.spans as Json[] | undefined) ?? []) {
        spans.push({
          traceId: hex(span.traceId),
          spanId: hex(span.spanId),
          parentSpanId: hex(span.parentSpanId),
          name: String(span.name ?? ''),
          kind: Number(span.kind ?? 0),
          attributes: attributesOf(span.attributes),
          statusCode: Number((span.status as Json | undefined)?.code ?? 0),
          resource,
          scope,
        });
      }
    }
  }
  return spans;
}

export type OtlpReceiver = {
  /** The traces endpoint, for OTEL_EXPORTER_OTLP_TRACES_ENDPOINT. */
  url: string;
  spans: ReceivedSpan[];
  /** Content types of the export requests seen. */
  contentTypes: string[];
  /** Resolves with the spans once `isDone(spans)` holds; rejects after `timeoutMs`. */
  waitFor(isDone: (spans: ReceivedSpan[]) => boolean, timeoutMs?: number): Promise<ReceivedSpan[]>;
};

export async function startOtlpReceiver(t: TestContext): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const contentTypes: string[] = [];
  const waiters = new Set<() => void>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      contentTypes.push(String(req.headers['content-type']));
      spans.push(...decodeTraces(Buffer.concat(chunks)));
      // An empty ExportTraceServiceResponse: full success.
      res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': 0 }).end();
      for (const wake of waiters) wake();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => closeServer(server));
  const port = (server.address() as AddressInfo).port;

  const waitFor = (isDone: (spans: ReceivedSpan[]) => boolean, timeoutMs = 10_000) =>
    new Promise<ReceivedSpan[]>((resolve, reject) => {
      if (isDone(spans)) return resolve(spans);
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(
          new Error(`the receiver got ${spans.length} spans, not the ones expected:\n${describe(spans)}`),
        );
      }, timeoutMs);
      const check = () => {
        if (!isDone(spans)) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve(spans);
      };
      waiters.add(check);
    });

  return { url: `http://127.0.0.1:${port}/v1/traces`, spans, contentTypes, waitFor };
}

export function describe(spans: ReceivedSpan[]): string {
  return spans.map((s) => `${s.name} kind=${s.kind} ${JSON.stringify(s.attributes)}`).join('\n');
}
