import { type AnyRoute, type RequestContext, ServiceError } from '@flotilla/service';
import { z } from 'zod';
import type { DeadLetter } from './dead-letters.js';
import { isDeadLetterNotFoundError, isDeadLetterReplayError, messageOf } from './errors.js';
import type { EventBus, EventBusStats } from './event-bus.js';

/** What {@link eventBusRoutes} uses of a bus. */
export type EventBusRoutesTarget = Pick<EventBus<unknown>, 'stats' | 'lag' | 'deadLetters'>;

/** Options of {@link eventBusRoutes}. */
export interface EventBusRoutesOptions<Deps> {
  /**
   * A path prepended to every route, e.g. `'/bus'` for `/bus/events/stats`.
   * @default '' (the routes are `/events/stats` and `/dead-letters…`)
   */
  readonly basePath?: string;
  /**
   * `'service'`: a valid service token is required (401 otherwise); `'none'`: no token (only
   * behind a network boundary of your own).
   * @default 'service'
   */
  readonly auth?: 'service' | 'none';
  /**
   * Called before every handler, e.g. to refuse tokens that carry an end user: throw a
   * `ServiceError` to answer with its status.
   */
  readonly authorize?: (ctx: RequestContext<Deps>) => void | Promise<void>;
}

/** `GET /events/stats`: the bus's stats and each group's transport lag. */
export interface EventBusStatsView extends EventBusStats {
  /** Per consumer group of this instance: unsettled messages, `null` when the transport cannot tell. */
  readonly lag: Readonly<Record<string, number | null>>;
  /** Why the lag is `null` for every group, when the transport failed to answer. */
  readonly lagError?: string;
}

/** The error of a dead letter as the routes show it: never its stack. */
const DeadLetterErrorView = z.object({ message: z.string(), code: z.string().optional() });

/** A dead letter as `GET /dead-letters` lists it: without the payload. Times are epoch milliseconds. */
export const DeadLetterSummary = z.object({
  id: z.string(),
  group: z.string(),
  eventId: z.string(),
  eventType: z.string(),
  subject: z.string(),
  reason: z.enum(['handler-failed', 'poison']),
  error: DeadLetterErrorView,
  attempts: z.number().int(),
  /** When it was dead-lettered, epoch milliseconds. */
  deadLetteredAt: z.number(),
  /** When it was last delivered or replayed, epoch milliseconds. */
  lastAttemptAt: z.number(),
});

/** `GET /dead-letters/:id`: the summary, the payload as received and the envelope parsed from it. */
export const DeadLetterDetails = DeadLetterSummary.extend({
  /** The payload as received, as text. */
  payload: z.string(),
  /** The envelope parsed from the payload; `null` when it was not a JSON object (a poison message). */
  envelope: z.record(z.string(), z.unknown()).nullable(),
});

/** `GET /dead-letters` answer, oldest first. */
export const DeadLetterSummaryList = z.object({ items: z.array(DeadLetterSummary) });

/** `POST /dead-letters/:id/replay` answer: the letter is gone, its event handled. */
export const ReplayResultView = z.object({ id: z.string(), eventId: z.string(), attempts: z.number().int() });

/** `POST /dead-letters/:id/discard` answer. */
export const DiscardResultView = z.object({ discarded: z.string() });

const BASE = /^(\/[A-Za-z0-9_.-]+)*$/;

/**
 * The event bus's operator API as route definitions for `@flotilla/service`
 * (`defineService({ routes })` or `service.route(...)`), for dashboards and the console:
 *
 * - `GET  /events/stats` → `{ ...bus.stats(), lag: { [group]: number | null } }`
 * - `GET  /dead-letters?group&type&limit` → `{ items }` (oldest first, `limit` 1..1000, default
 *   100), without payloads
 * - `GET  /dead-letters/:id` → one letter with `payload` and `envelope`; 404 `DEAD_LETTER_NOT_FOUND`
 * - `POST /dead-letters/:id/replay` → `{ id, eventId, attempts }`; 409 `REPLAY_FAILED` with the
 *   handler's error message when it fails again (the letter stays with the new error), 409
 *   `GROUP_NOT_SUBSCRIBED` when this instance does not run the letter's group, 404
 *   `DEAD_LETTER_NOT_FOUND`
 * - `POST /dead-letters/:id/discard` → `{ discarded: id }`; 404 `DEAD_LETTER_NOT_FOUND`
 *
 * Times are epoch milliseconds; error stacks stay in the database. `bus` is the bus itself, or a
 * function of the request context for a bus that exists only once the service's `setup` ran
 * (`(ctx) => ctx.deps.bus`). Service-token authentication applies unless `auth: 'none'`.
 *
 * @example
 * defineService({ name: 'shipping', version: '1.0.0', setup, routes: [...shippingRoutes, ...eventBusRoutes<ShippingDeps>((ctx) => ctx.deps.bus)] });
 */
export function eventBusRoutes<Deps = unknown>(
  bus: EventBusRoutesTarget | ((ctx: RequestContext<Deps>) => EventBusRoutesTarget),
  options: EventBusRoutesOptions<Deps> = {},
): AnyRoute<Deps>[] {
  const { basePath = '', auth = 'service', authorize } = options;
  if (typeof basePath !== 'string' || !BASE.test(basePath))
    throw new RangeError(
      `eventBusRoutes.basePath must be '' or a path like '/bus', got ${JSON.stringify(basePath)}`,
    );
  if (auth !== 'service' && auth !== 'none')
    throw new RangeError(`eventBusRoutes.auth must be 'service' or 'none', got ${JSON.stringify(auth)}`);
  const busOf = async (ctx: RequestContext<Deps>): Promise<EventBusRoutesTarget> => {
    if (authorize !== undefined) await authorize(ctx);
    return typeof bus === 'function' ? bus(ctx) : bus;
  };
  const idParams = z.object({ id: z.string().min(1).max(200) });
  return [
    {
      method: 'GET',
      path: `${basePath}/events/stats`,
      summary: "The event bus's outbox, relay and per-group counters, and each group's transport lag.",
      auth,
      handler: async (_input, ctx): Promise<EventBusStatsView> => {
        const b = await busOf(ctx);
        const [stats, lag] = await Promise.all([
          b.stats({ signal: ctx.signal }),
          b.lag({ signal: ctx.signal }).then(
            (value) => ({ value }),
            (err: unknown) => ({ err }),
          ),
        ]);
        if ('value' in lag) return { ...stats, lag: lag.value };
        ctx.signal.throwIfAborted();
        ctx.log.warn({ err: lag.err }, 'the event transport could not tell the consumer lag');
        const none: Record<string, null> = {};
        for (const group of Object.keys(stats.groups)) none[group] = null;
        return { ...stats, lag: none, lagError: messageOf(lag.err) };
      },
    },
    {
      method: 'GET',
      path: `${basePath}/dead-letters`,
      summary: "Dead letters of this service's consumer groups, oldest first, without payloads.",
      auth,
      query: z.object({
        group: z.string().min(1).max(200).optional(),
        type: z.string().min(1).max(200).optional(),
        limit: z.coerce.number().int().min(1).max(1000).optional(),
      }),
      response: DeadLetterSummaryList,
      handler: async ({ query }, ctx) => {
        const b = await busOf(ctx);
        const letters = await b.deadLetters.list({
          ...(query.group === undefined ? {} : { group: query.group }),
          ...(query.type === undefined ? {} : { type: query.type }),
          ...(query.limit === undefined ? {} : { limit: query.limit }),
          signal: ctx.signal,
        });
        return { items: letters.map(summary) };
      },
    },
    {
      method: 'GET',
      path: `${basePath}/dead-letters/:id`,
      summary: 'One dead letter with its payload.',
      auth,
      params: idParams,
      response: DeadLetterDetails,
      handler: async ({ params }, ctx) => {
        const b = await busOf(ctx);
        const letter = await b.deadLetters.get(params.id, { signal: ctx.signal });
        if (letter === undefined) throw notFound(params.id);
        return {
          ...summary(letter),
          payload: letter.payload,
          envelope: (letter.envelope as Record<string, unknown> | undefined) ?? null,
        };
      },
    },
    {
      method: 'POST',
      path: `${basePath}/dead-letters/:id/replay`,
      summary:
        "Runs a dead letter's event through its group's handler again; the letter is removed when it commits.",
      auth,
      params: idParams,
      response: ReplayResultView,
      handler: async ({ params }, ctx) => {
        const b = await busOf(ctx);
        try {
          return await b.deadLetters.replay(params.id);
        } catch (err) {
          throw asServiceError(err, params.id);
        }
      },
    },
    {
      method: 'POST',
      path: `${basePath}/dead-letters/:id/discard`,
      summary: 'Deletes a dead letter for good (its event stays marked as seen).',
      auth,
      params: idParams,
      response: DiscardResultView,
      handler: async ({ params }, ctx) => {
        const b = await busOf(ctx);
        try {
          await b.deadLetters.discard(params.id);
        } catch (err) {
          throw asServiceError(err, params.id);
        }
        return { discarded: params.id };
      },
    },
  ];
}

function summary(letter: DeadLetter): z.output<typeof DeadLetterSummary> {
  return {
    id: letter.id,
    group: letter.group,
    eventId: letter.eventId,
    eventType: letter.eventType,
    subject: letter.subject,
    reason: letter.reason,
    error: {
      message: letter.error.message,
      ...(letter.error.code === undefined ? {} : { code: letter.error.code }),
    },
    attempts: letter.attempts,
    deadLetteredAt: letter.deadLetteredAt,
    lastAttemptAt: letter.lastAttemptAt,
  };
}

function notFound(id: string, cause?: unknown): ServiceError {
  return new ServiceError(
    404,
    'DEAD_LETTER_NOT_FOUND',
    `dead letter ${id} does not exist (replayed or discarded?)`,
    { retryable: false, ...(cause === undefined ? {} : { cause }) },
  );
}

function asServiceError(err: unknown, id: string): unknown {
  if (isDeadLetterNotFoundError(err)) return notFound(id, err);
  if (isDeadLetterReplayError(err))
    return new ServiceError(409, 'REPLAY_FAILED', messageOf(err.cause), {
      details: { attempts: err.attempts },
      retryable: true,
      cause: err,
    });
  // The bus refuses a letter of a group it does not run (deadLetters.replay's RangeError).
  if (err instanceof RangeError)
    return new ServiceError(409, 'GROUP_NOT_SUBSCRIBED', err.message, { retryable: false, cause: err });
  return err;
}
