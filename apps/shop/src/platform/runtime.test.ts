import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { poolOptions } from './runtime.js';

describe('poolOptions', () => {
  it("leaves the store's default when FLOTILLA_PG_PREPARED_STATEMENTS is unset or empty", () => {
    assert.deepEqual(poolOptions({}), {});
    assert.deepEqual(poolOptions({ FLOTILLA_PG_PREPARED_STATEMENTS: '' }), {});
  });

  it('reads a cap, 0 turning prepared statements off', () => {
    assert.deepEqual(poolOptions({ FLOTILLA_PG_PREPARED_STATEMENTS: '0' }), { preparedStatements: 0 });
    assert.deepEqual(poolOptions({ FLOTILLA_PG_PREPARED_STATEMENTS: '50' }), { preparedStatements: 50 });
  });

  it('rejects what is not an integer >= 0, naming the variable', () => {
    for (const bad of ['-1', '1.5', 'off'])
      assert.throws(
        () => poolOptions({ FLOTILLA_PG_PREPARED_STATEMENTS: bad }),
        new RegExp(`FLOTILLA_PG_PREPARED_STATEMENTS must be an integer >= 0, got "${bad}"`),
      );
  });
});
