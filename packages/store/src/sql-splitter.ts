/** The SQL dialects a store speaks. */
export type StoreDialect = 'sqlite' | 'postgres';

/**
 * Splits a script into its statements at the semicolons that end them. A semicolon does not end
 * a statement inside a string (`'…'`, PostgreSQL `E'…'` with backslash escapes, dollar-quoted
 * `$$…$$` / `$tag$…$tag$` on PostgreSQL), a quoted identifier (`"…"`, `` `…` ``), a comment
 * (`-- …`, `/* … *\/`, nested on PostgreSQL), or the `BEGIN … END` body of a
 * `CREATE TRIGGER` / `CREATE FUNCTION` / `CREATE PROCEDURE` (SQLite triggers, PostgreSQL
 * `BEGIN ATOMIC`), where `CASE … END` pairs are counted too.
 *
 * Statements come back trimmed and without their final semicolon; pieces holding only
 * whitespace and comments are dropped. Unterminated strings, comments and bodies throw a
 * `SyntaxError` naming the line, rather than silently swallowing the rest of the script.
 *
 * @example
 * splitSqlStatements("create table t (s text); insert into t values ('a;b');", 'sqlite');
 * // → ['create table t (s text)', "insert into t values ('a;b')"]
 */
export function splitSqlStatements(sql: string, dialect: StoreDialect): string[] {
  return new Splitter(sql, dialect).run();
}

const BLOCK_KINDS = new Set(['TRIGGER', 'FUNCTION', 'PROCEDURE']);
const HEAD_MODIFIERS = new Set(['OR', 'REPLACE', 'TEMP', 'TEMPORARY', 'CONSTRAINT']);
const DOLLAR_TAG = /\$(?:[A-Za-z_\u0080-\uffff][\w\u0080-\uffff]*)?\$/y;

function isWordStart(c: string): boolean {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c === '_' || c > '\u007f';
}

function isWordChar(c: string | undefined): boolean {
  return c !== undefined && (isWordStart(c) || (c >= '0' && c <= '9') || c === '$');
}

class Splitter {
  private readonly statements: string[] = [];
  private i = 0;
  private start = 0;
  private hasContent = false;
  /** Upper-cased leading keywords of the current statement, to recognise a body-bearing CREATE. */
  private head: string[] = [];
  private tracksBlocks = false;
  private depth = 0;

  constructor(
    private readonly sql: string,
    private readonly dialect: StoreDialect,
  ) {}

  run(): string[] {
    const { sql } = this;
    while (this.i < sql.length) {
      const c = sql[this.i]!;
      const next = sql[this.i + 1];
      if (c === '-' && next === '-') this.skipLineComment();
      else if (c === '/' && next === '*') this.skipBlockComment();
      else if (c === "'") this.skipString();
      else if (c === '"' || c === '`') this.skipQuoted(c, 'quoted identifier');
      else if (c === '$' && this.dialect === 'postgres' && this.tryDollarQuote()) continue;
      else if (isWordStart(c)) this.readWord();
      else if (c === ';' && this.depth === 0) {
        this.finishStatement(this.i);
        this.i++;
        this.start = this.i;
      } else {
        if (c.trim() !== '') this.hasContent = true;
        this.i++;
      }
    }
    if (this.depth > 0)
      throw new SyntaxError(
        `unterminated BEGIN … END body: the statement at ${this.where(this.start)} never ends`,
      );
    this.finishStatement(sql.length);
    return this.statements;
  }

  private finishStatement(end: number): void {
    if (this.hasContent) this.statements.push(this.sql.slice(this.start, end).trim());
    this.hasContent = false;
    this.head = [];
    this.tracksBlocks = false;
    this.depth = 0;
  }

  private skipLineComment(): void {
    const end = this.sql.indexOf('\n', this.i);
    this.i = end === -1 ? this.sql.length : end + 1;
  }

  private skipBlockComment(): void {
    const { sql } = this;
    const opened = this.i;
    // PostgreSQL nests block comments (as the SQL standard says); SQLite ends at the first `*/`.
    const nests = this.dialect === 'postgres';
    let level = 0;
    while (this.i < sql.length) {
      if (sql[this.i] === '/' && sql[this.i + 1] === '*' && (level === 0 || nests)) {
        level++;
        this.i += 2;
      } else if (sql[this.i] === '*' && sql[this.i + 1] === '/') {
        level--;
        this.i += 2;
        if (level === 0) return;
      } else this.i++;
    }
    throw new SyntaxError(`unterminated block comment starting at ${this.where(opened)}`);
  }

  private skipString(): void {
    const prev = this.sql[this.i - 1];
    const escapePrefix =
      this.dialect === 'postgres' && (prev === 'E' || prev === 'e') && !isWordChar(this.sql[this.i - 2]);
    if (!escapePrefix) {
      this.skipQuoted("'", 'string literal');
      return;
    }
    const { sql } = this;
    const opened = this.i;
    this.hasContent = true;
    this.i++;
    while (this.i < sql.length) {
      const c = sql[this.i];
      if (c === '\\') this.i += 2;
      else if (c === "'" && sql[this.i + 1] === "'") this.i += 2;
      else if (c === "'") {
        this.i++;
        return;
      } else this.i++;
    }
    throw new SyntaxError(`unterminated string literal starting at ${this.where(opened)}`);
  }

  /** Skips a `quote`-delimited token in which a doubled quote stands for itself. */
  private skipQuoted(quote: string, what: string): void {
    const { sql } = this;
    const opened = this.i;
    this.hasContent = true;
    this.i++;
    while (this.i < sql.length) {
      if (sql[this.i] === quote) {
        if (sql[this.i + 1] === quote) this.i += 2;
        else {
          this.i++;
          return;
        }
      } else this.i++;
    }
    throw new SyntaxError(`unterminated ${what} starting at ${this.where(opened)}`);
  }

  private tryDollarQuote(): boolean {
    // `$1` is a parameter and `a$b$` an identifier, not dollar quotes.
    if (isWordChar(this.sql[this.i - 1])) return false;
    DOLLAR_TAG.lastIndex = this.i;
    const match = DOLLAR_TAG.exec(this.sql);
    if (match === null) return false;
    const tag = match[0];
    const end = this.sql.indexOf(tag, this.i + tag.length);
    if (end === -1)
      throw new SyntaxError(`unterminated dollar-quoted string ${tag} starting at ${this.where(this.i)}`);
    this.hasContent = true;
    this.i = end + tag.length;
    return true;
  }

  private readWord(): void {
    const { sql } = this;
    const from = this.i;
    while (isWordChar(sql[this.i])) this.i++;
    this.hasContent = true;
    // `new.end` is a column, not a keyword.
    if (sql[from - 1] === '.') return;
    const word = sql.slice(from, this.i).toUpperCase();
    if (this.head.length < 6) {
      this.head.push(word);
      if (
        this.head[0] === 'CREATE' &&
        BLOCK_KINDS.has(word) &&
        this.head.slice(1, -1).every((w) => HEAD_MODIFIERS.has(w))
      )
        this.tracksBlocks = true;
    }
    if (!this.tracksBlocks) return;
    if (word === 'BEGIN' || word === 'CASE') this.depth++;
    else if (word === 'END' && this.depth > 0) this.depth--;
  }

  private where(offset: number): string {
    let line = 1;
    let lineStart = 0;
    for (let k = 0; k < offset; k++) {
      if (this.sql[k] === '\n') {
        line++;
        lineStart = k + 1;
      }
    }
    return `line ${line}, column ${offset - lineStart + 1}`;
  }
}
