import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';

const good = `
legacy: { url: http://127.0.0.1:3000 }
functions:
  recommend: { url: http://127.0.0.1:9000, timeoutMs: 800 }
routes:
  - name: recommend
    match: { pathPrefix: /api/recommend }
    function: recommend
    weight: 10
    sticky: { header: x-user-id }
`;

function problems(text: string): string[] {
  const result = parseConfig(text);
  assert.equal(result.ok, false, 'expected the config to be refused');
  return result.ok ? [] : result.problems;
}

test('a config in the documented shape loads with defaults filled in and frozen', () => {
  const result = parseConfig(good);
  assert.ok(result.ok);
  const { config } = result;
  assert.equal(config.listen, '0.0.0.0:8080');
  assert.equal(config.admin.listen, '127.0.0.1:9901');
  assert.equal(config.functions.recommend?.timeoutMs, 800);
  assert.equal(config.routes[0]?.allowForce, true);
  assert.ok(
    Object.isFrozen(config) &&
      Object.isFrozen(config.routes[0]) &&
      Object.isFrozen(config.functions.recommend?.pool),
  );
});

test('an out-of-range weight names the path and the rule', () => {
  assert.deepEqual(problems(good.replace('weight: 10', 'weight: 101')), [
    'routes[0].weight: must be between 0 and 100',
  ]);
  assert.deepEqual(problems(good.replace('weight: 10', 'weight: -1')), [
    'routes[0].weight: must be between 0 and 100',
  ]);
  assert.deepEqual(problems(good.replace('weight: 10', 'weight: 10.001')), [
    'routes[0].weight: must be in steps of 0.01',
  ]);
  assert.deepEqual(problems(good.replace('weight: 10', 'weight: "ten"')), [
    'routes[0].weight: must be a number between 0 and 100',
  ]);
});

test('every problem is listed at once', () => {
  const text = `${good.replace('function: recommend', 'function: nope').replace('url: http://127.0.0.1:3000', 'url: ftp://x')}\nbogus: 1\n`;
  const list = problems(text);
  assert.ok(list.includes('legacy.url: must be http:// or https://'), list.join('\n'));
  assert.ok(list.includes('(root): unknown key "bogus"'), list.join('\n'));
  assert.ok(
    list.some((p) => p.startsWith('routes[0].function: must name a function')),
    list.join('\n'),
  );
});

test('missing sections are named as required', () => {
  assert.deepEqual(problems(''), [
    'legacy: is required (object)',
    'functions: is required (record)',
    'routes: is required (array)',
  ]);
});

test('duplicate route names, both or neither of path and pathPrefix, and bad paths are refused', () => {
  const dup = good.replace(
    'routes:',
    'routes:\n  - { name: recommend, match: { path: /x }, function: recommend, weight: 0 }',
  );
  assert.ok(problems(dup).includes('routes[1].name: must be unique'));
  assert.ok(
    problems(good.replace('{ pathPrefix: /api/recommend }', '{ pathPrefix: /a, path: /b }')).some((p) =>
      p.includes('exactly one of'),
    ),
  );
  assert.ok(
    problems(good.replace('/api/recommend', '/api/../admin')).some((p) => p.includes('dot segments')),
  );
});

test('YAML syntax errors and duplicate keys are reported, not thrown', () => {
  assert.ok(problems('legacy: [unclosed')[0]?.includes('YAML'));
  assert.ok(problems(`${good}\nlegacy: { url: http://x }\n`)[0]?.includes('YAML'));
});

test('garbage of any kind never throws', () => {
  for (const text of [
    '\u0000\u0001',
    '- - -',
    '!!binary AAAA',
    '&a [*a]',
    'a: *b',
    '{"routes": 1}',
    '42',
    'null',
  ]) {
    const result = parseConfig(text);
    assert.equal(result.ok, false, text);
  }
});

test('a matched path not in canonical form is refused with the form to write, since it could never match', () => {
  for (const [written, canonical] of [
    ['/%7euser', '/~user'],
    ['/caf%c3%a9', '/caf%C3%A9'],
    ['/api/%72ecommend', '/api/recommend'],
  ] as const) {
    const refused = problems(good.replace('/api/recommend', written));
    assert.deepEqual(
      refused,
      [
        `routes[0].match.pathPrefix: requests are matched in canonical form, so this never matches; write ${canonical}`,
      ],
      written,
    );
  }
  assert.ok(
    problems(good.replace('/api/recommend', '/a%2Fb')).some((p) =>
      p.startsWith('routes[0].match.pathPrefix: '),
    ),
  );
  // Already canonical: loads.
  assert.equal(parseConfig(good.replace('/api/recommend', '/caf%C3%A9')).ok, true);
});
