// Server-side prepared statements for a PostgreSQL store's pool. A service sends the same few
// SQL texts over and over (Kysely builds the same text for the same query shape); naming a
// text makes each connection parse and plan it once and then only bind and execute it, which
// takes a large share of PostgreSQL's CPU off every repeated statement.
//
// Bounded: a text is named on its second sighting, and at most `limit` texts per pool get a
// name (each connection then holds at most that many statements); the rest run unnamed, as
// before. Statements without parameters (BEGIN, COMMIT, DDL, fixed queries) are never named.
//
// A table whose columns change under a prepared `select *` / `returning *` makes PostgreSQL
// refuse that statement ("cached plan must not change result type"). That query fails once;
// its text then gets a new name, so every connection prepares it again against the new columns.

/** Which texts run as named prepared statements, and under which names. */
export class StatementNames {
  private readonly named = new Map<string, string>();
  private readonly seen = new Set<string>();
  private next = 0;

  /**
   * @param limit Most texts named at once; 0 names none.
   * @param prefix Start of every name (PostgreSQL names are per connection).
   */
  constructor(
    private readonly limit: number,
    private readonly prefix = 'flotilla_',
  ) {}

  /** The name `text` runs under, or `undefined` to run it unnamed (first sighting, or the limit reached). */
  nameFor(text: string): string | undefined {
    const name = this.named.get(text);
    if (name !== undefined || this.named.size >= this.limit) return name;
    if (!this.seen.has(text)) {
      // Texts seen once are remembered in a bounded set: a flood of one-off texts clears it.
      if (this.seen.size >= this.limit * 4) this.seen.clear();
      this.seen.add(text);
      return undefined;
    }
    this.seen.delete(text);
    const fresh = `${this.prefix}${this.next++}`;
    this.named.set(text, fresh);
    return fresh;
  }

  /** Gives a named `text` a new name, so that every connection prepares it again. */
  renew(text: string): void {
    if (this.named.has(text)) this.named.set(text, `${this.prefix}${this.next++}`);
  }

  /** How many texts have a name. */
  get size(): number {
    return this.named.size;
  }
}

/** A `pg` client's query method, in the forms the store's code (through Kysely) calls it. */
interface QueryingClient {
  query(...args: unknown[]): unknown;
}

/** SQLSTATE and message of a prepared statement whose result columns changed under it. */
const STALE_PLAN_CODE = '0A000';
const STALE_PLAN = /cached plan must not change result type/;

/**
 * Makes `client` run repeated parameterised statements as named prepared statements, by the
 * names `names` hands out. Calls with a callback, a query object or no parameters pass through.
 */
export function prepareRepeatedStatements(client: object, names: StatementNames): void {
  const target = client as QueryingClient;
  // The method is looked up at each call, not kept: instrumentation that patches `pg`'s
  // Client.prototype.query later (tracing, statement counting) still sees every statement.
  const own = Object.hasOwn(target, 'query') ? target.query : undefined;
  const proto = Object.getPrototypeOf(target) as QueryingClient;
  target.query = function preparing(this: QueryingClient, ...args: unknown[]): unknown {
    const query = own ?? proto.query;
    const [text, values] = args;
    if (args.length !== 2 || typeof text !== 'string' || !Array.isArray(values) || values.length === 0)
      return query.apply(this, args);
    const name = names.nameFor(text);
    if (name === undefined) return query.apply(this, args);
    return (query.call(this, { name, text, values }) as Promise<unknown>).catch((err: unknown) => {
      const e = err as { code?: unknown; message?: unknown } | null;
      if (e?.code === STALE_PLAN_CODE && typeof e.message === 'string' && STALE_PLAN.test(e.message))
        names.renew(text);
      throw err;
    });
  };
}
