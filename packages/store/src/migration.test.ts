import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checksumOf, compileMigrations, type Migration } from './migration.js';

describe('compileMigrations', () => {
  it('splits a script into statements and checksums them', () => {
    const [m] = compileMigrations(
      [{ id: '0001_a', up: 'create table a (x int);\ncreate table b (y int);' }],
      'sqlite',
    );
    assert.deepEqual(m?.statements, ['create table a (x int)', 'create table b (y int)']);
    assert.equal(m?.checksum, checksumOf(['create table a (x int)', 'create table b (y int)']));
    assert.match(m?.checksum ?? '', /^[0-9a-f]{64}$/);
  });

  it('gives a script and the same statements as an array one checksum', () => {
    const [script] = compileMigrations(
      [{ id: '1', up: 'create table a (x int); create table b (y int);' }],
      'sqlite',
    );
    const [list] = compileMigrations(
      [{ id: '1', up: ['create table a (x int);', ' create table b (y int)'] }],
      'sqlite',
    );
    assert.equal(script?.checksum, list?.checksum);
  });

  it('changes the checksum when a statement changes', () => {
    const [a] = compileMigrations([{ id: '1', up: 'create table a (x int)' }], 'sqlite');
    const [b] = compileMigrations([{ id: '1', up: 'create table a (x bigint)' }], 'sqlite');
    assert.notEqual(a?.checksum, b?.checksum);
  });

  it('picks the statements of the store dialect when given per dialect', () => {
    const up = { sqlite: 'create table a (x integer)', postgres: 'create table a (x bigint)' };
    assert.deepEqual(compileMigrations([{ id: '1', up }], 'sqlite')[0]?.statements, [
      'create table a (x integer)',
    ]);
    assert.deepEqual(compileMigrations([{ id: '1', up }], 'postgres')[0]?.statements, [
      'create table a (x bigint)',
    ]);
  });

  it('rejects duplicate ids', () => {
    const m = { id: '0001_a', up: 'select 1' };
    assert.throws(() => compileMigrations([m, m], 'sqlite'), /migrations\[1\]\.id '0001_a' is a duplicate/);
  });

  it('rejects ids out of ascending order and hints at zero-padding', () => {
    assert.throws(
      () =>
        compileMigrations(
          [
            { id: '9_a', up: 'select 1' },
            { id: '10_b', up: 'select 1' },
          ],
          'sqlite',
        ),
      /migrations\[1\]\.id '10_b' must sort after the previous id '9_a'.*zero-pad/,
    );
  });

  it('rejects malformed ids', () => {
    for (const id of ['', ' 0001', '0001 a', '_x', 'a/b'])
      assert.throws(
        () => compileMigrations([{ id, up: 'select 1' }], 'sqlite'),
        /migrations\[0\]\.id must be 1-200/,
      );
  });

  it('rejects a migration without statements', () => {
    assert.throws(
      () => compileMigrations([{ id: '1', up: '  -- nothing\n' }], 'sqlite'),
      /migrations\[0\]\.up has no statements/,
    );
    assert.throws(
      () => compileMigrations([{ id: '1', up: [] }], 'sqlite'),
      /migrations\[0\]\.up has no statements/,
    );
  });

  it('rejects an array element holding two statements', () => {
    assert.throws(
      () => compileMigrations([{ id: '1', up: ['select 1; select 2'] }], 'sqlite'),
      /migrations\[0\]\.up\[0\] must hold exactly one statement, found 2/,
    );
  });

  it('requires both dialects in the per-dialect form', () => {
    const up = { sqlite: 'select 1' } as unknown as Migration['up'];
    assert.throws(
      () => compileMigrations([{ id: '1', up }], 'sqlite'),
      /migrations\[0\]\.up\.postgres is required/,
    );
  });

  it('names the migration in a splitting error', () => {
    assert.throws(
      () => compileMigrations([{ id: '1', up: "select 'open" }], 'sqlite'),
      /migrations\[0\]\.up: unterminated string literal/,
    );
  });

  it('rejects what is not a list of migrations', () => {
    assert.throws(
      () => compileMigrations('nope' as unknown as Migration[], 'sqlite'),
      /migrations must be an array/,
    );
    assert.throws(
      () => compileMigrations([null as unknown as Migration], 'sqlite'),
      /migrations\[0\] must be an object/,
    );
    assert.throws(
      () => compileMigrations([{ id: '1', up: 42 as unknown as string }], 'sqlite'),
      /migrations\[0\]\.up must be SQL text/,
    );
  });
});
