import type { ActiveSpan } from '@flotilla/service';
import type { Tx } from '@flotilla/store';
import { type DeadLetterReason, type ReplayResult, recordDeadLetter } from './dead-letters.js';
import { readEventData } from './define-event.js';
import { decodeEnvelope, type EventEnvelope, payloadText } from './envelope.js';
import { EventValidationError, isUnsupportedSchemaVersionError } from './errors.js';
import { type ConsumerSettings, claimInbox, endSpan, invokeHandler } from './handler-invocation.js';
import type { DeadLetterTable } from './migrations.js';
import type { EventsDb } from './outbox.js';
import { replayDeadLetter } from './replay.js';
import { GroupCounters } from './stats.js';
import type { Delivery, Settlement, Subscription } from './transport.js';

const ACK: Settlement = { kind: 'ack' };
const DROP: Settlement = { kind: 'drop' };
/** Retry delay when recording a dead letter failed (the database is likely down). */
const DEAD_LETTER_RETRY_MS = 1000;
/** Most retry delays remembered for decorrelated backoffs; older ones are forgotten first. */
const MAX_REMEMBERED_DELAYS = 10_000;
/** Most events whose inbox inserts and handlers share one transaction. */
const MAX_BATCH = 64;

/** A decoded delivery waiting for its transaction. */
interface Pending {
  readonly delivery: Delivery;
  readonly event: EventEnvelope;
  readonly text: string | undefined;
  /** Clock time the delivery arrived. */
  readonly arrived: number;
  readonly settle: (settlement: Settlement) => void;
}

/** Thrown out of a batch transaction to say whose handler failed. */
class HandlerFailure {
  constructor(
    readonly item: Pending,
    readonly cause: unknown,
  ) {}
}

/**
 * One subscription of the bus: turns each delivery into a validated, upcast event, runs the
 * handler in a store transaction with the inbox insert, and settles the delivery (internal).
 *
 * Deliveries that arrive while a transaction is running (different keys: the transport hands
 * out one event per key at a time) are handled together in the next one, each handler after
 * the other, with one multi-row inbox insert and one commit: group commit. If a handler throws,
 * the batch rolls back; that event is retried as usual and the others run again one per
 * transaction, so one failing handler never fails or delays the others' settlement for long.
 */
export class GroupConsumer<DB> {
  readonly counters = new GroupCounters();
  private subscription: Subscription | undefined;
  private readonly lastDelay = new Map<string, number>();
  private queue: Pending[] = [];
  private running = 0;
  private dispatchQueued = false;
  private readonly maxRunning: number;

  constructor(private readonly settings: ConsumerSettings<DB>) {
    // SQLite runs one transaction at a time per store anyway; PostgreSQL overlaps a few.
    this.maxRunning = settings.store.dialect === 'postgres' ? 4 : 1;
  }

  get group(): string {
    return this.settings.group;
  }

  async start(): Promise<void> {
    const s = this.settings;
    this.subscription = await s.transport.subscribe(
      {
        group: s.group,
        topics: [...s.contracts.keys()],
        startAt: s.startAt,
        concurrency: s.concurrency,
        ackWaitMs: s.ackWaitMs,
      },
      (delivery) => this.onDelivery(delivery),
    );
  }

  /** Stops taking deliveries and waits for the handlers in flight. */
  async close(): Promise<void> {
    const subscription = this.subscription;
    this.subscription = undefined;
    await subscription?.close();
  }

  /** Replays a dead letter of this group (see `DeadLetters.replay`). */
  async replay(row: DeadLetterTable): Promise<ReplayResult> {
    const result = await replayDeadLetter(this.settings, row, (text, topic) => this.read(text, topic));
    this.counters.handled++;
    return result;
  }

  private onDelivery(delivery: Delivery): Promise<Settlement> {
    const text = payloadText(delivery.payload);
    let event: EventEnvelope;
    try {
      event = this.read(text, delivery.topic);
    } catch (err) {
      const eventId = idOf(text) ?? delivery.id;
      if (isUnsupportedSchemaVersionError(err)) return this.failed(delivery, eventId, text, err);
      return this.deadLetter(delivery, eventId, text, err, 'poison');
    }
    return new Promise<Settlement>((settle) => {
      this.queue.push({ delivery, event, text, arrived: this.settings.clock.now(), settle });
      // Deliveries handed out in the same turn of the event loop join one batch.
      if (!this.dispatchQueued) {
        this.dispatchQueued = true;
        queueMicrotask(() => {
          this.dispatchQueued = false;
          this.dispatch();
        });
      }
    });
  }

  private dispatch(): void {
    while (this.running < this.maxRunning && this.queue.length > 0) {
      const batch = this.queue.length <= MAX_BATCH ? this.queue : this.queue.slice(0, MAX_BATCH);
      this.queue = this.queue.length <= MAX_BATCH ? [] : this.queue.slice(MAX_BATCH);
      this.running++;
      void this.runBatch(batch).finally(() => {
        this.running--;
        this.dispatch();
      });
    }
  }

  private async runBatch(batch: readonly Pending[]): Promise<void> {
    if (batch.length === 1) {
      await this.runAlone(batch[0]!);
      return;
    }
    const s = this.settings;
    const spans: (ActiveSpan | undefined)[] = [];
    const handled = new Set<Pending>();
    try {
      await s.store.transaction(async (tx) => {
        const fresh = await claimInbox(
          tx as unknown as EventsDb,
          s.store.dialect,
          s.group,
          [...new Set(batch.map((p) => p.event.id))],
          s.now(),
        );
        for (const item of batch) {
          // A second copy of one event in the batch finds its id claimed by the first.
          if (!fresh.delete(item.event.id)) continue;
          try {
            spans.push(await invokeHandler(s, tx, item.event, item.delivery.deliveryCount));
          } catch (err) {
            throw new HandlerFailure(item, err);
          }
          handled.add(item);
        }
      });
    } catch (err) {
      for (const span of spans) endSpan(span, err instanceof HandlerFailure ? err.cause : err);
      const rest = err instanceof HandlerFailure ? batch.filter((p) => p !== err.item) : batch;
      if (err instanceof HandlerFailure)
        err.item.settle(await this.failed(err.item.delivery, err.item.event.id, err.item.text, err.cause));
      await Promise.all(rest.map((item) => this.runAlone(item)));
      return;
    }
    for (const span of spans) endSpan(span);
    for (const item of batch) this.succeeded(item, handled.has(item));
  }

  /** Handles one event in a transaction of its own. */
  private async runAlone(item: Pending): Promise<void> {
    const s = this.settings;
    let span: ActiveSpan | undefined;
    try {
      const claimed = await s.store.transaction(async (tx) => {
        const fresh = await claimInbox(
          tx as unknown as EventsDb,
          s.store.dialect,
          s.group,
          [item.event.id],
          s.now(),
        );
        if (fresh.size === 0) return false;
        span = await invokeHandler(s, tx as Tx<DB>, item.event, item.delivery.deliveryCount);
        return true;
      });
      endSpan(span);
      this.succeeded(item, claimed);
    } catch (err) {
      endSpan(span, err);
      item.settle(await this.failed(item.delivery, item.event.id, item.text, err));
    }
  }

  /** Acknowledges a committed event: handled now, or found in the inbox (a duplicate). */
  private succeeded(item: Pending, handled: boolean): void {
    const s = this.settings;
    if (handled) {
      this.counters.handled++;
      this.counters.handlerLatency.record(s.clock.now() - item.arrived);
      const published = Date.parse(item.event.time);
      if (Number.isFinite(published)) this.counters.endToEndLatency.record(s.now() - published);
    } else {
      this.counters.duplicates++;
      s.logger.debug(
        {
          group: s.group,
          eventId: item.event.id,
          type: item.event.type,
          deliveryCount: item.delivery.deliveryCount,
        },
        'duplicate event acknowledged without running the handler',
      );
    }
    if (this.lastDelay.size > 0) this.lastDelay.delete(item.event.id);
    item.settle(ACK);
  }

  /** Decodes, upcasts and validates an envelope of this group's contracts. */
  private read(text: string | undefined, topic: string): EventEnvelope {
    const envelope = decodeEnvelope(text, topic);
    const contract = this.settings.contracts.get(envelope.type);
    if (contract === undefined)
      throw new EventValidationError(envelope.type, 'receive', [
        { path: 'type', message: `group ${this.settings.group} has no contract for ${envelope.type}` },
      ]);
    const data = readEventData(contract, envelope.schemaversion, envelope.data);
    return { ...envelope, schemaversion: contract.version, data };
  }

  /** A failed attempt: retry with backoff, or dead-letter after `maxAttempts`. */
  private async failed(
    delivery: Delivery,
    eventId: string,
    text: string | undefined,
    err: unknown,
  ): Promise<Settlement> {
    const s = this.settings;
    this.counters.failed++;
    if (delivery.deliveryCount >= s.maxAttempts) {
      this.lastDelay.delete(eventId);
      return this.deadLetter(delivery, eventId, text, err, 'handler-failed');
    }
    const delayMs = Math.max(
      0,
      s.backoff.delayMs(delivery.deliveryCount, this.lastDelay.get(eventId) ?? 0, s.random),
    );
    if (this.lastDelay.size >= MAX_REMEMBERED_DELAYS)
      this.lastDelay.delete(this.lastDelay.keys().next().value!);
    this.lastDelay.set(eventId, delayMs);
    s.logger.warn(
      {
        err,
        group: s.group,
        eventId,
        type: delivery.topic,
        deliveryCount: delivery.deliveryCount,
        maxAttempts: s.maxAttempts,
        delayMs,
      },
      'event handler failed; retrying',
    );
    return { kind: 'retry', delayMs };
  }

  /** Records a dead letter with its inbox row and drops the delivery; retries if that fails. */
  private async deadLetter(
    delivery: Delivery,
    eventId: string,
    text: string | undefined,
    err: unknown,
    reason: DeadLetterReason,
  ): Promise<Settlement> {
    const s = this.settings;
    try {
      const recorded = await s.store.transaction((tx) =>
        recordDeadLetter(tx as unknown as EventsDb, {
          group: s.group,
          eventId,
          eventType: delivery.topic,
          subject: delivery.key,
          payload: text ?? Buffer.from(delivery.payload).toString('utf8'),
          reason,
          error: err,
          attempts: delivery.deliveryCount,
          now: s.now(),
        }),
      );
      if (recorded) {
        if (reason === 'poison') this.counters.poison++;
        else this.counters.deadLettered++;
        s.logger.warn(
          { err, group: s.group, eventId, type: delivery.topic, reason, attempts: delivery.deliveryCount },
          reason === 'poison'
            ? 'malformed event dead-lettered'
            : 'event dead-lettered after its last attempt',
        );
      } else this.counters.duplicates++;
      return DROP;
    } catch (recordErr) {
      s.logger.error(
        { err: recordErr, group: s.group, eventId, type: delivery.topic },
        'could not record a dead letter; retrying the event',
      );
      return { kind: 'retry', delayMs: DEAD_LETTER_RETRY_MS };
    }
  }
}

/** The `id` of a JSON envelope that failed validation, when it has a usable one. */
function idOf(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  try {
    const id = (JSON.parse(text) as { id?: unknown } | null)?.id;
    return typeof id === 'string' && id.length > 0 && id.length <= 256 ? id : undefined;
  } catch {
    return undefined;
  }
}
