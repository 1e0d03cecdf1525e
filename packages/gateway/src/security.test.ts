import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalizeTarget } from './security.js';

function codeOf(url: string): string | undefined {
  const result = normalizeTarget(url);
  return 'code' in result ? result.code : undefined;
}

describe('normalizeTarget', () => {
  it('keeps clean paths and splits off the query', () => {
    assert.deepEqual(normalizeTarget('/api/orders/42?expand=items'), {
      path: '/api/orders/42',
      query: '?expand=items',
    });
    assert.deepEqual(normalizeTarget('/a/.well-known/x'), { path: '/a/.well-known/x', query: '' });
  });

  it('decodes escapes of unreserved characters so routing sees what the upstream will', () => {
    assert.deepEqual(normalizeTarget('/%61dmin/%7Euser'), { path: '/admin/~user', query: '' });
    assert.deepEqual(normalizeTarget('/a%20b/%c3%a9'), { path: '/a%20b/%C3%A9', query: '' });
  });

  it('refuses dot segments in every spelling', () => {
    for (const url of [
      '/api/../etc',
      '/api/./x',
      '/api/..',
      '/api/%2e%2e/x',
      '/api/%2E./x',
      '/api/..;/x',
      '/api/.%2e',
    ])
      assert.equal(codeOf(url), 'PATH_TRAVERSAL', url);
  });

  it('refuses encoded separators, backslashes, NUL and malformed escapes', () => {
    assert.equal(codeOf('/api/a%2fb'), 'ENCODED_SEPARATOR');
    assert.equal(codeOf('/api/a%5Cb'), 'ENCODED_SEPARATOR');
    assert.equal(codeOf('/api/a\\b'), 'INVALID_PATH');
    assert.equal(codeOf('/api/a%00b'), 'INVALID_PATH');
    assert.equal(codeOf('/api/a%zzb'), 'BAD_PERCENT_ENCODING');
    assert.equal(codeOf('/api/a%2'), 'BAD_PERCENT_ENCODING');
    assert.equal(codeOf('/api//x'), 'INVALID_PATH');
  });

  it('refuses targets that are not visible ASCII absolute paths', () => {
    assert.equal(codeOf('http://evil.example/x'), 'INVALID_PATH');
    assert.equal(codeOf('*'), 'INVALID_PATH');
    assert.equal(codeOf('/caf\u00e9'), 'INVALID_PATH');
    assert.equal(codeOf('/a b'), 'INVALID_PATH');
  });
});
