import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { forgetToken, parseTokenFragment, TOKEN_KEY, type TokenHost, takeToken } from './auth.js';

/** A stand-in for `window` keeping what the code writes, so the test can read it back. */
function host(hash: string, stored?: string) {
  const storage = new Map<string, string>(stored === undefined ? [] : [[TOKEN_KEY, stored]]);
  const replaced: string[] = [];
  const h: TokenHost = {
    location: { hash, pathname: '/console/', search: '' },
    history: { replaceState: (_d, _u, url) => replaced.push(url ?? '') },
    sessionStorage: {
      getItem: (k) => storage.get(k) ?? null,
      setItem: (k, v) => storage.set(k, v),
      removeItem: (k) => storage.delete(k),
    },
  };
  return { h, storage, replaced };
}

describe('parseTokenFragment', () => {
  it('finds the token alone, among other parameters, or after a route', () => {
    assert.deepEqual(parseTokenFragment('#token=abc'), { token: 'abc', rest: '' });
    assert.deepEqual(parseTokenFragment('#token=a%2Bb&x=1'), { token: 'a+b', rest: 'x=1' });
    assert.deepEqual(parseTokenFragment('#/traces/42?token=abc'), { token: 'abc', rest: '/traces/42' });
    assert.deepEqual(parseTokenFragment('#/sagas'), { token: null, rest: '/sagas' });
    assert.deepEqual(parseTokenFragment(''), { token: null, rest: '' });
    assert.deepEqual(parseTokenFragment('#token='), { token: null, rest: '' });
  });
});

describe('takeToken', () => {
  it('keeps the fragment token in sessionStorage and removes it from the address bar', () => {
    const { h, storage, replaced } = host('#token=s3cret');
    assert.equal(takeToken(h), 's3cret');
    assert.equal(storage.get(TOKEN_KEY), 's3cret');
    assert.deepEqual(replaced, ['/console/']);
  });

  it('keeps the route of the fragment', () => {
    const { h, replaced } = host('#/chaos?token=t');
    assert.equal(takeToken(h), 't');
    assert.deepEqual(replaced, ['/console/#/chaos']);
  });

  it('falls back to the kept token, and to none once it is forgotten', () => {
    const { h, replaced } = host('#/topology', 'kept');
    assert.equal(takeToken(h), 'kept');
    assert.deepEqual(replaced, []);
    forgetToken(h);
    assert.equal(takeToken(h), null);
  });
});
