// canonicalTarget and checkHeaders as pure functions: what is refused, what is decoded, and that no input throws.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { canonicalTarget, checkHeaders } from '../../src/forwarding/guard.ts';
import { buildConfig } from '../helpers/fnshift.ts';

const limits = buildConfig({ legacy: { url: 'http://127.0.0.1:1' } }).limits;

function refusal(target: string): string | undefined {
  const result = canonicalTarget(target);
  return result.ok ? undefined : result.error.code;
}

const AMBIGUOUS = [
  '/api/../admin',
  '/api/..',
  '/api/./x',
  '/api/%2e%2e/admin',
  '/api/%2E%2e/admin',
  '/api/.%2E/admin',
  '/x%2F..%2Fadmin',
  '/x%2fadmin',
  '/x%5Cadmin',
  '/api\\..\\admin',
  '/api;v=1/x',
  '/public/..;/admin',
  '//admin',
  '///api',
  '/api//x',
  '/a#b',
  '/a?b#c',
  'http://evil.example/admin',
  'evil.example:22',
  '*',
  '',
  '/%zz',
  '/%',
  '/%%36%36',
  '/%4',
  '/%00',
  '/a b',
  '/caf\u00e9',
];

test('refuses every ambiguous or malformed target with FNSHIFT_BAD_PATH', () => {
  for (const target of AMBIGUOUS) {
    assert.equal(refusal(target), 'FNSHIFT_BAD_PATH', JSON.stringify(target));
  }
});

test('decodes escaped unreserved characters so /%61pi routes like /api', () => {
  assert.deepEqual(canonicalTarget('/%61pi/recommend?x=%41'), {
    ok: true,
    target: { path: '/api/recommend', query: 'x=%41' },
  });
});

test('keeps reserved escapes encoded and upper-cases their hex digits', () => {
  assert.deepEqual(canonicalTarget('/a%3fb%c3%a9'), {
    ok: true,
    target: { path: '/a%3Fb%C3%A9', query: '' },
  });
});

test('accepts a plain origin-form target unchanged', () => {
  assert.deepEqual(canonicalTarget('/api/recommend/'), {
    ok: true,
    target: { path: '/api/recommend/', query: '' },
  });
});

// Paths drawn from the characters that matter to canonicalisation, so most of them are accepted.
const pathChars = fc.constantFrom(
  '/',
  'a',
  'B',
  '.',
  '%',
  '2',
  'e',
  'E',
  'f',
  'F',
  '6',
  '1',
  '5',
  'c',
  ';',
  '~',
  '-',
);
const pathLike = fc.array(pathChars, { maxLength: 24 }).map((chars) => `/${chars.join('')}`);
const anyTarget = fc.oneof(pathLike, fc.string(), fc.string({ unit: 'binary' }), fc.webPath());

test('never throws on any string', () => {
  fc.assert(
    fc.property(anyTarget, (target) => {
      canonicalTarget(target);
    }),
    { numRuns: 5000 },
  );
});

test('is idempotent: the canonical form of a canonical target is itself', () => {
  let accepted = 0;
  fc.assert(
    fc.property(
      fc.oneof(
        pathLike,
        fc.webPath(),
        fc.webUrl().map((u) => new URL(u).pathname),
      ),
      (target) => {
        const first = canonicalTarget(target);
        if (!first.ok) return;
        accepted++;
        const { path, query } = first.target;
        const second = canonicalTarget(query ? `${path}?${query}` : path);
        assert.deepEqual(second, first);
      },
    ),
    { numRuns: 5000 },
  );
  assert.ok(accepted > 500, `only ${accepted} generated targets were accepted`);
});

test('tells dot segments from names that merely contain dots', () => {
  for (const target of ['/.', '/a/.', '/a/..', '/./a', '/a/%2E', '/a/.%2e/b']) {
    assert.equal(refusal(target), 'FNSHIFT_BAD_PATH', target);
  }
  for (const target of ['/a/...', '/a/.b', '/a/..b', '/a.', '/a/b..', '/.well-known/x']) {
    assert.deepEqual(canonicalTarget(target), { ok: true, target: { path: target, query: '' } }, target);
  }
});

test('rewrites only the escapes and copies the bytes between them as they are', () => {
  assert.deepEqual(canonicalTarget('/a%41b%3ac%7e/d%2E'), {
    ok: true,
    target: { path: '/aAb%3Ac~/d.', query: '' },
  });
});

test('an accepted path has no dot segment, and one without escapes is the target itself', () => {
  fc.assert(
    fc.property(pathLike, (target) => {
      const result = canonicalTarget(target);
      if (!result.ok) return;
      assert.ok(
        result.target.path.split('/').every((s) => s !== '.' && s !== '..'),
        target,
      );
      if (!target.includes('%')) assert.equal(result.target.path, target);
    }),
    { numRuns: 5000 },
  );
});

function raw(...pairs: string[]): string[] {
  return pairs;
}

test('refuses more header fields than maxHeaderCount with FNSHIFT_HEADERS_TOO_LARGE', () => {
  const fields = Array.from({ length: limits.maxHeaderCount + 1 }, (_, i) => [`x-h${i}`, 'v']).flat();
  assert.equal(checkHeaders(fields, limits)?.code, 'FNSHIFT_HEADERS_TOO_LARGE');
  assert.equal(checkHeaders(fields.slice(2), limits), undefined);
});

test('refuses two Host headers and underscores in header names with FNSHIFT_BAD_HEADER', () => {
  assert.equal(checkHeaders(raw('Host', 'a', 'HOST', 'b'), limits)?.code, 'FNSHIFT_BAD_HEADER');
  assert.equal(
    checkHeaders(raw('Host', 'a', 'X_Forwarded_For', '1.2.3.4'), limits)?.code,
    'FNSHIFT_BAD_HEADER',
  );
  assert.equal(checkHeaders(raw('Host', 'a', 'X-Forwarded-For', '1.2.3.4'), limits), undefined);
});
