import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { type Clock, systemClock, type TimerHandle } from '@flotilla/resilience';
import type {
  DeliveryHandler,
  SubscribeOptions,
  Subscription,
  Transport,
  TransportMessage,
} from '../../transport.js';
import { TransportClosedError, TransportUnavailableError } from '../errors.js';
import {
  checkDuration,
  checkInteger,
  checkMessages,
  resolveSubscription,
  throwIfAborted,
} from '../validation.js';
import { GroupMember } from './group-member.js';
import { LogStore } from './log-store.js';
import { openDatabase, type SqliteDatabase } from './sqlite.js';
import { Doorbells, listenLocally, notifyData } from './wake.js';

/** Options of {@link embeddedTransport}. */
export interface EmbeddedTransportOptions {
  /**
   * The log's SQLite file, shared by every process of the bus on this machine and owned by the
   * bus, not by a service, e.g. `.flotilla/data/bus.db`. Its directory is created when missing.
   */
  readonly path: string;
  /**
   * Number of partitions keys are hashed into, fixed when the log is created: opening a log with
   * another count fails with `IncompatibleTransportError`. An integer in [1, 1024].
   * @default 16
   */
  readonly partitions?: number;
  /**
   * Time source. Its `now()` must be wall-clock milliseconds (like `Date.now()`), because the
   * processes sharing the log compare leases and retry times by it.
   * @default Date.now with unref'd Node timers
   */
  readonly clock?: Clock;
  /**
   * How often subscribers look for new messages when no wake-up came (same-process publishes
   * wake them at once, other processes' through watched doorbell files, one per topic in
   * `<path>-topics`, that publishers touch after each append), in milliseconds.
   * @default 500
   */
  readonly pollIntervalMs?: number;
  /**
   * How long messages are kept, in milliseconds, whether or not every group has consumed them
   * (like Kafka's retention); also how long an id is remembered for deduplication. `Infinity`
   * keeps everything.
   * @default 604800000 (7 days)
   */
  readonly retentionMs?: number;
  /**
   * Names this process in the members table (a random suffix is added per subscription).
   * @default `${hostname()}:${process.pid}`
   */
  readonly consumerId?: string;
  /**
   * SQLite's `synchronous` mode. `'normal'`: a published message survives the crash of any
   * process; the last transactions before a power loss or OS crash may be lost. `'full'`: fsync
   * on every commit, so they survive that too, at a large cost in publish rate.
   * @default 'normal'
   */
  readonly synchronous?: 'normal' | 'full';
  /**
   * How long a write waits for another process's write lock before failing, in milliseconds.
   * @default 5000
   */
  readonly busyTimeoutMs?: number;
  /**
   * Receives errors of background work (polling, heartbeats, retention) that the transport
   * retries by itself.
   * @default writes them to `console.error`
   */
  readonly onError?: (error: unknown) => void;
}

const wallClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, delayMs) => systemClock.setTimeout(callback, delayMs),
  clearTimeout: (handle) => systemClock.clearTimeout(handle),
};

const RETENTION_BATCH = 500;
/** Messages a wake-up looks at to find whom to wake; with more, it wakes every worker. */
const WAKE_LOOK_LIMIT = 256;

/**
 * A durable transport for several processes on one machine with no server: an append-only log
 * in one WAL-mode SQLite file, per-(group, partition) cursors, and leases that give each
 * partition to one live subscriber of a group at a time.
 *
 * @example
 * const transport = embeddedTransport({ path: '.flotilla/data/bus.db' });
 * await transport.subscribe({ group: 'shipping', topics: ['OrderConfirmed'] }, async (d) => ({ kind: 'ack' }));
 * await transport.publish([{ id: 'e1', topic: 'OrderConfirmed', key: 'order-1', payload: new Uint8Array() }]);
 */
export function embeddedTransport(options: EmbeddedTransportOptions): Transport {
  return new EmbeddedTransport(options);
}

class EmbeddedTransport implements Transport {
  readonly kind = 'embedded';
  private readonly path: string;
  private readonly clock: Clock;
  private readonly partitions: number;
  private readonly pollIntervalMs: number;
  private readonly retentionMs: number;
  private readonly consumerId: string;
  private readonly onError: (error: unknown) => void;
  private readonly db: SqliteDatabase;
  private readonly store: LogStore;
  private readonly members = new Set<GroupMember>();
  private readonly unlisten: () => void;
  private readonly doorbells: Doorbells;
  private pollTimer: TimerHandle | undefined;
  private retentionTimer: TimerHandle | undefined;
  private wakeQueued = false;
  private wakeEveryone = false;
  /** The last sequence a wake-up has looked at (-1: none yet, so the first one wakes everyone). */
  private seenSeq = -1;
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(options: EmbeddedTransportOptions) {
    if (typeof options !== 'object' || options === null)
      throw new TypeError('embeddedTransport options must be an object');
    const {
      path,
      partitions = 16,
      clock = wallClock,
      pollIntervalMs = 500,
      retentionMs = 7 * 24 * 3600 * 1000,
      consumerId = `${hostname()}:${process.pid}`,
      synchronous = 'normal',
      busyTimeoutMs = 5000,
      onError = (error: unknown) => console.error('[flotilla embedded transport]', error),
    } = options;
    if (typeof path !== 'string' || path.length === 0 || path === ':memory:')
      throw new RangeError(`embeddedTransport.path must be a file path, got ${JSON.stringify(path)}`);
    this.partitions = checkInteger('embeddedTransport.partitions', partitions, 1, 1024);
    this.pollIntervalMs = checkDuration('embeddedTransport.pollIntervalMs', pollIntervalMs);
    this.retentionMs = checkDuration('embeddedTransport.retentionMs', retentionMs, true);
    checkInteger('embeddedTransport.busyTimeoutMs', busyTimeoutMs, 0, 2_147_483_647);
    if (synchronous !== 'normal' && synchronous !== 'full')
      throw new RangeError(
        `embeddedTransport.synchronous must be 'normal' or 'full', got ${String(synchronous)}`,
      );
    if (typeof consumerId !== 'string' || consumerId.length === 0)
      throw new RangeError(
        `embeddedTransport.consumerId must be a non-empty string, got ${String(consumerId)}`,
      );
    this.path = resolve(path);
    this.clock = clock;
    this.consumerId = consumerId;
    this.onError = onError;
    mkdirSync(dirname(this.path), { recursive: true });
    this.db = openDatabase(this.path, busyTimeoutMs, synchronous);
    try {
      this.store = new LogStore(this.db, this.path, this.partitions);
    } catch (err) {
      this.db.close();
      throw err;
    }
    this.doorbells = new Doorbells(this.path, onError);
    this.unlisten = listenLocally(this.path, {
      data: () => this.wake(),
      rebalance: (group) => {
        for (const m of this.members) if (m.group === group) m.requestRebalance();
      },
    });
    if (Number.isFinite(this.retentionMs)) this.scheduleRetention(0);
  }

  async publish(messages: readonly TransportMessage[], signal?: AbortSignal): Promise<void> {
    if (this.closed) throw new TransportClosedError(this.kind);
    throwIfAborted(signal);
    checkMessages(messages);
    if (messages.length === 0) return;
    try {
      this.store.publish(messages, this.clock.now());
    } catch (err) {
      throw new TransportUnavailableError(this.kind, 'publish', errorMessage(err), { cause: err });
    }
    notifyData(this.path);
    this.doorbells.ring(new Set(messages.map((m) => m.topic)));
  }

  async subscribe(options: SubscribeOptions, handler: DeliveryHandler): Promise<Subscription> {
    if (this.closed) throw new TransportClosedError(this.kind);
    const resolved = resolveSubscription(options, handler);
    const member = new GroupMember(
      {
        store: this.store,
        clock: this.clock,
        path: this.path,
        partitions: this.partitions,
        consumerId: this.consumerId,
        pollIntervalMs: this.pollIntervalMs,
        onError: this.onError,
      },
      resolved,
      handler,
      (m) => this.members.delete(m),
    );
    try {
      member.start();
    } catch (err) {
      await member.close();
      throw new TransportUnavailableError(this.kind, 'subscribe', errorMessage(err), { cause: err });
    }
    this.members.add(member);
    this.doorbells.watch(resolved.topics, () => this.wake());
    if (this.pollTimer === undefined) this.schedulePoll();
    return member;
  }

  async check(signal: AbortSignal): Promise<void> {
    throwIfAborted(signal);
    if (this.closed) throw new TransportClosedError(this.kind);
    try {
      this.store.highWater();
    } catch (err) {
      throw new TransportUnavailableError(this.kind, 'check', errorMessage(err), { cause: err });
    }
  }

  async lag(group: string, signal?: AbortSignal): Promise<number> {
    throwIfAborted(signal);
    if (this.closed) throw new TransportClosedError(this.kind);
    return this.store.lag(group);
  }

  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.members].map((m) => m.close()));
    for (const timer of [this.pollTimer, this.retentionTimer])
      if (timer !== undefined) this.clock.clearTimeout(timer);
    this.doorbells.close();
    this.unlisten();
    this.db.close();
  }

  /**
   * Coalesces wake-ups (one per event-loop turn). After a publish, reads where the new messages
   * went (sequence, partition and topic only) and wakes just the workers of those partitions
   * whose group takes those topics: with a dozen groups of 16 partitions in a process, waking
   * every idle worker would cost each of them a read of the log per publish. The poll, or more
   * new messages than one look covers, wakes every worker behind the log's high-water mark.
   */
  private wake(everyone = false): void {
    if (everyone) this.wakeEveryone = true;
    if (this.wakeQueued || this.members.size === 0) return;
    this.wakeQueued = true;
    setImmediate(() => {
      this.wakeQueued = false;
      const all = this.wakeEveryone;
      this.wakeEveryone = false;
      if (this.closed) return;
      try {
        const rows = all || this.seenSeq < 0 ? [] : this.store.appendedAfter(this.seenSeq, WAKE_LOOK_LIMIT);
        if (all || this.seenSeq < 0 || rows.length === WAKE_LOOK_LIMIT) {
          const high = this.store.highWater();
          for (const m of this.members) m.onData(high);
          this.seenSeq = Math.max(this.seenSeq, high);
        } else if (rows.length > 0) {
          for (const m of this.members) m.onAppended(rows);
          this.seenSeq = rows[rows.length - 1]!.seq;
        }
      } catch (err) {
        this.onError(err);
      }
    });
  }

  private schedulePoll(): void {
    this.pollTimer = this.clock.setTimeout(() => {
      if (this.closed) return;
      this.wake(true);
      this.schedulePoll();
    }, this.pollIntervalMs);
  }

  private scheduleRetention(delayMs: number): void {
    this.retentionTimer = this.clock.setTimeout(() => this.runRetention(), delayMs);
  }

  /** Deletes expired messages in small batches, one per event-loop turn, then sleeps. */
  private runRetention(): void {
    if (this.closed) return;
    let deleted = 0;
    try {
      deleted = this.store.deleteOlderThan(this.clock.now() - this.retentionMs, RETENTION_BATCH);
    } catch (err) {
      this.onError(err);
    }
    if (deleted === RETENTION_BATCH) setImmediate(() => this.runRetention());
    else this.scheduleRetention(Math.min(60_000, Math.max(1000, this.retentionMs / 10)));
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
