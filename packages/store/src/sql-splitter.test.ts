import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { splitSqlStatements } from './sql-splitter.js';

const sqlite = (text: string) => splitSqlStatements(text, 'sqlite');
const postgres = (text: string) => splitSqlStatements(text, 'postgres');

describe('splitSqlStatements', () => {
  it('splits at semicolons, trims, and drops the final semicolon', () => {
    assert.deepEqual(sqlite('  create table a (x int);\n\ncreate table b (y int) ;  '), [
      'create table a (x int)',
      'create table b (y int)',
    ]);
  });

  it('keeps a last statement that has no semicolon', () => {
    assert.deepEqual(sqlite('select 1; select 2'), ['select 1', 'select 2']);
  });

  it('does not split inside single-quoted strings, including doubled quotes', () => {
    assert.deepEqual(sqlite("insert into t values ('a;b', 'it''s; fine'); select 1"), [
      "insert into t values ('a;b', 'it''s; fine')",
      'select 1',
    ]);
  });

  it('does not split inside double-quoted or backquoted identifiers', () => {
    assert.deepEqual(sqlite('create table "odd;name" ("c;1" int); select `x;y` from z'), [
      'create table "odd;name" ("c;1" int)',
      'select `x;y` from z',
    ]);
  });

  it('ignores semicolons in line and block comments and drops comment-only pieces', () => {
    assert.deepEqual(
      sqlite(
        '-- first; still a comment\ncreate table a (x int); /* a; b */ create table b (y int);\n-- trailing;\n',
      ),
      ['-- first; still a comment\ncreate table a (x int)', '/* a; b */ create table b (y int)'],
    );
  });

  it('keeps a SQLite trigger body with its inner statements and CASE … END in one statement', () => {
    const trigger = `create trigger orders_audit after update on orders
for each row when new.total <> old.total
begin
  insert into audit (id, note) values (new.id, case when new.total > old.total then 'up;' else 'down' end);
  update orders set updated = 1 where id = new.id;
end`;
    assert.deepEqual(sqlite(`create table audit (id text, note text);\n${trigger};\nselect 1;`), [
      'create table audit (id text, note text)',
      trigger,
      'select 1',
    ]);
  });

  it('treats new.end as a column, not the end of a trigger body', () => {
    const trigger = 'CREATE TEMP TRIGGER t AFTER INSERT ON x BEGIN UPDATE x SET a = new.end; END';
    assert.deepEqual(sqlite(`${trigger}; select 2`), [trigger, 'select 2']);
  });

  it('does not count BEGIN and END outside a CREATE TRIGGER / FUNCTION / PROCEDURE', () => {
    assert.deepEqual(
      sqlite('create table t (begin_at int, "end" int); select case when 1 then 2 end; select 3'),
      ['create table t (begin_at int, "end" int)', 'select case when 1 then 2 end', 'select 3'],
    );
  });

  it('keeps PostgreSQL dollar-quoted function bodies whole, with and without tags', () => {
    const fn = `create or replace function touch() returns trigger language plpgsql as $$
begin
  new.updated_at := now();
  return new;
end;
$$`;
    const tagged = "create function f() returns text language sql as $body$ select 'x;y'; $body$";
    assert.deepEqual(postgres(`${fn};\n${tagged};\nselect 1`), [fn, tagged, 'select 1']);
  });

  it('keeps a PostgreSQL BEGIN ATOMIC body whole', () => {
    const fn = `create function total(a int, b int) returns int language sql
begin atomic
  select a + b;
end`;
    assert.deepEqual(postgres(`${fn}; select 1;`), [fn, 'select 1']);
  });

  it("reads PostgreSQL E'…' strings with backslash escapes", () => {
    assert.deepEqual(postgres("select E'it\\'s; \\\\'; select 'plain\\'; select 3"), [
      "select E'it\\'s; \\\\'",
      "select 'plain\\'",
      'select 3',
    ]);
  });

  it('nests PostgreSQL block comments but not SQLite ones', () => {
    assert.deepEqual(postgres('/* outer /* inner; */ still; */ select 1; select 2'), [
      '/* outer /* inner; */ still; */ select 1',
      'select 2',
    ]);
    assert.deepEqual(sqlite('/* outer /* inner; */ select 1; select 2'), [
      '/* outer /* inner; */ select 1',
      'select 2',
    ]);
  });

  it('treats $1 parameters and $ inside identifiers as plain text on PostgreSQL', () => {
    assert.deepEqual(postgres('select $1::int; select a$b$ from t; select 2'), [
      'select $1::int',
      'select a$b$ from t',
      'select 2',
    ]);
  });

  it('returns nothing for whitespace and comments only', () => {
    assert.deepEqual(sqlite('  -- nothing\n /* here */ ; ;'), []);
  });

  it('reports unterminated strings, comments, dollar quotes and bodies with their line', () => {
    assert.throws(
      () => sqlite("select 1;\nselect 'oops"),
      /unterminated string literal starting at line 2, column 8/,
    );
    assert.throws(() => sqlite('select 1 /* never closed'), /unterminated block comment starting at line 1/);
    assert.throws(() => sqlite('select "x'), /unterminated quoted identifier/);
    assert.throws(() => postgres('select $q$ open'), /unterminated dollar-quoted string \$q\$/);
    assert.throws(
      () => sqlite('select 1;\ncreate trigger t after insert on x begin select 1;'),
      /unterminated BEGIN … END body: the statement at line 1, column 10 never ends/,
    );
  });
});
