import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FlotillaError, flotillaCode } from '@flotilla/resilience';
import {
  isUpstreamError,
  isUpstreamUnavailableError,
  parseRetryAfter,
  UpstreamError,
  UpstreamUnavailableError,
} from './upstream-error.js';

describe('UpstreamError', () => {
  it("takes the upstream's own code and message from a standard error body", () => {
    const body = { error: { code: 'ORDER_NOT_FOUND', message: 'no order 42', retryable: false } };
    const err = new UpstreamError({ service: 'order', status: 404, body });
    assert.ok(err instanceof FlotillaError);
    assert.equal(err.name, 'UpstreamError');
    assert.equal(err.code, 'ORDER_NOT_FOUND');
    assert.equal(flotillaCode(err), 'ORDER_NOT_FOUND');
    assert.equal(err.message, 'order answered 404 ORDER_NOT_FOUND: no order 42');
    assert.equal(err.service, 'order');
    assert.equal(err.status, 404);
    assert.deepEqual(err.body, body);
    assert.deepEqual(err.upstream, body.error);
    assert.equal(err.retryable, false);
  });

  it('uses UPSTREAM_ERROR for a body of another shape and keeps the text', () => {
    const err = new UpstreamError({ service: 'legacy', status: 500, body: '<html>oops</html>' });
    assert.equal(err.code, 'UPSTREAM_ERROR');
    assert.equal(err.body, '<html>oops</html>');
    assert.equal(err.upstream, undefined);
    assert.equal(err.message, 'legacy answered 500');
  });

  it('is retryable for 408, 429, 502, 503 and 504 only', () => {
    const retryable = [400, 401, 403, 404, 408, 409, 422, 429, 500, 501, 502, 503, 504].filter(
      (status) => new UpstreamError({ service: 's', status }).retryable,
    );
    assert.deepEqual(retryable, [408, 429, 502, 503, 504]);
  });

  it('is recognised by isUpstreamError whatever its code', () => {
    const a = new UpstreamError({ service: 's', status: 404, body: { error: { code: 'X', message: 'x' } } });
    const b = new UpstreamError({ service: 's', status: 200, code: 'BAD_RESPONSE', message: 'bad shape' });
    assert.ok(isUpstreamError(a));
    assert.ok(isUpstreamError(b));
    assert.equal(b.code, 'BAD_RESPONSE');
    assert.equal(isUpstreamError(new Error('x')), false);
    assert.equal(isUpstreamError(undefined), false);
  });
});

describe('UpstreamUnavailableError', () => {
  it('keeps the network error as cause and names it', () => {
    const cause = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
    const err = new UpstreamUnavailableError('payment', 'http://127.0.0.1:9', cause);
    assert.equal(err.code, 'UPSTREAM_UNAVAILABLE');
    assert.equal(err.retryable, true);
    assert.equal(err.cause, cause);
    assert.equal(err.instance, 'http://127.0.0.1:9');
    assert.match(err.message, /payment is unavailable at http:\/\/127\.0\.0\.1:9: connect ECONNREFUSED/);
    assert.ok(isUpstreamUnavailableError(err));
    assert.equal(isUpstreamError(err), false);
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds', () => {
    assert.equal(parseRetryAfter('3'), 3000);
    assert.equal(parseRetryAfter(' 0 '), 0);
  });

  it('reads an HTTP date relative to now', () => {
    const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');
    assert.equal(parseRetryAfter('Wed, 21 Oct 2015 07:28:05 GMT', now), 5000);
    assert.equal(parseRetryAfter('Wed, 21 Oct 2015 07:27:00 GMT', now), 0);
  });

  it('ignores absent and malformed values', () => {
    assert.equal(parseRetryAfter(undefined), undefined);
    assert.equal(parseRetryAfter('soon'), undefined);
    assert.equal(parseRetryAfter('-1'), undefined);
    assert.equal(parseRetryAfter(['1', '2']), undefined);
  });
});
