import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRouter, type RouteResult } from './router.js';

const router = createRouter<string>([
  { pattern: '/api/*', methods: undefined, value: 'api-prefix' },
  { pattern: '/api/orders/:id', methods: ['GET'], value: 'order' },
  { pattern: '/api/orders/export', methods: ['GET'], value: 'export' },
  { pattern: '/api/orders/:id', methods: ['DELETE'], value: 'order-delete' },
  { pattern: '/api/orders/:id/items/:item', methods: undefined, value: 'item' },
  { pattern: '/api/users/:id', methods: ['GET'], value: 'user' },
  { pattern: '/api/users/me', methods: ['POST'], value: 'me-post' },
  { pattern: '/static', methods: ['GET'], value: 'static' },
  { pattern: '/', methods: ['GET'], value: 'root' },
]);

function value(result: RouteResult<string>): string | undefined {
  return result.kind === 'hit' ? result.value : undefined;
}

describe('router', () => {
  it('prefers a static segment over a param over a wildcard', () => {
    assert.equal(value(router.match('GET', '/api/orders/export')), 'export');
    assert.equal(value(router.match('GET', '/api/orders/42')), 'order');
    assert.equal(value(router.match('GET', '/api/invoices/42')), 'api-prefix');
  });

  it('captures params in pattern order, raw', () => {
    const hit = router.match('PATCH', '/api/orders/o%20x/items/7');
    assert.equal(hit.kind, 'hit');
    if (hit.kind === 'hit') {
      assert.equal(hit.value, 'item');
      assert.deepEqual(hit.values, ['o%20x', '7']);
      assert.deepEqual(hit.pattern.params, ['id', 'item']);
    }
  });

  it('matches the method as part of the route, falling back to a less specific route', () => {
    assert.equal(value(router.match('DELETE', '/api/orders/42')), 'order-delete');
    // No POST route on /api/orders/:id: the wildcard takes it.
    assert.equal(value(router.match('POST', '/api/orders/42')), 'api-prefix');
    // GET /api/users/me: the static POST-only route does not take GET; the param route does.
    assert.equal(value(router.match('GET', '/api/users/me')), 'user');
    assert.equal(value(router.match('POST', '/api/users/me')), 'me-post');
  });

  it('gives the wildcard the rest of the path with its leading slash', () => {
    const deep = router.match('GET', '/api/a/b/c');
    assert.equal(deep.kind === 'hit' && deep.rest, '/a/b/c');
    const bare = router.match('GET', '/api');
    assert.equal(bare.kind === 'hit' && bare.value, 'api-prefix');
    assert.equal(bare.kind === 'hit' && bare.rest, '');
    const slash = router.match('GET', '/api/');
    assert.equal(slash.kind === 'hit' && slash.rest, '/');
  });

  it('answers 405 with the allowed methods when only the method differs', () => {
    assert.deepEqual(router.match('POST', '/static'), { kind: 'method-not-allowed', allow: ['GET'] });
  });

  it('answers not found for unknown paths and trailing-slash variants of static routes', () => {
    assert.equal(router.match('GET', '/nothing').kind, 'not-found');
    assert.equal(router.match('GET', '/static/').kind, 'not-found');
    assert.equal(value(router.match('GET', '/')), 'root');
  });

  it('does not let a param match an empty segment', () => {
    assert.equal(value(router.match('GET', '/api/users/')), 'api-prefix');
  });
});
