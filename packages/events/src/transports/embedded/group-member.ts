import { randomUUID } from 'node:crypto';
import type { Clock, TimerHandle } from '@flotilla/resilience';
import type { DeliveryHandler, Subscription } from '../../transport.js';
import { Slots } from '../slots.js';
import type { ResolvedSubscription } from '../validation.js';
import type { AppendedRow, CursorRow, GroupView, LogStore } from './log-store.js';
import { PartitionWorker, type WorkerHost } from './partition-worker.js';
import { notifyRebalance } from './wake.js';

/** What a member needs from its transport. */
export interface MemberContext {
  readonly store: LogStore;
  readonly clock: Clock;
  readonly path: string;
  readonly partitions: number;
  readonly consumerId: string;
  readonly pollIntervalMs: number;
  readonly onError: (error: unknown) => void;
}

/** Longest time between heartbeats, so a joining member gets its share within seconds. */
const MAX_HEARTBEAT_MS = 2000;

/**
 * One subscription of the embedded transport: a member of its group that heartbeats, takes its
 * fair share of the group's partitions (about partitions / live members), gives extras back
 * after their in-flight delivery, takes over partitions whose owner stopped heartbeating, and
 * runs a {@link PartitionWorker} for each partition it holds (internal).
 */
export class GroupMember implements Subscription {
  readonly id: string;
  private readonly host: WorkerHost;
  private readonly workers = new Map<number, PartitionWorker>();
  private readonly releasing = new Set<number>();
  private readonly heartbeatMs: number;
  private heartbeat: TimerHandle | undefined;
  private rebalanceQueued = false;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly ctx: MemberContext,
    private readonly options: ResolvedSubscription,
    handler: DeliveryHandler,
    private readonly onClosed: (member: GroupMember) => void,
  ) {
    this.id = `${ctx.consumerId}/${randomUUID().slice(0, 8)}`;
    this.heartbeatMs = Math.min(MAX_HEARTBEAT_MS, options.ackWaitMs / 3);
    this.host = {
      store: ctx.store,
      clock: ctx.clock,
      group: options.group,
      memberId: this.id,
      topics: [...options.topics].sort(),
      handler,
      ackWaitMs: options.ackWaitMs,
      slots: new Slots(options.concurrency),
      retryAfterErrorMs: ctx.pollIntervalMs,
      onError: ctx.onError,
    };
  }

  get group(): string {
    return this.options.group;
  }

  /** Joins the group and claims a first share; throws when the log cannot be written. */
  start(): void {
    this.ctx.store.ensureGroup(
      this.options.group,
      this.host.topics,
      this.options.startAt,
      this.ctx.clock.now(),
    );
    this.rebalance();
    this.scheduleHeartbeat();
    notifyRebalance(this.ctx.path, this.options.group);
  }

  /** New messages may be in the log up to `high`. */
  onData(high: number): void {
    for (const w of this.workers.values()) w.onData(high);
  }

  /** These messages were appended: wakes the workers of their partitions that wait for their topics. */
  onAppended(rows: readonly AppendedRow[]): void {
    for (const row of rows)
      if (this.options.topics.has(row.topic)) this.workers.get(row.partition)?.onData(row.seq);
  }

  /** Another member in this process joined or gave partitions back: look again soon. */
  requestRebalance(): void {
    if (this.rebalanceQueued || this.closing !== undefined) return;
    this.rebalanceQueued = true;
    setImmediate(() => {
      this.rebalanceQueued = false;
      this.safely(() => this.rebalance());
    });
  }

  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    if (this.heartbeat !== undefined) this.ctx.clock.clearTimeout(this.heartbeat);
    for (const w of this.workers.values()) w.stop();
    await Promise.all([...this.workers.values()].map((w) => w.done));
    this.safely(() => this.ctx.store.leave(this.options.group, this.id));
    this.onClosed(this);
    notifyRebalance(this.ctx.path, this.options.group);
  }

  private scheduleHeartbeat(): void {
    this.heartbeat = this.ctx.clock.setTimeout(() => {
      if (this.closing !== undefined) return;
      this.safely(() => this.rebalance());
      this.scheduleHeartbeat();
    }, this.heartbeatMs);
  }

  private rebalance(): void {
    if (this.closing !== undefined) return;
    const now = this.ctx.clock.now();
    let lost: number[] = [];
    let release: number[] = [];
    let adopt: CursorRow[] = [];
    const claimed = this.ctx.store.rebalance(
      this.options.group,
      this.id,
      now,
      this.options.ackWaitMs,
      (view) => {
        const decision = this.decide(view, now);
        lost = decision.lost;
        release = decision.release;
        adopt = decision.adopt;
        return decision.claim;
      },
    );
    for (const p of lost) this.workers.get(p)?.abandon();
    for (const cursor of [...adopt, ...claimed]) this.startWorker(cursor);
    for (const p of release) {
      this.releasing.add(p);
      this.workers.get(p)?.stop();
    }
  }

  /** Which partitions to claim, to give back, and which local workers lost their lease. */
  private decide(view: GroupView, now: number) {
    const { members, cursors } = view;
    const P = this.ctx.partitions;
    const index = Math.max(0, members.indexOf(this.id));
    const target = Math.floor(P / members.length) + (index < P % members.length ? 1 : 0);
    const mine = cursors.filter((c) => c.owner === this.id);
    const owned = new Set(mine.map((c) => c.partition));
    const lost = [...this.workers.keys()].filter((p) => !owned.has(p));
    // A partition we hold without a worker (its worker failed to start): run it.
    const adopt = mine.filter((c) => !this.workers.has(c.partition));
    const kept = mine.filter((c) => !this.releasing.has(c.partition));
    let release: number[] = [];
    let claim: number[] = [];
    if (kept.length > target) {
      // Give back idle partitions first so a busy one finishes where it is.
      release = kept
        .map((c) => c.partition)
        .sort(
          (a, b) =>
            Number(this.workers.get(a)?.busy ?? false) - Number(this.workers.get(b)?.busy ?? false) || b - a,
        )
        .slice(0, kept.length - target);
    } else if (kept.length < target) {
      claim = cursors
        .filter((c) => c.owner === null || c.lease_until < now)
        .slice(0, target - kept.length)
        .map((c) => c.partition);
    }
    return { lost, adopt, release, claim };
  }

  private startWorker(cursor: CursorRow): void {
    if (this.workers.has(cursor.partition)) return;
    const worker = new PartitionWorker(this.host, cursor.partition, cursor);
    this.workers.set(cursor.partition, worker);
    void worker.done.then(() => {
      this.workers.delete(cursor.partition);
      if (this.releasing.delete(cursor.partition)) notifyRebalance(this.ctx.path, this.options.group);
    });
  }

  private safely(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.ctx.onError(err);
    }
  }
}
