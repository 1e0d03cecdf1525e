import type { Backoff, Clock, RandomSource } from '@flotilla/resilience';
import { type ActiveSpan, childContext, parseTraceparent, type TraceContext } from '@flotilla/service';
import type { Store, StoreDialect, Tx } from '@flotilla/store';
import { sql } from 'kysely';
import type { EventTracer } from './bus-options.js';
import type { AnyEventContract } from './define-event.js';
import type { EventEnvelope } from './envelope.js';
import { messageOf } from './errors.js';
import type { EventsLogger } from './logger.js';
import type { EventsDb } from './outbox.js';
import type { Transport } from './transport.js';

/** What a handler gets besides the event. */
export interface HandlerContext<DB> {
  /**
   * The transaction of the service's store the handler runs in. It also records the event in
   * the inbox: commit means "handled", and a redelivery is then acknowledged without a call.
   * It may be shared with other events' handlers of the same subscription (their inbox inserts
   * are committed together); a handler that throws rolls back only its own event's work, as the
   * others are then run again in transactions of their own.
   */
  readonly tx: Tx<DB>;
  /** A consumer span, child of the event's `traceparent`: pass it on to calls and events. */
  readonly trace: TraceContext;
  /** The bus's logger with the event's id, type, group and trace id bound (when a logger was given). */
  readonly log?: EventsLogger;
  /** 1 on the first delivery, 2, 3… on retries; a replay of a dead letter counts on. */
  readonly deliveryCount: number;
  /** The consumer group. */
  readonly group: string;
}

/** Handles one event of a subscription inside the service's transaction; throwing rolls back and retries. */
export type EventHandler<DB, E> = (event: E, ctx: HandlerContext<DB>) => Promise<void>;

/** A resolved subscription with everything it needs (internal). */
export interface ConsumerSettings<DB> {
  readonly service: string;
  readonly store: Store<DB>;
  readonly transport: Transport;
  readonly logger: EventsLogger;
  /** Only when the caller gave one: handlers then get `ctx.log`. */
  readonly handlerLogger: EventsLogger | undefined;
  readonly tracer: EventTracer | undefined;
  readonly clock: Clock;
  readonly now: () => number;
  readonly random: RandomSource;
  readonly group: string;
  readonly contracts: ReadonlyMap<string, AnyEventContract>;
  readonly handler: EventHandler<DB, EventEnvelope>;
  readonly maxAttempts: number;
  readonly backoff: Backoff;
  readonly concurrency: number;
  readonly startAt: 'new' | 'beginning';
  readonly ackWaitMs: number;
}

/**
 * Records `ids` in the group's inbox within `tx` and returns those that were not there yet
 * (the others were handled or dead-lettered before: their delivery is a duplicate). On
 * PostgreSQL one SQL text serves every batch size (the ids as one array), so it is prepared once.
 */
export async function claimInbox(
  tx: EventsDb,
  dialect: StoreDialect,
  group: string,
  ids: readonly string[],
  now: number,
): Promise<Set<string>> {
  const { rows: inserted } =
    dialect === 'postgres'
      ? await sql<{
          event_id: string;
        }>`insert into flotilla_inbox (grp, event_id, outcome, handled_at) select ${group}::text, id, 'handled', ${now}::bigint from unnest(${ids}::text[]) as claimed(id) on conflict (grp, event_id) do nothing returning event_id`.execute(
          tx,
        )
      : await sql<{
          event_id: string;
        }>`insert into flotilla_inbox (grp, event_id, outcome, handled_at) values ${sql.join(
          ids.map((id) => sql`(${group}, ${id}, 'handled', ${now})`),
        )} on conflict (grp, event_id) do nothing returning event_id`.execute(tx);
  return new Set(inserted.map((r) => r.event_id));
}

/**
 * Calls the handler for `event` in `tx` inside a consumer span (child of the event's
 * traceparent). Returns the span, still open, for the caller to end once the transaction
 * settled; on a throw the span is ended with status error and the error is rethrown.
 */
export async function invokeHandler<DB>(
  s: ConsumerSettings<DB>,
  tx: Tx<DB>,
  event: EventEnvelope,
  deliveryCount: number,
): Promise<ActiveSpan | undefined> {
  const parent = parseTraceparent(event.traceparent);
  const span = s.tracer?.startSpan(`consume ${event.type}`, {
    kind: 'consumer',
    parent,
    attributes: {
      'messaging.system': s.transport.kind,
      'messaging.destination.name': event.type,
      'messaging.consumer.group.name': s.group,
      'messaging.message.id': event.id,
      'messaging.delivery_count': deliveryCount,
    },
  });
  const trace = span?.context ?? childContext(parent);
  const log =
    s.handlerLogger?.child?.({
      group: s.group,
      eventId: event.id,
      type: event.type,
      traceId: trace.traceId,
    }) ?? s.handlerLogger;
  try {
    await s.handler(event, {
      tx,
      trace,
      deliveryCount,
      group: s.group,
      ...(log === undefined ? {} : { log }),
    });
    return span;
  } catch (err) {
    endSpan(span, err);
    throw err;
  }
}

/** Ends a span with status ok, or error with the error's message. */
export function endSpan(span: ActiveSpan | undefined, err?: unknown): void {
  if (span === undefined) return;
  if (err === undefined) span.end('ok');
  else {
    span.setAttribute('error.message', messageOf(err));
    span.end('error');
  }
}
