import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { href, parseRoute } from './route.js';

describe('parseRoute', () => {
  it('reads the page and its decoded parameters', () => {
    assert.deepEqual(parseRoute('#/traces/4bf92f3577b34da6'), {
      page: 'traces',
      params: ['4bf92f3577b34da6'],
    });
    assert.deepEqual(parseRoute('#/sagas/order/a%2Fb'), { page: 'sagas', params: ['order', 'a/b'] });
    assert.deepEqual(parseRoute('#/chaos?x=1'), { page: 'chaos', params: [] });
  });

  it('falls back to the topology page', () => {
    assert.deepEqual(parseRoute(''), { page: 'topology', params: [] });
    assert.deepEqual(parseRoute('#/nowhere/1'), { page: 'topology', params: [] });
    assert.deepEqual(parseRoute('#token=abc'), { page: 'topology', params: [] });
  });

  it('round-trips href', () => {
    const hash = href('sagas', 'order', 'id with/slash');
    assert.equal(hash, '#/sagas/order/id%20with%2Fslash');
    assert.deepEqual(parseRoute(hash), { page: 'sagas', params: ['order', 'id with/slash'] });
  });
});
