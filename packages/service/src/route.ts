import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { ServiceClient } from './client-types.js';
import type { CallerIdentity, EndUser } from './tokens.js';
import type { TraceContext } from './trace-context.js';
import type { ActiveSpan } from './tracer.js';

/** HTTP methods a route may declare. */
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** What a handler gets to know about the request it serves and the service it runs in. */
export interface RequestContext<Deps> {
  /** What the service's `setup` returned: its store, clients, domain objects. */
  readonly deps: Deps;
  /** This request's id (`x-request-id` if the caller sent a sane one, else generated). */
  readonly requestId: string;
  /** The trace context of this request's server span; pass it to events published here. */
  readonly trace: TraceContext;
  /** The server span, to add attributes to. */
  readonly span: ActiveSpan;
  /** Aborts when the request's deadline passes, the client disconnects, or the service is shutting down hard. */
  readonly signal: AbortSignal;
  /** The caller's deadline in epoch milliseconds, if it sent one. */
  readonly deadline: number | undefined;
  /** The verified calling service and end user; `undefined` on routes with `auth: 'none'`. */
  readonly caller: CallerIdentity | undefined;
  /** Shorthand for `caller?.user`. */
  readonly user: EndUser | undefined;
  /** The request's `Idempotency-Key` header, if any. */
  readonly idempotencyKey: string | undefined;
  /** A logger whose lines carry the service, request id and trace id. */
  readonly log: Logger;
  /**
   * A client for another service, bound to this request: it propagates the trace, the remaining
   * deadline, the end user and cancellation.
   */
  client(service: string): ServiceClient;
}

/** The validated parts of a request. */
export interface RequestInput<P, Q, B> {
  readonly params: P;
  readonly query: Q;
  readonly body: B;
  readonly headers: IncomingHttpHeaders;
}

/** A response with an explicit status and headers, made with {@link reply}. */
export interface Reply<R> {
  readonly status: number;
  readonly body: R;
  readonly headers: Readonly<Record<string, string>> | undefined;
}

/** The one implementation of {@link Reply}, so recognising a reply is an `instanceof` check. */
class ReplyValue<R> implements Reply<R> {
  constructor(
    readonly status: number,
    readonly body: R,
    readonly headers: Readonly<Record<string, string>> | undefined,
  ) {}
}

/** Answers with a given status (and headers) instead of the route's default status. */
export function reply<R>(status: number, body: R, headers?: Record<string, string>): Reply<R> {
  if (!Number.isInteger(status) || status < 200 || status > 399)
    throw new RangeError(
      `reply status must be an integer in 200..399 (throw a ServiceError for errors), got ${status}`,
    );
  return new ReplyValue(status, body, headers);
}

/** True when a handler's result is a {@link Reply}. */
export function isReply(value: unknown): value is Reply<unknown> {
  return value instanceof ReplyValue;
}

/** Any zod schema. */
export type Schema = z.ZodType;

type ParamsOut<S> = S extends z.ZodType ? z.output<S> : Readonly<Record<string, string>>;
type QueryOut<S> = S extends z.ZodType ? z.output<S> : Readonly<Record<string, string | string[]>>;
type BodyOut<S> = S extends z.ZodType ? z.output<S> : undefined;
type ResponseOut<S> = S extends z.ZodType ? z.output<S> : unknown;

/**
 * A route's contract and handler. Every part of the request is validated against its zod
 * schema before the handler runs (400 `VALIDATION_FAILED` with per-field details otherwise),
 * and the response is checked against `response` when response validation is on.
 */
export interface RouteDefinition<
  Deps,
  PS extends Schema | undefined = undefined,
  QS extends Schema | undefined = undefined,
  BS extends Schema | undefined = undefined,
  RS extends Schema | undefined = undefined,
> {
  readonly method: HttpMethod;
  /** Path pattern with `:name` parameters, e.g. `/orders/:id`. */
  readonly path: string;
  /** One line for the API documentation. */
  readonly summary?: string;
  /** Schema of the path parameters. */
  readonly params?: PS;
  /** Schema of the query string (values arrive as strings: use `z.coerce`). */
  readonly query?: QS;
  /** Schema of the JSON body. A route without one accepts no body. */
  readonly body?: BS;
  /** Schema of the success response body. */
  readonly response?: RS;
  /**
   * Status of a successful response.
   * @default 200
   */
  readonly status?: number;
  /**
   * `'service'`: the caller must present a valid service token (401 otherwise).
   * `'none'`: a public route (health, the gateway's own entry points).
   * @default 'service'
   */
  readonly auth?: 'service' | 'none';
  /** The domain code. Throw a `ServiceError` to answer with an error status. */
  readonly handler: (
    input: RequestInput<ParamsOut<PS>, QueryOut<QS>, BodyOut<BS>>,
    ctx: RequestContext<Deps>,
  ) => ResponseOut<RS> | Reply<ResponseOut<RS>> | Promise<ResponseOut<RS> | Reply<ResponseOut<RS>>>;
}

/** A route of any shape, as a service stores it. */
// biome-ignore lint/suspicious/noExplicitAny: routes of every schema combination live in one list
export type AnyRoute<Deps> = RouteDefinition<Deps, any, any, any, any>;

/**
 * Declares a route with inferred types, for routes kept in their own modules.
 *
 * @example
 * export const getOrder = defineRoute<OrderDeps>()({
 *   method: 'GET', path: '/orders/:id',
 *   params: z.object({ id: z.uuid() }),
 *   response: OrderView,
 *   handler: async ({ params }, { deps }) => deps.orders.get(params.id),
 * });
 */
export function defineRoute<Deps>() {
  return <
    PS extends Schema | undefined = undefined,
    QS extends Schema | undefined = undefined,
    BS extends Schema | undefined = undefined,
    RS extends Schema | undefined = undefined,
  >(
    route: RouteDefinition<Deps, PS, QS, BS, RS>,
  ): RouteDefinition<Deps, PS, QS, BS, RS> => route;
}
