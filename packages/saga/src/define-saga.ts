import { createHash } from 'node:crypto';
import { type Backoff, exponentialBackoff } from '@flotilla/resilience';
import type { Tx } from '@flotilla/store';
import type { CommandSpec } from './command.js';
import { SagaDefinitionError } from './errors.js';
import { StepKind } from './states.js';
import type { StepContext } from './step-context.js';

/** How often a step's action is tried before the step counts as failed. */
export interface StepRetry {
  /**
   * Attempts in total, the first included; an integer >= 1 or `Infinity`. A retriable step is
   * always retried until it succeeds (the runner's `stuckAfterAttempts` still applies).
   * @default 3 (`Infinity` for retriable steps)
   */
  readonly maxAttempts?: number;
  /**
   * Delay before each retry. The saga is released while it waits: no lease, no thread.
   * @default exponentialBackoff({ initialDelayMs: 100, maxDelayMs: 10000 })
   */
  readonly backoff?: Backoff;
}

/** An action that calls another service (use `step.call(client)` so the idempotency key is sent). */
export type CallAction<Ctx, Out> = (ctx: Readonly<Ctx>, step: StepContext) => Promise<Out>;

/** A write to the orchestrator's own database: its effect, the checkpoint and outbox rows commit in one transaction. */
export type LocalAction<DB, Ctx, Out> = (tx: Tx<DB>, ctx: Readonly<Ctx>, step: StepContext) => Promise<Out>;

/** Undoes a completed step: a call (with the `{sagaId}:{step}:compensate` key) or a local write. */
export type Compensation<DB, Ctx> =
  | ((ctx: Readonly<Ctx>, step: StepContext) => Promise<unknown>)
  | { readonly local: LocalAction<DB, Ctx, unknown> };

/** Settings every step kind shares. */
interface StepSettings<DB, Ctx> {
  /**
   * See `StepKind`.
   * @default 'compensatable'
   */
  readonly kind?: StepKind;
  /** Undoes the step; required for compensatable steps, refused for pivot and retriable ones. */
  readonly compensate?: Compensation<DB, Ctx>;
  /** Retry policy of the action. */
  readonly retry?: StepRetry;
  /**
   * Time allowed per attempt, in milliseconds (for a command: for its reply).
   * @default 30000
   */
  readonly timeoutMs?: number;
}

/** A step: exactly one of `action` (a call), `local` (a local write) or `command` (an asynchronous command). */
export type StepSpec<DB, Ctx, Out> = StepSettings<DB, Ctx> &
  (
    | { readonly action: CallAction<Ctx, Out>; readonly local?: never; readonly command?: never }
    | { readonly local: LocalAction<DB, Ctx, Out>; readonly action?: never; readonly command?: never }
    | { readonly command: CommandSpec<Ctx, Out>; readonly action?: never; readonly local?: never }
  );

/** A step as the runner uses it (internal). */
export interface StepDefinition {
  readonly name: string;
  readonly index: number;
  readonly kind: StepKind;
  readonly type: 'call' | 'local' | 'command';
  readonly call?: CallAction<unknown, unknown>;
  readonly local?: LocalAction<unknown, unknown, unknown>;
  readonly command?: CommandSpec<unknown, unknown>;
  readonly compensate?:
    | { readonly type: 'call'; readonly call: CallAction<unknown, unknown> }
    | { readonly type: 'local'; readonly local: LocalAction<unknown, unknown, unknown> };
  readonly maxAttempts: number;
  readonly backoff: Backoff;
  readonly timeoutMs: number;
}

/** Options of {@link defineSaga}. */
export interface DefineSagaOptions {
  /** The definition's version, an integer >= 1; raise it when the steps change. */
  readonly version: number;
  /**
   * The whole saga's deadline from its start, in milliseconds. Passed before the pivot, the saga
   * compensates; after the pivot it only finishes.
   * @default no deadline
   */
  readonly deadlineMs?: number;
}

// biome-ignore lint/suspicious/noConfusingVoidType: a step that returns nothing (`async () => {}`) has output void
type Merge<Ctx, Out> = [Out] extends [void | undefined] ? Ctx : Ctx & Out;

/** A saga definition: its name, version and ordered steps; `.step()` returns a longer one. */
export interface SagaDefinition<Input extends object = object, Ctx extends object = Input, DB = unknown> {
  readonly name: string;
  readonly version: number;
  /** sha256 of the ordered step names (16 hex characters), stored with every instance. */
  readonly stepsHash: string;
  readonly deadlineMs: number | undefined;
  /** The steps, in order (internal shape). */
  readonly steps: readonly StepDefinition[];
  /** Never set: carries the input type for `runner.start`. */
  readonly __input?: Input;
  /** Never set: carries the context type. */
  readonly __ctx?: Ctx;
  /**
   * Appends a step. Its output (an object, or nothing) is merged into the context, persisted,
   * and seen by every later step. Throws {@link SagaDefinitionError} for a rule broken here.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: a step that returns nothing (`async () => {}`) has output void
  step<Out extends object | void>(
    name: string,
    spec: StepSpec<DB, Ctx, Out>,
  ): SagaDefinition<Input, Merge<Ctx, Out> & object, DB>;
}

/** Any saga definition, as a runner registers it. */
// biome-ignore lint/suspicious/noExplicitAny: definitions of every context type live in one list
export type AnySagaDefinition = SagaDefinition<any, any, any>;

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;
const STEP = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const DEFAULT_BACKOFF = exponentialBackoff({ initialDelayMs: 100, maxDelayMs: 10_000 });

/**
 * Declares a saga: `defineSaga<Input>(name, { version })` then `.step(...)` per step. Rules of
 * the literature are checked as the steps are added, not at run time: a compensatable step needs
 * a compensation, a pivot and a retriable step have none, at most one pivot, nothing
 * compensatable after the pivot, and retriable steps only after it.
 *
 * @example
 * const placeOrder = defineSaga<{ orderId: string; cents: number }, ShopDb>('place-order', { version: 1 })
 *   .step('reserve_inventory', {
 *     action: (ctx, step) => step.call(inventory).post<{ reservationId: string }>('/reservations', { body: ctx }),
 *     compensate: (ctx, step) => step.call(inventory).delete(`/reservations/${ctx.reservationId}`),
 *   })
 *   .step('process_payment', {
 *     kind: 'pivot',
 *     action: (ctx, step) => step.call(payment).post<{ paymentId: string }>('/payments', { body: ctx }),
 *   })
 *   .step('confirm_order', {
 *     kind: 'retriable',
 *     local: async (tx, ctx) => {
 *       await tx.updateTable('orders').set({ status: 'CONFIRMED' }).where('id', '=', ctx.orderId).execute();
 *     },
 *   });
 */
export function defineSaga<Input extends object, DB = unknown>(
  name: string,
  options: DefineSagaOptions,
): SagaDefinition<Input, Input, DB> {
  if (typeof name !== 'string' || !NAME.test(name))
    throw new RangeError(
      `defineSaga(name) must be 1-100 letters, digits, '_', '.' or '-' starting with a letter or digit, got ${JSON.stringify(name)}`,
    );
  if (typeof options !== 'object' || options === null)
    throw new TypeError(`defineSaga(${JSON.stringify(name)}) needs options { version }`);
  const { version, deadlineMs } = options;
  if (!Number.isInteger(version) || version < 1)
    throw new RangeError(`defineSaga(${name}).version must be an integer >= 1, got ${String(version)}`);
  if (deadlineMs !== undefined && !(deadlineMs > 0 && Number.isFinite(deadlineMs)))
    throw new RangeError(
      `defineSaga(${name}).deadlineMs must be a finite number > 0, got ${String(deadlineMs)}`,
    );
  return build(name, version, deadlineMs, []);
}

function build<Input extends object, Ctx extends object, DB>(
  name: string,
  version: number,
  deadlineMs: number | undefined,
  steps: readonly StepDefinition[],
): SagaDefinition<Input, Ctx, DB> {
  return Object.freeze({
    name,
    version,
    deadlineMs,
    steps,
    stepsHash: hashSteps(steps.map((s) => s.name)),
    // biome-ignore lint/suspicious/noConfusingVoidType: a step that returns nothing (`async () => {}`) has output void
    step<Out extends object | void>(stepName: string, spec: StepSpec<DB, Ctx, Out>) {
      const step = normalise(name, stepName, spec as unknown as StepSpec<unknown, unknown, unknown>, steps);
      return build<Input, Merge<Ctx, Out> & object, DB>(name, version, deadlineMs, [...steps, step]);
    },
  });
}

/** The hash stored with each instance: its definition's ordered step names. */
export function hashSteps(names: readonly string[]): string {
  return createHash('sha256').update(names.join('\n')).digest('hex').slice(0, 16);
}

function normalise(
  saga: string,
  name: string,
  spec: StepSpec<unknown, unknown, unknown>,
  before: readonly StepDefinition[],
): StepDefinition {
  const fail = (message: string): never => {
    throw new SagaDefinitionError(saga, `step ${JSON.stringify(name)} ${message}`);
  };
  if (typeof name !== 'string' || !STEP.test(name))
    fail("name must be 1-64 letters, digits, '_', '.' or '-' starting with a letter or digit");
  if (before.some((s) => s.name === name)) fail('is defined twice');
  if (typeof spec !== 'object' || spec === null) fail('needs a spec object');
  const bodies = (['action', 'local', 'command'] as const).filter((k) => spec[k] !== undefined);
  if (bodies.length !== 1)
    fail(
      `needs exactly one of action, local or command, got ${bodies.length === 0 ? 'none' : bodies.join(', ')}`,
    );
  const kind = spec.kind ?? StepKind.compensatable;
  if (!Object.values(StepKind).includes(kind))
    fail(`kind must be 'compensatable', 'pivot' or 'retriable', got ${String(kind)}`);
  const compensate = spec.compensate;
  if (kind === 'compensatable' && compensate === undefined)
    fail('is compensatable but has no compensate (give one, or declare kind: pivot / retriable)');
  if (kind !== 'compensatable' && compensate !== undefined)
    fail(`is ${kind}: it is never compensated, so it cannot have a compensate`);
  const pivot = before.find((s) => s.kind === 'pivot');
  const retriable = before.find((s) => s.kind === 'retriable');
  if (kind === 'compensatable' && (pivot ?? retriable) !== undefined)
    fail(
      `is compensatable but comes after the ${(pivot ?? retriable)?.kind} step ${(pivot ?? retriable)?.name}`,
    );
  if (kind === 'pivot' && pivot !== undefined) fail(`is a second pivot (the pivot is ${pivot.name})`);
  if (kind === 'pivot' && retriable !== undefined)
    fail(`is a pivot after the retriable step ${retriable.name}; retriable steps follow the pivot`);
  if (kind === 'retriable' && pivot === undefined && before.some((s) => s.kind === 'compensatable'))
    fail('is retriable but comes before the pivot (declare the point of no return with kind: pivot)');
  const type = bodies[0] === 'action' ? 'call' : (bodies[0] as 'local' | 'command');
  if (type === 'call' && typeof spec.action !== 'function') fail('action must be a function');
  if (type === 'local' && typeof spec.local !== 'function') fail('local must be a function');
  if (type === 'command') checkCommand(spec.command, fail);
  let compensation: StepDefinition['compensate'];
  if (typeof compensate === 'function')
    compensation = { type: 'call', call: compensate as CallAction<unknown, unknown> };
  else if (compensate !== undefined) {
    if (typeof compensate !== 'object' || compensate === null || typeof compensate.local !== 'function')
      fail('compensate must be a function or { local: (tx, ctx, step) => … }');
    compensation = { type: 'local', local: compensate.local };
  }
  const retry = spec.retry ?? {};
  const maxAttempts = kind === 'retriable' ? Number.POSITIVE_INFINITY : (retry.maxAttempts ?? 3);
  if (!(maxAttempts === Number.POSITIVE_INFINITY || (Number.isInteger(maxAttempts) && maxAttempts >= 1)))
    fail(`retry.maxAttempts must be an integer >= 1 or Infinity, got ${String(retry.maxAttempts)}`);
  const backoff = retry.backoff ?? DEFAULT_BACKOFF;
  if (typeof backoff?.delayMs !== 'function')
    fail('retry.backoff must be a Backoff (e.g. exponentialBackoff())');
  const timeoutMs = spec.timeoutMs ?? 30_000;
  if (!(timeoutMs > 0 && Number.isFinite(timeoutMs)))
    fail(`timeoutMs must be a finite number > 0, got ${String(spec.timeoutMs)}`);
  return Object.freeze({
    name,
    index: before.length,
    kind,
    type,
    ...(type === 'call' ? { call: spec.action as CallAction<unknown, unknown> } : {}),
    ...(type === 'local' ? { local: spec.local as LocalAction<unknown, unknown, unknown> } : {}),
    ...(type === 'command' ? { command: spec.command as CommandSpec<unknown, unknown> } : {}),
    ...(compensation === undefined ? {} : { compensate: compensation }),
    maxAttempts,
    backoff,
    timeoutMs,
  });
}

function checkCommand(command: unknown, fail: (message: string) => never): void {
  const c = command as Partial<CommandSpec<unknown, unknown>> | null;
  if (typeof c !== 'object' || c === null) fail('command must be { send, replies, onReply }');
  if (typeof c?.send !== 'function') fail('command.send must be a function returning { event, data }');
  if (!Array.isArray(c?.replies) || c.replies.length === 0)
    fail('command.replies must be a non-empty array of event contracts');
  if (typeof c?.onReply !== 'function') fail('command.onReply must be a function');
  if (c?.correlate !== undefined && typeof c.correlate !== 'function')
    fail('command.correlate must be a function');
}
