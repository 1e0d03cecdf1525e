import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type CapturedResponse,
  compareJson,
  compareResponses,
  compileJsonPaths,
  formatPath,
  MAX_DIFFERENCES,
} from './json-compare.js';

const json = (value: unknown, status = 200, contentType = 'application/json'): CapturedResponse => ({
  status,
  contentType,
  body: new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value)),
});

const raw = (text: string, contentType: string | undefined, status = 200): CapturedResponse => ({
  status,
  contentType,
  body: new TextEncoder().encode(text),
});

const diff = (a: unknown, b: unknown, ignore: string[] = []) =>
  compareJson(a, b, compileJsonPaths(ignore, 'ignore'));

describe('compareJson', () => {
  it('finds nothing between equal values whatever the key order', () => {
    assert.deepEqual(diff({ a: 1, b: { c: [1, 2] } }, { b: { c: [1, 2] }, a: 1 }), []);
  });

  it('compares numbers by value', () => {
    const result = compareResponses(json('{"total": 1.0, "n": 1e2}'), json('{"total": 1, "n": 100}'), []);
    assert.equal(result.match, true);
  });

  it('reports nested differences with their paths, keys sorted', () => {
    const primary = { z: 1, order: { status: 'PAID', total: 10 }, a: 'x' };
    const candidate = { z: 2, order: { status: 'PENDING', total: 10 }, a: 'y' };
    assert.deepEqual(diff(primary, candidate), [
      { path: '$.a', primary: 'x', candidate: 'y' },
      { path: '$.order.status', primary: 'PAID', candidate: 'PENDING' },
      { path: '$.z', primary: 1, candidate: 2 },
    ]);
  });

  it('compares arrays by index and reports missing elements as undefined', () => {
    assert.deepEqual(diff({ items: [1, 2, 3] }, { items: [1, 5] }), [
      { path: '$.items[1]', primary: 2, candidate: 5 },
      { path: '$.items[2]', primary: 3, candidate: undefined },
    ]);
  });

  it('tells a missing key from a null one', () => {
    assert.deepEqual(diff({ a: null }, {}), [{ path: '$.a', primary: null, candidate: undefined }]);
  });

  it('reports a change of kind once, at its path', () => {
    assert.deepEqual(diff({ a: [1] }, { a: { 0: 1 } }), [{ path: '$.a', primary: [1], candidate: { 0: 1 } }]);
  });

  it('quotes keys that are not identifiers', () => {
    assert.equal(formatPath(['odd key', 0, "it's"]), "$['odd key'][0]['it\\'s']");
    assert.deepEqual(diff({ 'x-y': 1 }, { 'x-y': 2 }), [{ path: "$['x-y']", primary: 1, candidate: 2 }]);
  });

  it('stops after MAX_DIFFERENCES differences', () => {
    const a = Array.from({ length: 500 }, (_, i) => i);
    const b = a.map((i) => i + 1);
    assert.equal(diff(a, b).length, MAX_DIFFERENCES);
  });
});

describe('ignore paths', () => {
  const primary = {
    id: 'o1',
    updatedAt: '2024-01-01',
    meta: { requestId: 'r1', server: 'legacy' },
    items: [
      { id: 'i1', sku: 'A', updatedAt: 't1' },
      { id: 'i2', sku: 'B', updatedAt: 't2' },
    ],
    'weird key': 1,
  };
  const candidate = {
    id: 'o1',
    updatedAt: '2024-02-02',
    meta: { requestId: 'r2', server: 'candidate' },
    items: [
      { id: 'x1', sku: 'A', updatedAt: 't3' },
      { id: 'x2', sku: 'C', updatedAt: 't4' },
    ],
    'weird key': 2,
  };

  it('ignores a member with a dot path', () => {
    const paths = diff(primary, candidate, ['$.updatedAt']).map((d) => d.path);
    assert.ok(!paths.includes('$.updatedAt'));
    assert.ok(paths.includes('$.items[0].updatedAt'));
  });

  it('ignores a whole subtree', () => {
    const paths = diff(primary, candidate, ['$.meta']).map((d) => d.path);
    assert.ok(paths.every((p) => !p.startsWith('$.meta')));
  });

  it('ignores a field of every array element with [*]', () => {
    const paths = diff(primary, candidate, ['$.items[*].id']).map((d) => d.path);
    assert.ok(paths.every((p) => !/^\$\.items\[\d\]\.id$/.test(p)));
    assert.ok(paths.includes('$.items[1].sku'));
  });

  it('ignores one array element by index', () => {
    const paths = diff(primary, candidate, ['$.items[0]']).map((d) => d.path);
    assert.ok(paths.every((p) => !p.startsWith('$.items[0]')));
    assert.ok(paths.includes('$.items[1].id'));
  });

  it('ignores a member at any depth with recursive descent', () => {
    const paths = diff(primary, candidate, ['$..updatedAt']).map((d) => d.path);
    assert.ok(paths.every((p) => !p.endsWith('.updatedAt')));
    assert.ok(paths.includes('$.items[0].id'));
  });

  it('ignores quoted members and wildcard members', () => {
    const paths = diff(primary, candidate, ["$['weird key']", '$.meta.*']).map((d) => d.path);
    assert.ok(!paths.includes("$['weird key']"));
    assert.ok(paths.every((p) => !p.startsWith('$.meta')));
  });

  it('matches when every difference is ignored', () => {
    const result = compareResponses(json(primary), json(candidate), [
      '$..updatedAt',
      '$.meta',
      '$.items[*].id',
      '$.items[1].sku',
      '$["weird key"]',
    ]);
    assert.deepEqual(result.differences, []);
    assert.equal(result.match, true);
  });

  it('does not let a dot name match an array index', () => {
    const paths = diff({ a: [1] }, { a: [2] }, ['$.a.0']).map((d) => d.path);
    assert.deepEqual(paths, ['$.a[0]']);
  });

  it('rejects unsupported paths with the field and the path', () => {
    assert.throws(
      () => compileJsonPaths(['$.ok', '$.items[?(@.id)]'], 'split.shadow.ignore'),
      /split\.shadow\.ignore\[1\] "\$\.items\[\?\(@\.id\)\]": unsupported selector/,
    );
    assert.throws(() => compileJsonPaths(['$.items[-1]'], 'f'), /unsupported selector \[-1\]/);
    assert.throws(() => compileJsonPaths(['$.a[0:2]'], 'f'), /unsupported selector/);
    assert.throws(() => compileJsonPaths(['items'], 'f'), /must start with "\$"/);
    assert.throws(() => compileJsonPaths(['$..'], 'f'), /must be followed by a step/);
    assert.throws(() => compileJsonPaths(["$['open"], 'f'), /unterminated/);
  });
});

describe('compareResponses', () => {
  it('reports a different status', () => {
    const result = compareResponses(json({ a: 1 }, 200), json({ a: 1 }, 500), []);
    assert.equal(result.match, false);
    assert.deepEqual(result.differences, [{ path: 'status', primary: 200, candidate: 500 }]);
  });

  it('ignores content-type parameters but reports a different media type', () => {
    const same = compareResponses(json({ a: 1 }), json({ a: 1 }, 200, 'application/json; charset=utf-8'), []);
    assert.equal(same.match, true);
    const other = compareResponses(raw('hello', 'text/plain'), raw('hello', 'text/html'), []);
    assert.deepEqual(other.differences, [
      { path: 'content-type', primary: 'text/plain', candidate: 'text/html' },
    ]);
  });

  it('compares structured +json media types as JSON', () => {
    const result = compareResponses(
      json('{"b":1,"a":2}', 200, 'application/problem+json'),
      json('{"a":2,"b":1}', 200, 'application/problem+json'),
      [],
    );
    assert.equal(result.match, true);
  });

  it('compares non-JSON bodies byte for byte', () => {
    assert.equal(
      compareResponses(raw('<p>a</p>', 'text/html'), raw('<p>a</p>', 'text/html'), []).match,
      true,
    );
    const result = compareResponses(raw('<p>a</p>', 'text/html'), raw('<p>b</p>', 'text/html'), []);
    assert.deepEqual(result.differences, [{ path: 'body', primary: '<p>a</p>', candidate: '<p>b</p>' }]);
  });

  it('falls back to bytes when a JSON body does not parse', () => {
    const result = compareResponses(json('{"a":1'), json('{"a":1}'), []);
    assert.equal(result.match, false);
    assert.equal(result.differences[0]?.path, 'body');
  });

  it('compares empty bodies as equal', () => {
    assert.equal(
      compareResponses(raw('', 'application/json', 204), raw('', 'application/json', 204), []).match,
      true,
    );
  });

  it('keeps both responses for samples: parsed JSON, text, or base64 for binary', () => {
    const result = compareResponses(json({ a: 1 }), json({ a: 2 }), []);
    assert.deepEqual(result.primary, { status: 200, body: { a: 1 } });
    assert.deepEqual(result.candidate, { status: 200, body: { a: 2 } });
    const binary = compareResponses(
      { status: 200, contentType: 'application/octet-stream', body: new Uint8Array([0xff, 0x00]) },
      { status: 200, contentType: 'application/octet-stream', body: new Uint8Array([0xff, 0x01]) },
      [],
    );
    assert.deepEqual(binary.primary?.body, { bytes: 2, base64: '/wA=' });
  });

  it('keeps only a preview of a large body', () => {
    const big = 'x'.repeat(100_000);
    const result = compareResponses(raw(big, 'text/plain'), raw(`${big}y`, 'text/plain'), []);
    const body = result.primary?.body as { truncated: boolean; bytes: number; preview: string };
    assert.equal(body.truncated, true);
    assert.equal(body.bytes, 100_000);
    assert.equal(body.preview.length, 4096);
  });

  it('reads a body that is a view into a larger buffer', () => {
    const backing = new TextEncoder().encode('garbage{"a":1}garbage');
    const view = backing.subarray(7, 14);
    const result = compareResponses(
      { status: 200, contentType: 'text/plain', body: view },
      raw('{"a":1}', 'text/plain'),
      [],
    );
    assert.equal(result.match, true);
  });
});
