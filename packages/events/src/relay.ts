import { type Backoff, type Clock, exponentialBackoff, type TimerHandle } from '@flotilla/resilience';
import type { Store } from '@flotilla/store';
import { sql } from 'kysely';
import { messageOf } from './errors.js';
import type { EventsLogger } from './logger.js';
import { deleteSent, type EventsDb, readUnsent, toMessage } from './outbox.js';
import type { Transport } from './transport.js';

/** What the relay needs (internal). */
export interface RelaySettings {
  readonly store: Store<unknown>;
  readonly transport: Transport;
  readonly batchSize: number;
  readonly pollIntervalMs: number;
  readonly clock: Clock;
  /** Wall clock, epoch milliseconds. */
  readonly now: () => number;
  readonly logger: EventsLogger;
}

/** The relay's state, for stats and the health check. */
export interface RelayStatus {
  /** Whether this instance's relay is running. */
  readonly running: boolean;
  /**
   * Whether this instance sends the outbox now. On PostgreSQL one instance of a service holds
   * the relay lock and the others stand by; on SQLite every relay is its own leader.
   */
  readonly leader: boolean;
  /** Events this relay sent since it started. */
  readonly sent: number;
  /** When this relay last sent a batch, epoch milliseconds. */
  readonly lastSentAt: number | null;
  /** The last failure (cleared by the next successful batch). */
  readonly lastError: string | null;
}

/** How long a publish that has not shown up in the outbox yet keeps the relay re-reading quickly. */
const EXPECT_WINDOW_MS = 1000;
/**
 * Pause after sending a batch that was not full, before reading again. Under load, publishes
 * that commit meanwhile then go out together instead of one pass (a read, a send and a delete)
 * per event; at low rates it adds at most this much latency.
 */
const LINGER_MS = 2;
/** Pause after a failed pass: 100 ms, doubling up to 5 s while failures continue. */
const FAILURE_BACKOFF: Backoff = exponentialBackoff({
  initialDelayMs: 100,
  maxDelayMs: 5000,
  jitter: 'equal',
});

/**
 * Sends the outbox to the transport: reads unsent rows in seq order, publishes them as one
 * batch, deletes exactly those rows, and repeats while batches come back full. A publish that
 * committed in this process nudges it; a short poll finds the rest (other instances' rows, or a
 * transaction that took longer than the nudge waited). On PostgreSQL only the holder of a session
 * advisory lock (one per database and schema) sends; other instances stand by and take over
 * when its connection ends (internal).
 */
export class OutboxRelay {
  private stopping = false;
  private loop: Promise<void> | undefined;
  private timer: TimerHandle | undefined;
  private wake: (() => void) | undefined;
  private nudged = false;
  private readonly expected = new Map<string, number>();
  private failures = 0;
  private leader = false;
  private sent = 0;
  private lastSentAt: number | null = null;
  private lastError: string | null = null;

  constructor(private readonly settings: RelaySettings) {}

  start(): void {
    this.loop ??= this.run();
  }

  /**
   * Tells the relay to read the outbox soon. Without `id`, rows were just committed. With it,
   * `id` was just written in a transaction whose commit nobody reports: while the row is not
   * visible yet, the relay reads again after 2, 4, 8… ms.
   */
  nudge(id?: string): void {
    if (id !== undefined) this.expected.set(id, this.settings.clock.now() + EXPECT_WINDOW_MS);
    this.nudged = true;
    this.wake?.();
  }

  /** Stops after the batch in flight (sent and deleted), releasing the lock. */
  async close(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.loop;
  }

  status(): RelayStatus {
    return {
      running: this.loop !== undefined && !this.stopping,
      leader: this.leader,
      sent: this.sent,
      lastSentAt: this.lastSentAt,
      lastError: this.lastError,
    };
  }

  private get db(): EventsDb {
    return this.settings.store.db as unknown as EventsDb;
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      try {
        if (this.settings.store.dialect === 'postgres') await this.leadThenDrain();
        else {
          // SQLite: no lock. Writers of one file are serialised, every relay sends in seq order
          // and deletes a row only after the transport stored it, so the first copy of each
          // event is stored in order; extra copies are dropped by id (transport, then inbox).
          this.leader = true;
          await this.drain(this.db);
        }
      } catch (err) {
        this.fail(err, 'outbox relay failed; retrying');
        this.leader = false;
        await this.sleep(FAILURE_BACKOFF.delayMs(this.failures, 0, Math.random));
      }
    }
    this.leader = false;
  }

  /** Holds one pooled connection: waits for the advisory lock on it, then drains through it. */
  private async leadThenDrain(): Promise<void> {
    await this.db.connection().execute(async (conn) => {
      while (!this.stopping) {
        const { rows } = await sql<{
          locked: boolean;
        }>`select pg_try_advisory_lock(${LOCK_KEY}) as locked`.execute(conn);
        if (rows[0]?.locked === true) break;
        this.expected.clear();
        await this.sleep(this.settings.pollIntervalMs);
      }
      if (this.stopping) return;
      this.leader = true;
      this.settings.logger.info({ service: this.settings.store.service }, 'outbox relay is the leader');
      try {
        // Every read and delete goes through the locked connection: if it breaks, the lock is
        // gone with it and so is this relay's right to send.
        await this.drain(conn);
      } finally {
        this.leader = false;
        await sql`select pg_advisory_unlock(${LOCK_KEY})`.execute(conn).catch(() => undefined);
      }
    });
  }

  private async drain(db: EventsDb): Promise<void> {
    // On PostgreSQL, wait a moment after a nudge before reading: publishes committing together
    // then go out in one pass, and a nudge from inside a transaction the store did not begin
    // (before its commit) finds its row. (On SQLite the read waits for the store's one
    // connection, so it runs after the commit.)
    const settleFirst = this.settings.store.dialect === 'postgres';
    let quickDelayMs = LINGER_MS;
    let woken = false;
    while (!this.stopping) {
      if (woken && settleFirst) await this.sleep(LINGER_MS, true);
      woken = false;
      this.nudged = false;
      const rows = await readUnsent(db, this.settings.batchSize);
      if (rows.length > 0) {
        try {
          await this.settings.transport.publish(rows.map(toMessage));
        } catch (err) {
          this.fail(err, 'outbox relay could not publish; retrying');
          await this.sleep(FAILURE_BACKOFF.delayMs(this.failures, 0, Math.random));
          continue;
        }
        await deleteSent(db, this.settings.store.dialect, rows);
        for (const r of rows) this.expected.delete(r.id);
        this.sent += rows.length;
        this.lastSentAt = this.settings.now();
        this.failures = 0;
        this.lastError = null;
        if (rows.length === this.settings.batchSize) continue;
        await this.sleep(LINGER_MS, true);
        if (this.nudged) continue;
      } else if (this.nudged) {
        woken = true;
        continue;
      }
      if (this.pendingExpectations()) {
        await this.sleep(quickDelayMs);
        quickDelayMs = Math.min(quickDelayMs * 2, this.settings.pollIntervalMs);
      } else {
        quickDelayMs = LINGER_MS;
        await this.sleep(this.settings.pollIntervalMs);
      }
      woken = this.nudged;
    }
  }

  /** Whether a nudged id has not been seen yet and is still worth waiting for. */
  private pendingExpectations(): boolean {
    const now = this.settings.clock.now();
    for (const [id, until] of this.expected) if (until <= now) this.expected.delete(id);
    return this.expected.size > 0;
  }

  private fail(err: unknown, msg: string): void {
    this.failures++;
    this.lastError = messageOf(err);
    if (!this.stopping) this.settings.logger.error({ err, service: this.settings.store.service }, msg);
  }

  /** Waits `ms` of the clock, or less when nudged (unless `ignoreNudges`) or closing. */
  private sleep(ms: number, ignoreNudges = false): Promise<void> {
    if (this.stopping || (this.nudged && !ignoreNudges)) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        if (this.timer !== undefined) this.settings.clock.clearTimeout(this.timer);
        this.timer = undefined;
        this.wake = undefined;
        resolve();
      };
      this.wake = ignoreNudges ? () => (this.stopping ? done() : undefined) : done;
      this.timer = this.settings.clock.setTimeout(done, ms);
    });
  }
}

/**
 * The advisory lock of the relay: one per database and schema (advisory locks are per database;
 * the schema is part of the key, so services sharing a database in separate schemas do not
 * exclude each other). Computed by the server, so every version of the code agrees.
 */
const LOCK_KEY = sql`hashtextextended('flotilla_outbox_relay:' || current_schema(), 0)`;
