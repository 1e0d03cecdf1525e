import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isTransientDatabaseError, mapError } from './error-mapping.js';

const withCode = (message: string, code?: string): Error =>
  Object.assign(new Error(message), code === undefined ? {} : { code });

test('a lost database connection is a retryable 503, not an internal error', () => {
  for (const err of [
    withCode('terminating connection due to administrator command', '57P01'),
    withCode('connection failure during query', '08006'),
    withCode('read ECONNRESET', 'ECONNRESET'),
    withCode('Connection terminated unexpectedly'),
    // pg, when the ROLLBACK after a query that lost its connection goes to the broken client.
    withCode('Client has encountered a connection error and is not queryable'),
    withCode('Client was closed and is not queryable'),
    withCode('database is locked', 'SQLITE_BUSY'),
  ]) {
    assert.equal(isTransientDatabaseError(err), true, err.message);
    const mapped = mapError(err, 'r1');
    assert.equal(mapped.status, 503);
    assert.equal(mapped.body.error.code, 'DATABASE_UNAVAILABLE');
    assert.equal(mapped.body.error.retryable, true);
    assert.equal(mapped.retryAfterSeconds, 1);
    assert.equal(mapped.internal, false);
  }
});

test('other errors stay internal 500s that say nothing of their cause', () => {
  for (const err of [
    withCode('duplicate key value violates unique constraint', '23505'),
    withCode('no such table: orders', 'SQLITE_ERROR'),
    new TypeError('x is undefined'),
    'a string',
    null,
  ]) {
    assert.equal(isTransientDatabaseError(err), false, String(err));
    const mapped = mapError(err, 'r2');
    assert.equal(mapped.status, 500);
    assert.equal(mapped.body.error.code, 'INTERNAL');
    assert.equal(mapped.body.error.message, 'internal error (request r2)');
    assert.equal(mapped.internal, true);
  }
});
