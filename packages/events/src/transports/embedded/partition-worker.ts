import type { Clock, TimerHandle } from '@flotilla/resilience';
import type { Delivery, DeliveryHandler } from '../../transport.js';
import { runHandler } from '../run-handler.js';
import type { Slots } from '../slots.js';
import type { CursorRow, LogRow, LogStore } from './log-store.js';

/** Messages read from the log at once per partition. */
const FETCH_BATCH = 100;

/** What a partition worker needs from the member that owns it. */
export interface WorkerHost {
  readonly store: LogStore;
  readonly clock: Clock;
  readonly group: string;
  readonly memberId: string;
  readonly topics: readonly string[];
  readonly handler: DeliveryHandler;
  readonly ackWaitMs: number;
  readonly slots: Slots;
  readonly retryAfterErrorMs: number;
  readonly onError: (error: unknown) => void;
}

/**
 * Handles one partition of one group while its member holds the lease: reads the log after the
 * cursor, delivers one message at a time, and records each step in the cursor row so that
 * whoever holds the partition next continues exactly there (internal).
 *
 * Cursor writes are folded together: starting a delivery also records the settlement of the
 * previous one, so a busy partition costs one small write per message. The write that starts
 * a delivery happens before the handler runs; a process killed mid-handler therefore leaves the
 * message in flight with its delivery count, and the next owner delivers it with count + 1.
 */
export class PartitionWorker {
  /** Resolves once the worker has stopped and, unless it lost the lease, released it. */
  readonly done: Promise<void>;
  /** True while a handler runs. */
  busy = false;
  private settled: number;
  private persisted: number;
  /** The last message of our topics settled here (0: none). */
  private lastDelivered = 0;
  private inflightSeq: number | null;
  private deliveries: number;
  private notBefore: number;
  private buffer: LogRow[] = [];
  private head = 0;
  private highAfterBuffer = 0;
  private lost = false;
  private readonly stopping = new AbortController();
  private wake: (() => void) | undefined;
  private waitingForData = false;

  constructor(
    private readonly host: WorkerHost,
    readonly partition: number,
    cursor: CursorRow,
  ) {
    this.settled = this.persisted = cursor.acked_seq;
    this.inflightSeq = cursor.inflight_seq;
    this.deliveries = cursor.delivery_count;
    this.notBefore = cursor.not_before;
    this.done = this.run();
  }

  /** Finish the delivery in progress, record it, and give the partition back. */
  stop(): void {
    this.stopping.abort();
    this.wake?.();
  }

  /** The lease was taken over: stop without writing anything (the new owner's cursor rules). */
  abandon(): void {
    this.lost = true;
    this.stop();
  }

  /** The log's sequence counter reached `high`: wake up if waiting for messages past `settled`. */
  onData(high: number): void {
    if (this.waitingForData && high > this.settled) this.wake?.();
  }

  private async run(): Promise<void> {
    while (!this.stopping.signal.aborted) {
      try {
        await this.step();
      } catch (err) {
        // SQLITE_BUSY past the busy timeout, a full disk: report, wait, and try again.
        this.host.onError(err);
        await this.sleep(this.host.retryAfterErrorMs, false);
      }
    }
    if (this.lost) return;
    try {
      if (this.inflightSeq === null && this.settled > this.persisted)
        await this.host.store.settle(this.host.group, this.partition, this.host.memberId, this.settled);
      this.host.store.release(this.host.group, this.partition, this.host.memberId);
    } catch (err) {
      // The lease then simply expires and the next owner repeats at most the unrecorded settlements.
      this.host.onError(err);
    }
  }

  private async step(): Promise<void> {
    const { store, clock, group, memberId } = this.host;
    if (this.head >= this.buffer.length) {
      const { rows, high } = store.fetch(this.partition, this.settled, this.host.topics, FETCH_BATCH);
      if (rows.length === 0) {
        // Nothing of our topics up to `high`: move past it (also past an in-flight message that
        // retention deleted). A delivered message's settlement is recorded before going idle;
        // having skipped other topics' messages is not worth a write (a next owner skips them
        // again), so an uninterested group does not write its cursor for every message.
        this.settled = Math.max(this.settled, high);
        const recorded = this.inflightSeq === null && this.lastDelivered <= this.persisted;
        this.inflightSeq = null;
        if (!recorded) await this.flush();
        await this.sleep(0, true);
        return;
      }
      this.buffer = rows;
      this.head = 0;
      this.highAfterBuffer = high;
    }
    const row = this.buffer[this.head]!;
    if (this.inflightSeq !== row.seq) {
      this.inflightSeq = null;
      this.deliveries = 0;
      this.notBefore = 0;
    }
    const wait = this.notBefore - clock.now();
    if (wait > 0) {
      await this.sleep(wait, false);
      return;
    }
    if (!(await this.host.slots.acquire(this.stopping.signal))) return;
    let outcome: Awaited<ReturnType<typeof runHandler>>;
    try {
      const count = this.deliveries + 1;
      if (!(await store.begin(group, this.partition, memberId, this.settled, row.seq, count))) {
        this.abandon();
        return;
      }
      this.persisted = this.settled;
      this.inflightSeq = row.seq;
      this.deliveries = count;
      this.busy = true;
      outcome = await runHandler(this.host.handler, toDelivery(row, count), clock, this.host.ackWaitMs);
    } finally {
      this.busy = false;
      this.host.slots.release();
    }
    switch (outcome.kind) {
      case 'ack':
      case 'drop':
        this.settled = this.lastDelivered = row.seq;
        this.inflightSeq = null;
        this.deliveries = 0;
        this.notBefore = 0;
        if (++this.head >= this.buffer.length) this.settled = Math.max(this.settled, this.highAfterBuffer);
        break;
      case 'retry':
        this.notBefore = clock.now() + outcome.delayMs;
        if (!store.retry(group, this.partition, memberId, this.notBefore)) this.abandon();
        break;
      case 'expired':
        // The handler hung: deliver again now (the count is already recorded); its late settlement is ignored.
        break;
      default:
        outcome satisfies never;
    }
  }

  /** Records settlements not yet written; gives up the partition when someone else holds it. */
  private async flush(): Promise<void> {
    if (this.settled <= this.persisted) return;
    const settled = this.settled;
    if (await this.host.store.settle(this.host.group, this.partition, this.host.memberId, settled))
      this.persisted = Math.max(this.persisted, settled);
    else this.abandon();
  }

  /** Waits `ms` (or, `forData`, until the member reports new messages), or until stopped. */
  private sleep(ms: number, forData: boolean): Promise<void> {
    if (this.stopping.signal.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      let timer: TimerHandle | undefined;
      this.waitingForData = forData;
      this.wake = () => {
        this.wake = undefined;
        this.waitingForData = false;
        if (timer !== undefined) this.host.clock.clearTimeout(timer);
        resolve();
      };
      if (!forData) timer = this.host.clock.setTimeout(() => this.wake?.(), ms);
    });
  }
}

function toDelivery(row: LogRow, deliveryCount: number): Delivery {
  const delivery: Delivery = {
    id: row.id,
    topic: row.topic,
    key: row.key,
    payload: row.payload,
    deliveryCount,
    sequence: row.seq,
  };
  return row.headers === null
    ? delivery
    : { ...delivery, headers: JSON.parse(row.headers) as Readonly<Record<string, string>> };
}
