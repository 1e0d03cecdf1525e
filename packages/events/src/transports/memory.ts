import { type Clock, systemClock, type TimerHandle } from '@flotilla/resilience';
import type {
  Delivery,
  DeliveryHandler,
  SubscribeOptions,
  Subscription,
  Transport,
  TransportMessage,
} from '../transport.js';
import { TransportClosedError } from './errors.js';
import { partitionOf } from './partitioning.js';
import { runHandler } from './run-handler.js';
import {
  checkInteger,
  checkMessages,
  type ResolvedSubscription,
  resolveSubscription,
  throwIfAborted,
} from './validation.js';

/** Options of {@link memoryTransport}. */
export interface MemoryTransportOptions {
  /**
   * Time source of retry delays and ackWait deadlines; tests pass `manualClock()`.
   * @default systemClock
   */
  readonly clock?: Clock;
  /**
   * Number of partitions keys are hashed into; each is handled by one subscriber of a group at
   * a time. An integer in [1, 4096].
   * @default 16
   */
  readonly partitions?: number;
  /**
   * Most messages kept for replay (`startAt: 'beginning'`) and deduplication. Only messages every
   * known group has settled are discarded, so a slow group is never skipped; an integer >= 0.
   * @default 100000
   */
  readonly retainMessages?: number;
}

interface Stored {
  readonly seq: number;
  readonly message: TransportMessage;
}

/** One partition's retained messages; `dropped` counts those discarded from its front. */
interface PartitionLog {
  readonly items: Stored[];
  dropped: number;
}

/** A group's position in one partition. `next` is a partition-wide index (dropped included). */
interface Cursor {
  next: number;
  deliveries: number;
  notBefore: number;
  busy: boolean;
  timer: TimerHandle | undefined;
}

interface Member {
  readonly options: ResolvedSubscription;
  readonly handler: DeliveryHandler;
  readonly inFlight: Set<Promise<void>>;
  active: number;
  closing: boolean;
}

interface Group {
  readonly cursors: Cursor[];
  members: Member[];
  /** Topics of the current members (those of the last ones while none is subscribed). */
  topics: ReadonlySet<string>;
  rotor: number;
  pumpQueued: boolean;
}

/**
 * An in-process transport for tests and single-process use. It keeps the semantics of the
 * durable transports (per-key order through partitions, retries that block their key, ackWait
 * redelivery, competing subscribers, groups, replay, id deduplication) but stores nothing on
 * disk: `publish` resolves once the messages are in memory, and they die with the process.
 *
 * @example
 * const clock = manualClock();
 * const transport = memoryTransport({ clock });
 * await transport.subscribe({ group: 'shipping', topics: ['OrderConfirmed'] }, async (d) => ({ kind: 'ack' }));
 * await transport.publish([{ id: 'e1', topic: 'OrderConfirmed', key: 'order-1', payload: new Uint8Array() }]);
 */
export function memoryTransport(options: MemoryTransportOptions = {}): Transport {
  return new MemoryTransport(options);
}

class MemoryTransport implements Transport {
  readonly kind = 'memory';
  private readonly clock: Clock;
  private readonly partitions: number;
  private readonly retain: number;
  private readonly logs: PartitionLog[] = [];
  private readonly ids = new Set<string>();
  private readonly groups = new Map<string, Group>();
  private seq = 0;
  private retained = 0;
  private closed = false;

  constructor(options: MemoryTransportOptions) {
    if (typeof options !== 'object' || options === null)
      throw new TypeError('memoryTransport options must be an object');
    const { clock = systemClock, partitions = 16, retainMessages = 100_000 } = options;
    this.clock = clock;
    this.partitions = checkInteger('memoryTransport.partitions', partitions, 1, 4096);
    this.retain = checkInteger('memoryTransport.retainMessages', retainMessages, 0);
    for (let p = 0; p < this.partitions; p++) this.logs.push({ items: [], dropped: 0 });
  }

  async publish(messages: readonly TransportMessage[], signal?: AbortSignal): Promise<void> {
    if (this.closed) throw new TransportClosedError(this.kind);
    throwIfAborted(signal);
    checkMessages(messages);
    for (const m of messages) {
      if (this.ids.has(m.id)) continue;
      this.ids.add(m.id);
      // Copies, so a caller reusing its buffers cannot change what was "stored".
      const message: TransportMessage = {
        id: m.id,
        topic: m.topic,
        key: m.key,
        payload: new Uint8Array(m.payload),
        ...(m.headers === undefined ? {} : { headers: { ...m.headers } }),
      };
      this.logs[partitionOf(m.key, this.partitions)]!.items.push({ seq: ++this.seq, message });
      this.retained++;
    }
    for (const group of this.groups.values()) this.schedulePump(group);
  }

  async subscribe(options: SubscribeOptions, handler: DeliveryHandler): Promise<Subscription> {
    if (this.closed) throw new TransportClosedError(this.kind);
    const resolved = resolveSubscription(options, handler);
    let group = this.groups.get(resolved.group);
    if (group === undefined) {
      const cursors = this.logs.map(
        (log): Cursor => ({
          next: resolved.startAt === 'beginning' ? log.dropped : log.dropped + log.items.length,
          deliveries: 0,
          notBefore: 0,
          busy: false,
          timer: undefined,
        }),
      );
      group = { cursors, members: [], topics: resolved.topics, rotor: 0, pumpQueued: false };
      this.groups.set(resolved.group, group);
    }
    const member: Member = { options: resolved, handler, inFlight: new Set(), active: 0, closing: false };
    group.members = [...group.members, member];
    group.topics = unionOfTopics(group.members);
    this.schedulePump(group);
    const owner = group;
    let closing: Promise<void> | undefined;
    return {
      close: () => {
        closing ??= this.leave(owner, member);
        return closing;
      },
    };
  }

  async check(signal: AbortSignal): Promise<void> {
    throwIfAborted(signal);
    if (this.closed) throw new TransportClosedError(this.kind);
  }

  async lag(group: string, signal?: AbortSignal): Promise<number> {
    throwIfAborted(signal);
    if (this.closed) throw new TransportClosedError(this.kind);
    const g = this.groups.get(group);
    if (g === undefined) return 0;
    let lag = 0;
    for (let p = 0; p < this.partitions; p++) {
      const log = this.logs[p]!;
      for (let i = g.cursors[p]!.next - log.dropped; i < log.items.length; i++)
        if (g.topics.has(log.items[i]!.message.topic)) lag++;
    }
    return lag;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.groups.values()].flatMap((g) => g.members.map((m) => this.leave(g, m))));
    for (const g of this.groups.values())
      for (const c of g.cursors) if (c.timer !== undefined) this.clock.clearTimeout(c.timer);
  }

  private async leave(group: Group, member: Member): Promise<void> {
    member.closing = true;
    await Promise.all(member.inFlight);
    group.members = group.members.filter((m) => m !== member);
    if (group.members.length > 0) group.topics = unionOfTopics(group.members);
    this.schedulePump(group);
  }

  private schedulePump(group: Group): void {
    if (group.pumpQueued || group.members.length === 0) return;
    group.pumpQueued = true;
    queueMicrotask(() => {
      group.pumpQueued = false;
      this.pump(group);
    });
  }

  /** Starts a delivery on every idle partition that has a due message and a member with a free slot. */
  private pump(group: Group): void {
    const now = this.clock.now();
    for (let k = 0; k < this.partitions; k++) {
      const p = (group.rotor + k) % this.partitions;
      const cursor = group.cursors[p]!;
      if (cursor.busy) continue;
      const log = this.logs[p]!;
      let head = log.items[cursor.next - log.dropped];
      while (head !== undefined && !group.topics.has(head.message.topic)) {
        cursor.next++;
        cursor.deliveries = 0;
        cursor.notBefore = 0;
        head = log.items[cursor.next - log.dropped];
      }
      if (head === undefined) continue;
      if (cursor.notBefore > now) {
        this.wakeAt(group, cursor);
        continue;
      }
      const member = pickMember(group, head.message.topic);
      if (member === undefined) continue;
      this.deliver(group, cursor, member, head);
    }
    group.rotor = (group.rotor + 1) % this.partitions;
    this.trim();
  }

  private deliver(group: Group, cursor: Cursor, member: Member, stored: Stored): void {
    cursor.busy = true;
    cursor.deliveries++;
    member.active++;
    const delivery: Delivery = { ...stored.message, deliveryCount: cursor.deliveries, sequence: stored.seq };
    const done = runHandler(member.handler, delivery, this.clock, member.options.ackWaitMs).then(
      (outcome) => {
        member.active--;
        member.inFlight.delete(done);
        cursor.busy = false;
        switch (outcome.kind) {
          case 'ack':
          case 'drop':
            cursor.next++;
            cursor.deliveries = 0;
            cursor.notBefore = 0;
            break;
          case 'retry':
            cursor.notBefore = this.clock.now() + outcome.delayMs;
            break;
          case 'expired':
            // The handler hung: the message is given out again now; its late settlement is ignored.
            cursor.notBefore = 0;
            break;
          default:
            outcome satisfies never;
        }
        this.schedulePump(group);
      },
    );
    member.inFlight.add(done);
  }

  private wakeAt(group: Group, cursor: Cursor): void {
    if (cursor.timer !== undefined) return;
    cursor.timer = this.clock.setTimeout(
      () => {
        cursor.timer = undefined;
        this.schedulePump(group);
      },
      Math.max(0, cursor.notBefore - this.clock.now()),
    );
  }

  /** Discards the oldest messages past `retainMessages` that every group has settled. */
  private trim(): void {
    while (this.retained > this.retain) {
      let oldest: PartitionLog | undefined;
      for (let p = 0; p < this.partitions; p++) {
        const log = this.logs[p]!;
        const first = log.items[0];
        if (first === undefined || (oldest !== undefined && oldest.items[0]!.seq < first.seq)) continue;
        let settled = true;
        for (const g of this.groups.values()) if (g.cursors[p]!.next <= log.dropped) settled = false;
        if (settled) oldest = log;
      }
      if (oldest === undefined) return;
      this.ids.delete(oldest.items.shift()!.message.id);
      oldest.dropped++;
      this.retained--;
    }
  }
}

function unionOfTopics(members: readonly Member[]): ReadonlySet<string> {
  const topics = new Set<string>();
  for (const m of members) for (const t of m.options.topics) topics.add(t);
  return topics;
}

/** The first open member with a free slot that takes `topic`, rotating so members share the work. */
function pickMember(group: Group, topic: string): Member | undefined {
  const members = group.members;
  for (let i = 0; i < members.length; i++) {
    const m = members[i]!;
    if (m.closing || m.active >= m.options.concurrency || !m.options.topics.has(topic)) continue;
    // Move the chosen member to the back so the next partition goes to another one.
    group.members = [...members.slice(0, i), ...members.slice(i + 1), m];
    return m;
  }
  return undefined;
}
