// ResponseParser as a pure state machine: the framings it reads, the responses it refuses (each a way to
// smuggle a second response or relay half of one, RFC 9112 §6.3 and §11.2), and that how the bytes are
// cut across reads never changes what comes out.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  ResponseCutShortError,
  type ResponseHead,
  ResponseParseError,
  ResponseParser,
  type ResponseParserOptions,
  type ResponseSink,
} from '../../src/forwarding/response-parser.ts';

const OPTIONS: ResponseParserOptions = {
  isHeadRequest: false,
  maxHeaderBytes: 16 * 1024,
  maxBodyBytes: 64 * 1024,
};

/** Records what the parser delivers, and every breach of the sink's ordering contract. */
class Recorder implements ResponseSink {
  heads: ResponseHead[] = [];
  chunks: Buffer[] = [];
  ended = 0;
  violations: string[] = [];

  onHead(head: ResponseHead): void {
    if (this.heads.length > 0) this.violations.push('a second onHead');
    if (this.ended > 0) this.violations.push('onHead after onEnd');
    this.heads.push(head);
  }

  onData(chunk: Buffer): void {
    if (this.heads.length === 0) this.violations.push('onData before onHead');
    if (this.ended > 0) this.violations.push('onData after onEnd');
    if (chunk.length === 0) this.violations.push('an empty onData');
    // Copied: the parser hands out views of its input.
    this.chunks.push(Buffer.from(chunk));
  }

  onEnd(): void {
    if (this.heads.length === 0) this.violations.push('onEnd before onHead');
    if (this.ended > 0) this.violations.push('a second onEnd');
    this.ended++;
  }

  get body(): Buffer {
    return Buffer.concat(this.chunks);
  }

  get head(): ResponseHead {
    assert.equal(this.heads.length, 1, 'expected exactly one head');
    return this.heads[0]!;
  }
}

type Bytes = string | Buffer | Uint8Array;
const bytesOf = (piece: Bytes): Buffer =>
  typeof piece === 'string' ? Buffer.from(piece, 'latin1') : Buffer.from(piece);

function parser(options: Partial<ResponseParserOptions> = {}) {
  const sink = new Recorder();
  return { parser: new ResponseParser({ ...OPTIONS, ...options }, sink), sink };
}

/** Feeds each piece to execute() in turn. */
function parse(pieces: Bytes | Bytes[], options: Partial<ResponseParserOptions> = {}) {
  const run = parser(options);
  for (const piece of Array.isArray(pieces) ? pieces : [pieces]) run.parser.execute(bytesOf(piece));
  assert.deepEqual(run.sink.violations, []);
  return run;
}

function isRefusal(pattern?: RegExp) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof ResponseParseError, `not a ResponseParseError: ${error}`);
    assert.equal(error.code, 'UPSTREAM_BAD_RESPONSE');
    if (pattern) assert.match(error.message, pattern);
    return true;
  };
}

function assertRefused(
  pieces: Bytes | Bytes[],
  pattern?: RegExp,
  options: Partial<ResponseParserOptions> = {},
) {
  const run = parser(options);
  assert.throws(
    () => {
      for (const piece of Array.isArray(pieces) ? pieces : [pieces]) run.parser.execute(bytesOf(piece));
    },
    isRefusal(pattern),
    JSON.stringify(
      Buffer.concat((Array.isArray(pieces) ? pieces : [pieces]).map(bytesOf)).toString('latin1'),
    ),
  );
  return run;
}

const head = (...lines: string[]): string => `${lines.join('\r\n')}\r\n\r\n`;

/** Every value of the field `name` in a parsed head, joined as one; undefined when absent. */
function fieldOf(parsed: ResponseHead, name: string): string | undefined {
  const values = parsed.fields.filter((_, i) => i % 2 === 1 && parsed.fields[i - 1] === name);
  return values.length === 0 ? undefined : values.join(', ');
}

test('a Content-Length body is delivered whole and then the response ends', () => {
  const lines = ['Content-Type: text/plain', 'Set-Cookie: a=1', 'Set-Cookie: b=2', 'Content-Length: 5'];
  const { parser: p, sink } = parse(`${head('HTTP/1.1 200 OK', ...lines)}hello`);
  assert.deepEqual(sink.head, {
    statusCode: 200,
    statusMessage: 'OK',
    // Lower-case names, in the order sent; a repeated name keeps every value in order.
    fields: ['content-type', 'text/plain', 'set-cookie', 'a=1', 'set-cookie', 'b=2', 'content-length', '5'],
    connection: undefined,
    isKeepAlive: true,
    keepAliveHintMs: undefined,
  });
  assert.equal(sink.body.toString(), 'hello');
  assert.equal(sink.ended, 1);
  assert.ok(p.isDone);
  assert.equal(p.hasTrailingBytes, false);
  // Nothing is outstanding, so the upstream closing now is not an error.
  p.finish();
});

test('Content-Length: 0 ends the response with its head', () => {
  const { sink, parser: p } = parse(head('HTTP/1.1 200 OK', 'Content-Length: 0'));
  assert.equal(sink.ended, 1);
  assert.equal(sink.chunks.length, 0);
  assert.ok(p.isDone);
});

test('a Content-Length body spread over several reads is not ended early', () => {
  const { sink, parser: p } = parse([head('HTTP/1.1 200 OK', 'Content-Length: 10'), 'hello']);
  assert.equal(sink.ended, 0);
  assert.ok(!p.isDone);
  p.execute(Buffer.from('world'));
  assert.equal(sink.body.toString(), 'helloworld');
  assert.equal(sink.ended, 1);
});

test('a chunked body with chunk extensions and a trailer section is decoded, trailers dropped', () => {
  const { sink, parser: p } = parse(
    `${head('HTTP/1.1 200 OK', 'Transfer-Encoding: chunked')}` +
      '5;name=value\r\nhello\r\n' +
      '6 ; quoted="a;b"\r\n world\r\n' +
      'A\r\n0123456789\r\n' +
      '0;last\r\nX-Checksum: abc\r\nX-Other: d\r\n\r\n',
  );
  assert.equal(sink.body.toString(), 'hello world0123456789');
  assert.equal(sink.ended, 1);
  assert.equal(sink.head.isKeepAlive, true);
  assert.equal(fieldOf(sink.head, 'x-checksum'), undefined);
  assert.equal(p.hasTrailingBytes, false);
});

test('a chunked body with an empty trailer section ends at the last chunk', () => {
  const { sink } = parse(`${head('HTTP/1.1 200 OK', 'Transfer-Encoding: Chunked')}3\r\nabc\r\n0\r\n\r\n`);
  assert.equal(sink.body.toString(), 'abc');
  assert.equal(sink.ended, 1);
});

test('a body without framing runs until the upstream closes, and the connection is not reused', () => {
  const { sink, parser: p } = parse([head('HTTP/1.1 200 OK', 'Connection: keep-alive'), 'some', 'more']);
  assert.equal(sink.head.isKeepAlive, false);
  assert.equal(sink.body.toString(), 'somemore');
  // Only the close says the body is complete.
  assert.equal(sink.ended, 0);
  assert.ok(!p.isDone);
  p.finish();
  assert.equal(sink.ended, 1);
  assert.ok(p.isDone);
});

test('a close-delimited response may end with no body at all', () => {
  const { sink, parser: p } = parse(head('HTTP/1.0 200 OK'));
  assert.equal(sink.ended, 0);
  p.finish();
  assert.equal(sink.ended, 1);
  assert.equal(sink.chunks.length, 0);
});

test('the response to HEAD has no body whatever its framing headers say', () => {
  for (const framing of ['Content-Length: 5', 'Transfer-Encoding: chunked', 'X-None: 1']) {
    const { sink, parser: p } = parse(head('HTTP/1.1 200 OK', framing), { isHeadRequest: true });
    assert.equal(sink.ended, 1, framing);
    assert.equal(sink.chunks.length, 0, framing);
    assert.ok(p.isDone, framing);
  }
  // The length is kept: it describes what GET would have returned.
  const { sink } = parse(head('HTTP/1.1 200 OK', 'Content-Length: 5'), { isHeadRequest: true });
  assert.equal(fieldOf(sink.head, 'content-length'), '5');
  assert.equal(sink.head.isKeepAlive, true);
});

test('204 and 304 have no body, so bytes after their head are not a body', () => {
  for (const status of ['204 No Content', '304 Not Modified']) {
    const { sink, parser: p } = parse(`${head(`HTTP/1.1 ${status}`, 'Content-Length: 5')}hello`);
    assert.equal(sink.ended, 1, status);
    assert.equal(sink.chunks.length, 0, status);
    assert.equal(sink.head.isKeepAlive, true, status);
    assert.equal(p.hasTrailingBytes, true, status);
  }
  const { sink } = parse(head('HTTP/1.1 204 No Content'));
  assert.equal(sink.ended, 1);
  assert.equal(sink.head.isKeepAlive, true);
});

test('100 and 103 interim responses are skipped; only the final response reaches the sink', () => {
  const { sink } = parse(
    head('HTTP/1.1 100 Continue') +
      head('HTTP/1.1 103 Early Hints', 'Link: </style.css>; rel=preload') +
      head('HTTP/1.1 201 Created', 'Content-Length: 2') +
      'ok',
  );
  assert.equal(sink.head.statusCode, 201);
  assert.equal(fieldOf(sink.head, 'link'), undefined);
  assert.equal(sink.body.toString(), 'ok');
  assert.equal(sink.ended, 1);
});

test('101 Switching Protocols is refused: fnshift never asks an upstream to switch', () => {
  const { sink } = assertRefused(head('HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket'), /101/);
  assert.equal(sink.heads.length, 0);
});

test('Connection: close and HTTP/1.0 make the connection not reusable', () => {
  const keepAlive = (...lines: string[]) => parse(head(...lines)).sink.head.isKeepAlive;
  assert.equal(keepAlive('HTTP/1.1 200 OK', 'Content-Length: 0'), true);
  assert.equal(keepAlive('HTTP/1.1 200 OK', 'Connection: close', 'Content-Length: 0'), false);
  assert.equal(keepAlive('HTTP/1.1 200 OK', 'Connection: Keep-Alive, CLOSE', 'Content-Length: 0'), false);
  assert.equal(
    keepAlive('HTTP/1.1 200 OK', 'Connection: keep-alive', 'Connection: close', 'Content-Length: 0'),
    false,
  );
  // A token that merely contains "close" is not close.
  assert.equal(keepAlive('HTTP/1.1 200 OK', 'Connection: x-closed', 'Content-Length: 0'), true);
  assert.equal(keepAlive('HTTP/1.0 200 OK', 'Content-Length: 0'), false);
  // HTTP/1.0 keep-alive is not honoured: the conservative answer for a pool.
  assert.equal(keepAlive('HTTP/1.0 200 OK', 'Connection: keep-alive', 'Content-Length: 0'), false);
});

test('the Keep-Alive timeout hint is reported in milliseconds', () => {
  const hint = (...lines: string[]) =>
    parse(head('HTTP/1.1 200 OK', 'Content-Length: 0', ...lines)).sink.head;
  assert.equal(hint('Keep-Alive: timeout=5, max=100').keepAliveHintMs, 5000);
  assert.equal(hint('Keep-Alive: max=3, TIMEOUT=7').keepAliveHintMs, 7000);
  assert.equal(hint().keepAliveHintMs, undefined);
  assert.equal(hint('Keep-Alive: max=3').keepAliveHintMs, undefined);
  // Two upstreams with their own values, alternating: each response gets its own upstream's hint
  // (the parser remembers the last value it read).
  for (const [line, ms] of [
    ['Keep-Alive: timeout=5', 5000],
    ['Keep-Alive: timeout=5', 5000],
    ['Keep-Alive: timeout=60', 60000],
    ['Keep-Alive: timeout=5', 5000],
    ['Keep-Alive: max=3', undefined],
    ['Keep-Alive: timeout=60', 60000],
  ] as const) {
    assert.equal(hint(line).keepAliveHintMs, ms, line);
  }
});

test('repeated equal Content-Length values collapse to one', () => {
  for (const lines of [
    ['Content-Length: 5', 'Content-Length: 5'],
    ['Content-Length: 5, 5'],
    ['Content-Length: 5 ,5', 'Content-Length: 5'],
  ]) {
    const { sink } = parse(`${head('HTTP/1.1 200 OK', ...lines)}hello`);
    assert.equal(fieldOf(sink.head, 'content-length'), '5', lines.join(' | '));
    assert.equal(sink.body.toString(), 'hello');
    assert.equal(sink.ended, 1);
  }
});

test('differing or malformed Content-Length values are refused', () => {
  assertRefused(`${head('HTTP/1.1 200 OK', 'Content-Length: 5', 'Content-Length: 6')}hello`, /conflicting/);
  assertRefused(`${head('HTTP/1.1 200 OK', 'Content-Length: 5, 50')}hello`, /conflicting/);
  for (const value of ['', '-1', '+5', '0x5', '5 5', '5;', '1e3']) {
    assertRefused(`${head('HTTP/1.1 200 OK', `Content-Length: ${value}`)}hello`, /content-length/);
  }
});

test('Transfer-Encoding with Content-Length is refused, in either order', () => {
  assertRefused(
    `${head('HTTP/1.1 200 OK', 'Transfer-Encoding: chunked', 'Content-Length: 5')}0\r\n\r\n`,
    /transfer-encoding and content-length/,
  );
  assertRefused(
    `${head('HTTP/1.1 200 OK', 'Content-Length: 5', 'Transfer-Encoding: chunked')}0\r\n\r\n`,
    /transfer-encoding and content-length/,
  );
});

test('a Transfer-Encoding other than a single chunked is refused', () => {
  for (const lines of [
    ['Transfer-Encoding: gzip'],
    ['Transfer-Encoding: gzip, chunked'],
    ['Transfer-Encoding: chunked, chunked'],
    ['Transfer-Encoding: chunked', 'Transfer-Encoding: chunked'],
    ['Transfer-Encoding: identity'],
    ['Transfer-Encoding: chunked;q=1'],
    ['Transfer-Encoding:'],
  ]) {
    assertRefused(`${head('HTTP/1.1 200 OK', ...lines)}0\r\n\r\n`, /transfer-encoding/);
  }
});

test('a bare LF in a complete head is refused', () => {
  for (const bytes of [
    'HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n',
    'HTTP/1.1 200 OK\r\nX-A: 1\nContent-Length: 0\r\n\r\n',
    'HTTP/1.1 200 OK\r\nX-A\n: 1\r\nContent-Length: 0\r\n\r\n',
    'HTTP/1.1 200 OK\r\n\nContent-Length: 0\r\n\r\n',
    '\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n',
  ]) {
    assertRefused(bytes);
  }
});

test('a bare LF in an incomplete head is refused at once, not when the head times out', () => {
  assertRefused('HTTP/1.1 200 OK\nContent-Le', /bare LF/);
  assertRefused('HTTP/1.1 200 OK\r\nX-A: 1\nX-B', /bare LF/);
  // Also when the LF arrives in a later read, at its very start.
  assertRefused(['HTTP/1.1 200 OK', '\nX-A: 1'], /bare LF/);
  assertRefused(['HTTP/1.1 200 OK\r\nX-A: 1', '\r\n\n'], /bare LF/);
  assertRefused(['\n'], /bare LF/);
});

test('a CRLF split across two reads is not mistaken for a bare LF', () => {
  const { sink } = parse(['HTTP/1.1 200 OK\r', '\nContent-Length: 2\r', '\n\r', '\nok']);
  assert.equal(sink.body.toString(), 'ok');
  assert.equal(sink.ended, 1);
});

test('obs-fold and whitespace before the colon are refused', () => {
  assertRefused(head('HTTP/1.1 200 OK', 'X-A: 1', ' folded', 'Content-Length: 0'));
  assertRefused(head('HTTP/1.1 200 OK', 'X-A: 1', '\tfolded', 'Content-Length: 0'));
  assertRefused(head('HTTP/1.1 200 OK', 'Content-Length : 0'), /field name/);
  assertRefused(head('HTTP/1.1 200 OK', 'Content-Length\t: 0'), /field name/);
  assertRefused(head('HTTP/1.1 200 OK', ': no name', 'Content-Length: 0'));
  assertRefused(head('HTTP/1.1 200 OK', 'no colon', 'Content-Length: 0'));
});

test('control bytes inside a field value or reason phrase are refused; HTAB and obs-text are not', () => {
  for (const value of ['a\x00b', 'a\x01b', 'a\x1fb', 'a\x7fb', 'a\rb', 'a\x0bb', 'a\x0cb']) {
    assertRefused(head('HTTP/1.1 200 OK', `X-A: ${value}`, 'Content-Length: 0'), /control byte/);
  }
  assertRefused(head('HTTP/1.1 200 O\x00K', 'Content-Length: 0'), /reason phrase/);
  const { sink } = parse(head('HTTP/1.1 200 Très bien', 'X-A: a\tb caf\xe9', 'Content-Length: 0'));
  assert.equal(fieldOf(sink.head, 'x-a'), 'a\tb caf\xe9');
  assert.equal(sink.head.statusMessage, 'Très bien');
});

test('a control byte or bare LF at either end of a field value is refused, not trimmed away', () => {
  // Only SP and HTAB are optional whitespace (RFC 9110 §5.6.3). Were the others trimmed before the check,
  // `X-A:\nContent-Length: 5` would read as one field x-a = "Content-Length: 5", where a parser that takes
  // bare LF as a line end reads a second Content-Length: the two would disagree on the framing.
  const accepted: string[] = [];
  for (const value of ['a\x0b', '\x0ca', 'a\n', '\nContent-Length: 5', 'a\r', '\x00a']) {
    try {
      parse(`${head('HTTP/1.1 200 OK', `X-A: ${value}`, 'Content-Length: 0')}`);
      accepted.push(value);
    } catch (error) {
      isRefusal()(error);
    }
  }
  assert.deepEqual(accepted, []);
});

test('a status line that is not HTTP/1.x with a three-digit status is refused', () => {
  for (const line of [
    'HTTP/2 200 OK',
    'HTTP/1.2 200 OK',
    'HTTP/1.1 600 Odd',
    'HTTP/1.1 20 Short',
    'HTTP/1.1 2000 Long',
    'HTTP/1.1  200 OK',
    'http/1.1 200 OK',
    'ICY 200 OK',
  ]) {
    assertRefused(head(line, 'Content-Length: 0'), /status line/);
  }
  // No reason phrase, even without the SP before it, is accepted: servers send it so.
  assert.equal(parse(head('HTTP/1.1 200', 'Content-Length: 0')).sink.head.statusMessage, '');
  assert.equal(parse(head('HTTP/1.1 200 ', 'Content-Length: 0')).sink.head.statusMessage, '');
});

test('a head over maxHeaderBytes is refused, complete or still arriving', () => {
  const options = { maxHeaderBytes: 1024 };
  const pad = `X-Pad: ${'a'.repeat(2000)}`;
  assertRefused(head('HTTP/1.1 200 OK', pad, 'Content-Length: 0'), /exceeds 1024/, options);
  // Without its end the head is refused as soon as it is too long, not when the terminator comes.
  const pieces = Array.from({ length: 30 }, (_, i) =>
    i === 0 ? 'HTTP/1.1 200 OK\r\nX-Pad: ' : 'a'.repeat(100),
  );
  const { parser: p } = parser(options);
  let fed = 0;
  assert.throws(
    () => {
      for (const piece of pieces) {
        p.execute(Buffer.from(piece));
        fed++;
      }
    },
    isRefusal(/exceeds 1024/),
  );
  assert.ok(fed > 5 && fed < 12, `threw after ${fed} reads`);
  // A head within the limit passes.
  parse(head('HTTP/1.1 200 OK', `X-Pad: ${'a'.repeat(900)}`, 'Content-Length: 0'), options);
});

test('a declared length over maxBodyBytes is refused before the head is delivered', () => {
  const options = { maxBodyBytes: 1000 };
  const { sink } = assertRefused(head('HTTP/1.1 200 OK', 'Content-Length: 1001'), /exceeds 1000/, options);
  assert.equal(sink.heads.length, 0);
  const exact = parse(`${head('HTTP/1.1 200 OK', 'Content-Length: 1000')}${'a'.repeat(1000)}`, options);
  assert.equal(exact.sink.body.length, 1000);
  assert.equal(exact.sink.ended, 1);
  // The response to HEAD carries none of it, so its length is not held against the limit.
  parse(head('HTTP/1.1 200 OK', 'Content-Length: 5000'), { ...options, isHeadRequest: true });
});

test('a chunked body growing over maxBodyBytes is refused at the chunk that crosses it', () => {
  const options = { maxBodyBytes: 1000 };
  const chunk = `190\r\n${'a'.repeat(400)}\r\n`;
  const { sink } = assertRefused(
    [head('HTTP/1.1 200 OK', 'Transfer-Encoding: chunked'), chunk, chunk, chunk, '0\r\n\r\n'],
    /exceeds 1000/,
    options,
  );
  assert.equal(sink.body.length, 800);
  assert.equal(sink.ended, 0);
  // One chunk declaring more than the limit is refused before any of it is relayed.
  const one = assertRefused(
    [head('HTTP/1.1 200 OK', 'Transfer-Encoding: chunked'), '3E9\r\n', 'a'.repeat(1001)],
    /exceeds 1000/,
    options,
  );
  assert.equal(one.sink.chunks.length, 0);
  const exact = parse(
    `${head('HTTP/1.1 200 OK', 'Transfer-Encoding: chunked')}3E8\r\n${'a'.repeat(1000)}\r\n0\r\n\r\n`,
    options,
  );
  assert.equal(exact.sink.body.length, 1000);
});

test('a malformed chunk-size line is refused', () => {
  const chunked = head('HTTP/1.1 200 OK', 'Transfer-Encoding: chunked');
  for (const line of [
    'zz',
    '',
    '-1',
    '0x5',
    '5 junk',
    ' 5',
    '+5',
    '1234567890abcdef0',
    '5;ext\x00',
    '5\r;x',
  ]) {
    assertRefused(`${chunked}${line}\r\nhello\r\n0\r\n\r\n`, /chunk-size/);
  }
  // A bare LF ends no chunk-size line.
  assertRefused(`${chunked}5\nhello\r\n0\r\n\r\n`, /chunk-size/);
  // Nor does a line that never ends.
  assertRefused([chunked, `5;${'x'.repeat(5000)}`], /chunk-size line too long/);
});

test('chunk data not followed by CRLF is refused', () => {
  const chunked = head('HTTP/1.1 200 OK', 'Transfer-Encoding: chunked');
  assertRefused(`${chunked}5\r\nhelloX\r\n0\r\n\r\n`, /CRLF/);
  assertRefused(`${chunked}5\r\nhello\n0\r\n\r\n`, /CRLF/);
  // A chunk longer than declared is the same thing seen from the other end.
  assertRefused(`${chunked}3\r\nhello\r\n0\r\n\r\n`, /CRLF/);
  assertRefused([chunked, '5\r\nhello\r', 'X'], /CRLF/);
});

test('bytes after the end of the response set hasTrailingBytes', () => {
  const cases: Bytes[][] = [
    [`${head('HTTP/1.1 200 OK', 'Content-Length: 2')}okEXTRA`],
    [`${head('HTTP/1.1 200 OK', 'Content-Length: 2')}ok`, 'HTTP/1.1 200 OK\r\n'],
    [`${head('HTTP/1.1 200 OK', 'Transfer-Encoding: chunked')}2\r\nok\r\n0\r\n\r\nX`],
    [`${head('HTTP/1.1 200 OK', 'Transfer-Encoding: chunked')}2\r\nok\r\n0\r\nT: 1\r\n\r\n`, '\r\n'],
    [head('HTTP/1.1 200 OK', 'Content-Length: 0'), 'x'],
  ];
  for (const pieces of cases) {
    const { parser: p, sink } = parse(pieces);
    assert.equal(sink.ended, 1);
    assert.equal(p.hasTrailingBytes, true, JSON.stringify(pieces));
    // The trailing bytes are not body.
    assert.ok(sink.body.length <= 2);
  }
  assert.equal(parse(`${head('HTTP/1.1 200 OK', 'Content-Length: 2')}ok`).parser.hasTrailingBytes, false);
});

test('finish() on a response cut short throws; on a whole one it does nothing', () => {
  const chunked = head('HTTP/1.1 200 OK', 'Transfer-Encoding: chunked');
  for (const pieces of [
    [],
    ['HTTP/1.1 200 OK\r\nContent-Le'],
    [head('HTTP/1.1 100 Continue')],
    [`${head('HTTP/1.1 200 OK', 'Content-Length: 5')}hel`],
    [head('HTTP/1.1 200 OK', 'Content-Length: 5')],
    [chunked],
    [`${chunked}5\r\nhel`],
    [`${chunked}5\r\nhello`],
    [`${chunked}5\r\nhello\r\n`],
    [`${chunked}5\r\nhello\r\n0\r\n`],
    [`${chunked}5\r\nhello\r\n0\r\nX-T: 1\r\n`],
  ]) {
    const { parser: p, sink } = parse(pieces);
    assert.throws(
      () => p.finish(),
      (error: unknown) => {
        // Not a malformed response: a connection that ended early, reported as closed.
        assert.ok(error instanceof ResponseCutShortError, `not a ResponseCutShortError: ${error}`);
        assert.equal(error.code, 'UPSTREAM_CLOSED');
        assert.match(error.message, /closed before/);
        return true;
      },
      JSON.stringify(pieces),
    );
    assert.equal(sink.ended, 0);
  }
  const { parser: p } = parse(`${chunked}0\r\n\r\n`);
  p.finish();
  p.finish();
});

test('after stop() from onHead or onData, nothing more is delivered', () => {
  // The sink's contract: it may stop the parser from any callback (fnshift does on a diverted status, a
  // client gone or a write that failed), and the parser must then be inert.
  const cases: Array<[bytes: string, firstChunk: string]> = [
    [`${head('HTTP/1.1 200 OK', 'Content-Length: 4')}abcd`, 'abcd'],
    [`${head('HTTP/1.1 200 OK', 'Transfer-Encoding: chunked')}2\r\nab\r\n2\r\ncd\r\n0\r\n\r\n`, 'ab'],
    [`${head('HTTP/1.1 200 OK')}abcd`, 'abcd'],
  ];
  for (const [bytes, firstChunk] of cases) {
    for (const when of ['head', 'data'] as const) {
      const events: string[] = [];
      const p: ResponseParser = new ResponseParser(OPTIONS, {
        onHead: () => {
          events.push('head');
          if (when === 'head') p.stop();
        },
        onData: (chunk) => {
          events.push(`data ${chunk.toString()}`);
          if (when === 'data') p.stop();
        },
        onEnd: () => events.push('end'),
      });
      p.execute(Buffer.from(bytes));
      p.finish();
      const expected = when === 'head' ? ['head'] : ['head', `data ${firstChunk}`];
      assert.deepEqual(events, expected, `stop() in on${when}: ${JSON.stringify(bytes)}`);
      assert.ok(p.isDone);
    }
  }
});

// ---- Properties ----

type Case = { bytes: Buffer; options: ResponseParserOptions; body: Buffer };

const FIXED: Case[] = (
  [
    [`${head('HTTP/1.1 200 OK', 'Content-Length: 5')}hello`, {}, 'hello'],
    [
      `${head('HTTP/1.1 100 Continue')}${head('HTTP/1.1 103 Early Hints', 'Link: </a>')}` +
        `${head('HTTP/1.1 200 OK', 'Transfer-Encoding: chunked')}5;a=b\r\nhello\r\n1\r\n!\r\n0\r\nX-T: 1\r\n\r\n`,
      {},
      'hello!',
    ],
    [`${head('HTTP/1.1 200 OK', 'Transfer-Encoding: chunked')}0\r\n\r\n`, {}, ''],
    [`${head('HTTP/1.0 200 OK', 'Server: old')}until the close`, {}, 'until the close'],
    [head('HTTP/1.1 200 OK', 'Content-Length: 99'), { isHeadRequest: true }, ''],
    [head('HTTP/1.1 204 No Content', 'X-A: 1'), {}, ''],
    [head('HTTP/1.1 304 Not Modified', 'ETag: "x"'), {}, ''],
    [`${head('HTTP/1.1 200 OK', 'Content-Length: 2')}okTRAILING`, {}, 'ok'],
  ] as Array<[bytes: string, options: Partial<ResponseParserOptions>, body: string]>
).map(([bytes, options, body]) => ({
  bytes: Buffer.from(bytes, 'latin1'),
  options: { ...OPTIONS, ...options },
  body: Buffer.from(body, 'latin1'),
}));

const fieldName = fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,10}$/).map((name) => `X-${name}`);
const fieldValue = fc.stringMatching(
  /^[\x21-\x7e\x80-\xff]([\t\x20-\x7e\x80-\xff]{0,16}[\x21-\x7e\x80-\xff])?$/,
);
const ows = fc.constantFrom('', ' ', '\t', '  ');
const field = fc.tuple(fieldName, ows, fieldValue, ows).map(([n, a, v, b]) => `${n}:${a}${v}${b}`);

/** Valid responses built from parts: any framing, interim responses before, chunks of any size after. */
const generated: fc.Arbitrary<Case> = fc
  .record({
    interim: fc.array(
      fc.constantFrom(head('HTTP/1.1 100 Continue'), head('HTTP/1.1 103 Early Hints', 'Link: </a.css>')),
      { maxLength: 2 },
    ),
    status: fc.constantFrom(
      '200 OK',
      '201 Created',
      '206 Partial Content',
      '404 Not Found',
      '503 Busy',
      '299',
    ),
    fields: fc.array(field, { maxLength: 5 }),
    framing: fc.constantFrom('length', 'chunked', 'close'),
    body: fc.uint8Array({ maxLength: 300 }),
    sizes: fc.array(fc.integer({ min: 1, max: 80 }), { minLength: 1, maxLength: 8 }),
    extensions: fc.array(fc.constantFrom('', ';a', ';a=b', ' ;q="x;y"', '\t;z'), {
      minLength: 1,
      maxLength: 3,
    }),
    upper: fc.boolean(),
    trailers: fc.array(field, { maxLength: 2 }),
    isHeadRequest: fc.boolean(),
  })
  .map((r) => {
    const body = Buffer.from(r.body);
    const lines = [`HTTP/1.1 ${r.status}`, ...r.fields];
    let payload = Buffer.alloc(0);
    if (r.framing === 'length') {
      lines.push(`Content-Length: ${body.length}`);
      payload = body;
    } else if (r.framing === 'chunked') {
      lines.push('Transfer-Encoding: chunked');
      const parts: Buffer[] = [];
      for (let at = 0, i = 0; at < body.length; i++) {
        const size = Math.min(r.sizes[i % r.sizes.length]!, body.length - at);
        const hex = r.upper ? size.toString(16).toUpperCase() : size.toString(16);
        parts.push(Buffer.from(`${hex}${r.extensions[i % r.extensions.length]}\r\n`));
        parts.push(body.subarray(at, at + size), Buffer.from('\r\n'));
        at += size;
      }
      parts.push(Buffer.from(`0\r\n${r.trailers.map((t) => `${t}\r\n`).join('')}\r\n`, 'latin1'));
      payload = Buffer.concat(parts);
    } else {
      payload = body;
    }
    // A HEAD response carries no body; close-delimited has no meaning for it, so only framed ones.
    const isHeadRequest = r.isHeadRequest && r.framing !== 'close';
    return {
      bytes: Buffer.concat([
        Buffer.from(r.interim.join('') + head(...lines), 'latin1'),
        isHeadRequest ? Buffer.alloc(0) : payload,
      ]),
      options: { ...OPTIONS, isHeadRequest },
      body: isHeadRequest ? Buffer.alloc(0) : body,
    };
  });

const validCase = fc.oneof(fc.constantFrom(...FIXED), generated);

type Summary = { heads: ResponseHead[]; body: Buffer; ended: number; trailing: boolean };

/** Feeds the pieces then closes, as the upstream connection would. */
function summarise(pieces: Buffer[], options: ResponseParserOptions): Summary {
  const { parser: p, sink } = parser(options);
  for (const piece of pieces) p.execute(piece);
  p.finish();
  assert.deepEqual(sink.violations, []);
  return { heads: sink.heads, body: sink.body, ended: sink.ended, trailing: p.hasTrailingBytes };
}

function cut(bytes: Buffer, points: number[]): Buffer[] {
  const sorted = points.map((p) => p % (bytes.length + 1)).sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let from = 0;
  // Repeated points give empty reads, which must be harmless too.
  for (const at of sorted) {
    pieces.push(bytes.subarray(from, at));
    from = at;
  }
  pieces.push(bytes.subarray(from));
  return pieces;
}

test('every fixed case read one byte at a time gives what it gives read whole', () => {
  for (const { bytes, options, body } of FIXED) {
    const whole = summarise([bytes], options);
    assert.deepEqual(whole.body, body);
    assert.equal(whole.ended, 1);
    const bytewise = summarise(
      Array.from(bytes, (_, i) => bytes.subarray(i, i + 1)),
      options,
    );
    assert.deepEqual(bytewise, whole, bytes.toString('latin1'));
  }
});

test('valid responses split at any points parse exactly as they do whole', () => {
  fc.assert(
    fc.property(validCase, fc.array(fc.nat(), { maxLength: 12 }), ({ bytes, options, body }, points) => {
      const whole = summarise([bytes], options);
      // The generator makes only valid responses: the whole read is the reference.
      assert.equal(whole.heads.length, 1);
      assert.equal(whole.ended, 1);
      assert.deepEqual(whole.body, body);
      assert.deepEqual(summarise(cut(bytes, points), options), whole);
    }),
    { numRuns: 3000 },
  );
});

const STRUCTURAL = [...Buffer.from('HTTP/1.1 200 OK\r\n:;, 0159aAfF\t\x00\x7f\xff')];
const mutation = fc.record({
  kind: fc.constantFrom('replace', 'insert', 'delete'),
  at: fc.nat(),
  byte: fc.oneof(fc.constantFrom(...STRUCTURAL), fc.integer({ min: 0, max: 255 })),
});

const garbage = fc.oneof(
  fc.uint8Array({ maxLength: 400 }).map((b) => Buffer.from(b)),
  fc.array(fc.constantFrom(...STRUCTURAL), { maxLength: 400 }).map((b) => Buffer.from(b)),
  fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\n'), b])),
  fc.tuple(validCase, fc.array(mutation, { minLength: 1, maxLength: 4 })).map(([{ bytes }, mutations]) => {
    const out = [...bytes];
    for (const { kind, at, byte } of mutations) {
      const i = at % (out.length + 1);
      if (kind === 'insert') out.splice(i, 0, byte);
      else if (kind === 'delete') out.splice(i, 1);
      else if (i < out.length) out[i] = byte;
    }
    return Buffer.from(out);
  }),
);

test('arbitrary bytes only ever raise ResponseParseError, and nothing is delivered after the end', () => {
  fc.assert(
    fc.property(
      garbage,
      fc.array(fc.nat(), { maxLength: 8 }),
      fc.boolean(),
      fc.constantFrom(64, 1024),
      (bytes, points, isHeadRequest, maxBodyBytes) => {
        const options = { ...OPTIONS, isHeadRequest, maxHeaderBytes: 256, maxBodyBytes };
        const { parser: p, sink } = parser(options);
        try {
          for (const piece of cut(bytes, points)) p.execute(piece);
          p.finish();
        } catch (error) {
          // A refusal, or (from finish()) a response the close cut short.
          if (error instanceof ResponseCutShortError) assert.equal(error.code, 'UPSTREAM_CLOSED');
          else isRefusal()(error);
        }
        assert.deepEqual(sink.violations, []);
        assert.ok(sink.body.length <= maxBodyBytes, `${sink.body.length} body bytes relayed`);
      },
    ),
    { numRuns: 5000 },
  );
});
