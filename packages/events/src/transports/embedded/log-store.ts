import type { TransportMessage } from '../../transport.js';
import { IncompatibleTransportError } from '../errors.js';
import { partitionOf } from '../partitioning.js';
import type { SqliteDatabase, Statement, TransactionFunction } from './sqlite.js';

/** Bumped when the tables below change shape; a newer file is refused rather than misread. */
const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (
  name  TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS log (
  seq          INTEGER PRIMARY KEY AUTOINCREMENT,
  id           TEXT NOT NULL UNIQUE,
  topic        TEXT NOT NULL,
  key          TEXT NOT NULL,
  partition    INTEGER NOT NULL,
  payload      BLOB NOT NULL,
  headers      TEXT,
  published_at INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS log_by_partition ON log (partition, seq);
CREATE TABLE IF NOT EXISTS groups (
  grp        TEXT PRIMARY KEY,
  topics     TEXT NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS cursors (
  grp            TEXT NOT NULL,
  partition      INTEGER NOT NULL,
  acked_seq      INTEGER NOT NULL,
  inflight_seq   INTEGER,
  delivery_count INTEGER NOT NULL DEFAULT 0,
  not_before     INTEGER NOT NULL DEFAULT 0,
  owner          TEXT,
  lease_until    INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (grp, partition)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS members (
  grp         TEXT NOT NULL,
  member      TEXT NOT NULL,
  alive_until INTEGER NOT NULL,
  PRIMARY KEY (grp, member)
) STRICT, WITHOUT ROWID;
`;

/** A message read back from the log. */
export interface LogRow {
  readonly seq: number;
  readonly id: string;
  readonly topic: string;
  readonly key: string;
  readonly payload: Uint8Array;
  readonly headers: string | null;
}

/**
 * A group's position in one partition: every message of the group's topics up to `acked_seq`
 * is settled; `inflight_seq` has been delivered `delivery_count` times and is not settled yet
 * (not to be delivered again before `not_before`); `owner` holds the partition until `lease_until`.
 */
export interface CursorRow {
  readonly partition: number;
  readonly acked_seq: number;
  readonly inflight_seq: number | null;
  readonly delivery_count: number;
  readonly not_before: number;
  readonly owner: string | null;
  readonly lease_until: number;
}

/** A message's place in the log, without its body: what a wake-up needs to know. */
export interface AppendedRow {
  readonly seq: number;
  readonly partition: number;
  readonly topic: string;
}

/** A cursor write waiting for the next batch. */
interface CursorWrite {
  readonly params: readonly unknown[];
  readonly statement: Statement;
  readonly resolve: (applied: boolean) => void;
  readonly reject: (error: unknown) => void;
}

/** What a member sees while rebalancing: the live members of its group and every cursor. */
export interface GroupView {
  readonly members: readonly string[];
  readonly cursors: readonly CursorRow[];
}

/**
 * Every SQL statement of the embedded transport (internal): the append-only log, the per-(group,
 * partition) cursors with their leases, and the members' heartbeats. Each method is one
 * transaction; writers use `BEGIN IMMEDIATE` so concurrent processes queue on the busy timeout
 * instead of failing to upgrade a read transaction.
 */
export class LogStore {
  private readonly insert: Statement;
  private readonly sequence: Statement<{ seq: number }>;
  private readonly appended: Statement<AppendedRow>;
  private readonly fetchers = new Map<number, Statement<LogRow>>();
  private readonly counters = new Map<number, Statement<{ n: number }>>();
  private readonly beginStmt: Statement;
  private readonly retryStmt: Statement;
  private readonly settleStmt: Statement;
  private readonly releaseStmt: Statement;
  private readonly publishTx: TransactionFunction<[readonly TransportMessage[], number], void>;
  private readonly writeBatch: TransactionFunction<[readonly CursorWrite[]], boolean[]>;
  private queued: CursorWrite[] = [];
  private readonly fetchTx: TransactionFunction<
    [number, number, readonly string[], number],
    { rows: LogRow[]; high: number }
  >;

  constructor(
    private readonly db: SqliteDatabase,
    private readonly path: string,
    private readonly partitions: number,
  ) {
    this.migrate();
    this.insert = db.prepare(
      `INSERT INTO log (id, topic, key, partition, payload, headers, published_at) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO NOTHING`,
    );
    this.sequence = db.prepare(`SELECT seq FROM sqlite_sequence WHERE name = 'log'`);
    this.appended = db.prepare(`SELECT seq, partition, topic FROM log WHERE seq > ? ORDER BY seq LIMIT ?`);
    this.beginStmt = db.prepare(
      `UPDATE cursors SET acked_seq = ?, inflight_seq = ?, delivery_count = ?, not_before = 0
       WHERE grp = ? AND partition = ? AND owner = ?`,
    );
    this.retryStmt = db.prepare(
      `UPDATE cursors SET not_before = ? WHERE grp = ? AND partition = ? AND owner = ?`,
    );
    this.settleStmt = db.prepare(
      `UPDATE cursors SET acked_seq = ?, inflight_seq = NULL, delivery_count = 0, not_before = 0
       WHERE grp = ? AND partition = ? AND owner = ?`,
    );
    this.releaseStmt = db.prepare(
      `UPDATE cursors SET owner = NULL, lease_until = 0 WHERE grp = ? AND partition = ? AND owner = ?`,
    );
    this.publishTx = db.transaction((messages: readonly TransportMessage[], now: number) => {
      for (const m of messages) {
        const payload = Buffer.from(m.payload.buffer, m.payload.byteOffset, m.payload.byteLength);
        const headers = m.headers === undefined ? null : JSON.stringify(m.headers);
        this.insert.run(m.id, m.topic, m.key, partitionOf(m.key, this.partitions), payload, headers, now);
      }
    });
    this.writeBatch = db.transaction((writes: readonly CursorWrite[]) =>
      writes.map((w) => w.statement.run(...w.params).changes === 1),
    );
    this.fetchTx = db.transaction(
      (partition: number, afterSeq: number, topics: readonly string[], limit: number) => {
        const rows = this.fetcher(topics.length).all(partition, afterSeq, ...topics, limit);
        // In the same snapshot, everything up to the sequence counter has been seen: a cursor may
        // move past messages of other topics without reading them again.
        const high = rows.length < limit ? this.highWater() : rows[rows.length - 1]!.seq;
        return { rows, high };
      },
    );
  }

  /** Appends messages in one `BEGIN IMMEDIATE` transaction (all or nothing); known ids are skipped. */
  publish(messages: readonly TransportMessage[], now: number): void {
    this.publishTx.immediate(messages, now);
  }

  /** Where and under which topic up to `limit` messages after `afterSeq` were appended, oldest first. */
  appendedAfter(afterSeq: number, limit: number): AppendedRow[] {
    return this.appended.all(afterSeq, limit);
  }

  /** The highest sequence ever assigned (0 for an empty log). */
  highWater(): number {
    return this.sequence.get()?.seq ?? 0;
  }

  /**
   * Up to `limit` messages of `topics` in `partition` after `afterSeq`, and the sequence up to
   * which the partition has been fully examined.
   */
  fetch(
    partition: number,
    afterSeq: number,
    topics: readonly string[],
    limit: number,
  ): { rows: LogRow[]; high: number } {
    return this.fetchTx(partition, afterSeq, topics, limit);
  }

  /** Creates the group's cursors the first time it is seen (at the start or the end of the log) and records its topics. */
  ensureGroup(group: string, topics: readonly string[], startAt: 'new' | 'beginning', now: number): void {
    this.db
      .transaction(() => {
        const known = this.db.prepare(`SELECT 1 FROM cursors WHERE grp = ? LIMIT 1`).get(group) !== undefined;
        if (!known) {
          const start = startAt === 'beginning' ? 0 : this.highWater();
          const add = this.db.prepare(
            `INSERT OR IGNORE INTO cursors (grp, partition, acked_seq) VALUES (?, ?, ?)`,
          );
          for (let p = 0; p < this.partitions; p++) add.run(group, p, start);
        }
        this.db
          .prepare(
            `INSERT INTO groups (grp, topics, created_at) VALUES (?, ?, ?)
             ON CONFLICT (grp) DO UPDATE SET topics = excluded.topics`,
          )
          .run(group, JSON.stringify([...topics].sort()), now);
      })
      .immediate();
  }

  /**
   * One heartbeat of `member`, in one write transaction: renews its membership and the leases of
   * its partitions, forgets members that stopped beating, lets `decide` pick partitions to claim
   * from what it sees, and claims those that are still free. Returns the claimed cursors.
   */
  rebalance(
    group: string,
    member: string,
    now: number,
    leaseMs: number,
    decide: (view: GroupView) => readonly number[],
  ): CursorRow[] {
    return this.db
      .transaction(() => {
        this.db
          .prepare(
            `INSERT INTO members (grp, member, alive_until) VALUES (?, ?, ?)
             ON CONFLICT (grp, member) DO UPDATE SET alive_until = excluded.alive_until`,
          )
          .run(group, member, now + leaseMs);
        this.db.prepare(`DELETE FROM members WHERE grp = ? AND alive_until < ?`).run(group, now);
        this.db
          .prepare(`UPDATE cursors SET lease_until = ? WHERE grp = ? AND owner = ?`)
          .run(now + leaseMs, group, member);
        const members = this.db
          .prepare<{ member: string }>(`SELECT member FROM members WHERE grp = ? ORDER BY member`)
          .all(group)
          .map((r) => r.member);
        const cursors = this.db
          .prepare<CursorRow>(`SELECT * FROM cursors WHERE grp = ? ORDER BY partition`)
          .all(group);
        const claim = this.db.prepare<CursorRow>(
          `UPDATE cursors SET owner = ?, lease_until = ?
           WHERE grp = ? AND partition = ? AND (owner IS NULL OR lease_until < ?) RETURNING *`,
        );
        const claimed: CursorRow[] = [];
        for (const partition of decide({ members, cursors })) {
          const row = claim.get(member, now + leaseMs, group, partition, now);
          if (row !== undefined) claimed.push(row);
        }
        return claimed;
      })
      .immediate();
  }

  /**
   * Records that `seq` is being delivered for the `deliveryCount`th time, settling everything up
   * to `ackedSeq`. Resolves false when `member` lost the partition. Writes queued in the same
   * event-loop turn (every partition of every subscription of this instance) share one transaction.
   */
  begin(
    group: string,
    partition: number,
    member: string,
    ackedSeq: number,
    seq: number,
    deliveryCount: number,
  ): Promise<boolean> {
    return this.enqueue(this.beginStmt, [ackedSeq, seq, deliveryCount, group, partition, member]);
  }

  /** Holds the in-flight message back until `notBefore`. False when `member` lost the partition. */
  retry(group: string, partition: number, member: string, notBefore: number): boolean {
    return this.retryStmt.run(notBefore, group, partition, member).changes === 1;
  }

  /** Marks everything up to `ackedSeq` settled, with nothing in flight. Resolves false when `member` lost the partition. */
  settle(group: string, partition: number, member: string, ackedSeq: number): Promise<boolean> {
    return this.enqueue(this.settleStmt, [ackedSeq, group, partition, member]);
  }

  /** Gives a partition up so another member can claim it at once. */
  release(group: string, partition: number, member: string): void {
    this.releaseStmt.run(group, partition, member);
  }

  /** Removes a member and frees whatever it still holds. */
  leave(group: string, member: string): void {
    this.db
      .transaction(() => {
        this.db
          .prepare(`UPDATE cursors SET owner = NULL, lease_until = 0 WHERE grp = ? AND owner = ?`)
          .run(group, member);
        this.db.prepare(`DELETE FROM members WHERE grp = ? AND member = ?`).run(group, member);
      })
      .immediate();
  }

  /** Messages of the group's recorded topics after its cursors (in flight included). */
  lag(group: string): number {
    return this.db.transaction(() => {
      const row = this.db.prepare<{ topics: string }>(`SELECT topics FROM groups WHERE grp = ?`).get(group);
      if (row === undefined) return 0;
      const topics = JSON.parse(row.topics) as string[];
      const counter = this.counter(topics.length);
      let lag = 0;
      for (const c of this.db.prepare<CursorRow>(`SELECT * FROM cursors WHERE grp = ?`).all(group))
        lag += counter.get(c.partition, c.acked_seq, ...topics)?.n ?? 0;
      return lag;
    })();
  }

  /**
   * Deletes up to `batch` of the oldest messages published before `cutoff`. Returns how many;
   * the caller repeats while a full batch went, yielding in between so publishers are not held up.
   */
  deleteOlderThan(cutoff: number, batch: number): number {
    return this.db
      .transaction(() => {
        const oldest = this.db
          .prepare<{ seq: number; published_at: number }>(
            `SELECT seq, published_at FROM log ORDER BY seq LIMIT ?`,
          )
          .all(batch);
        // Sequence order is publish order, so the expired messages are a prefix.
        let last = -1;
        for (const r of oldest) {
          if (r.published_at >= cutoff) break;
          last = r.seq;
        }
        return last < 0 ? 0 : this.db.prepare(`DELETE FROM log WHERE seq <= ?`).run(last).changes;
      })
      .immediate();
  }

  private enqueue(statement: Statement, params: readonly unknown[]): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      if (this.queued.length === 0) setImmediate(() => this.flushWrites());
      this.queued.push({ statement, params, resolve, reject });
    });
  }

  private flushWrites(): void {
    const writes = this.queued;
    this.queued = [];
    let applied: boolean[];
    try {
      applied = this.writeBatch.immediate(writes);
    } catch (err) {
      for (const w of writes) w.reject(err);
      return;
    }
    for (let i = 0; i < writes.length; i++) writes[i]!.resolve(applied[i]!);
  }

  private fetcher(topicCount: number): Statement<LogRow> {
    let stmt = this.fetchers.get(topicCount);
    if (stmt === undefined) {
      stmt = this.db.prepare<LogRow>(
        `SELECT seq, id, topic, key, payload, headers FROM log
         WHERE partition = ? AND seq > ? AND topic IN (${placeholders(topicCount)}) ORDER BY seq LIMIT ?`,
      );
      this.fetchers.set(topicCount, stmt);
    }
    return stmt;
  }

  private counter(topicCount: number): Statement<{ n: number }> {
    let stmt = this.counters.get(topicCount);
    if (stmt === undefined) {
      stmt = this.db.prepare<{ n: number }>(
        `SELECT count(*) AS n FROM log WHERE partition = ? AND seq > ? AND topic IN (${placeholders(topicCount)})`,
      );
      this.counters.set(topicCount, stmt);
    }
    return stmt;
  }

  /** Creates the tables once and checks that an existing log was made with the same partition count. */
  private migrate(): void {
    this.db
      .transaction(() => {
        this.db.exec(SCHEMA);
        const read = this.db.prepare<{ value: string }>(`SELECT value FROM meta WHERE name = ?`);
        const write = this.db.prepare(`INSERT INTO meta (name, value) VALUES (?, ?)`);
        const version = read.get('schema_version')?.value;
        if (version === undefined) write.run('schema_version', String(SCHEMA_VERSION));
        else if (version !== String(SCHEMA_VERSION))
          throw new IncompatibleTransportError(
            'embedded',
            this.path,
            'schema version',
            String(SCHEMA_VERSION),
            version,
          );
        const partitions = read.get('partitions')?.value;
        if (partitions === undefined) write.run('partitions', String(this.partitions));
        else if (partitions !== String(this.partitions))
          throw new IncompatibleTransportError(
            'embedded',
            this.path,
            'partitions',
            String(this.partitions),
            partitions,
          );
      })
      .immediate();
  }
}

function placeholders(n: number): string {
  return Array.from({ length: n }, () => '?').join(', ');
}
