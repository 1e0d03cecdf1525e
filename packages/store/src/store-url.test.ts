import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import { parseStoreUrl, redactUrl } from './store-url.js';

describe('parseStoreUrl', () => {
  it('reads sqlite:<path>, sqlite://<path> and plain paths, resolving relative ones', () => {
    assert.deepEqual(parseStoreUrl('sqlite:data/orders.db'), {
      dialect: 'sqlite',
      path: resolve('data/orders.db'),
    });
    assert.deepEqual(parseStoreUrl('sqlite:///var/lib/orders.db'), {
      dialect: 'sqlite',
      path: '/var/lib/orders.db',
    });
    assert.deepEqual(parseStoreUrl('/tmp/orders.db'), { dialect: 'sqlite', path: '/tmp/orders.db' });
    assert.deepEqual(parseStoreUrl('orders.db'), { dialect: 'sqlite', path: resolve('orders.db') });
  });

  it('reads :memory: in both spellings', () => {
    assert.deepEqual(parseStoreUrl(':memory:'), { dialect: 'sqlite', path: ':memory:' });
    assert.deepEqual(parseStoreUrl('sqlite::memory:'), { dialect: 'sqlite', path: ':memory:' });
  });

  it('reads postgres:// and postgresql:// URLs with their host, port and database', () => {
    const target = parseStoreUrl('postgres://app:pw@db.internal:6543/orders');
    assert.equal(target.dialect, 'postgres');
    if (target.dialect !== 'postgres') return;
    assert.equal(target.host, 'db.internal');
    assert.equal(target.port, 6543);
    assert.equal(target.database, 'orders');
    assert.equal(target.schema, undefined);
    assert.equal(target.display, 'postgres://app:***@db.internal:6543/orders');
    const other = parseStoreUrl('postgresql://app@127.0.0.1/shop');
    assert.equal(other.dialect === 'postgres' && other.port, 5432);
  });

  it('takes ?schema= out of the URL given to pg', () => {
    const target = parseStoreUrl('postgres://app@127.0.0.1:5432/shop?schema=orders&sslmode=disable');
    assert.ok(target.dialect === 'postgres');
    assert.equal(target.schema, 'orders');
    assert.equal(target.connectionString, 'postgres://app@127.0.0.1:5432/shop?sslmode=disable');
  });

  it('rejects a schema that is not a plain lowercase identifier', () => {
    for (const schema of ['Orders', 'pg_orders', 'a-b', '1abc', 'x'.repeat(64)])
      assert.throws(
        () => parseStoreUrl(`postgres://h/db?schema=${schema}`),
        /url \?schema= must be a lowercase identifier/,
      );
  });

  it('rejects empty URLs, unknown schemes and sqlite: without a path, without echoing passwords', () => {
    assert.throws(() => parseStoreUrl(''), /url must be a non-empty string/);
    assert.throws(() => parseStoreUrl('sqlite:'), /names no file/);
    assert.throws(
      () => parseStoreUrl('mysql://root:hunter2@h/db'),
      (err: Error) => /scheme 'mysql:' is not supported in mysql:\/\/root:\*\*\*@h\/db/.test(err.message),
    );
  });
});

describe('redactUrl', () => {
  it('masks the password and leaves URLs without one alone', () => {
    assert.equal(redactUrl('postgres://u:p%40ss@h:1/d?x=1'), 'postgres://u:***@h:1/d?x=1');
    assert.equal(redactUrl('postgres://u@h/d'), 'postgres://u@h/d');
  });
});
