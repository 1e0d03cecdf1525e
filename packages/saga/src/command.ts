import type { AnyEventContract, EventEnvelope, EventInput } from '@flotilla/events';
import type { StepContext } from './step-context.js';

/** The command event a command step publishes (through the outbox, with its checkpoint). */
export interface CommandMessage<C extends AnyEventContract = AnyEventContract> {
  /** The command's contract. */
  readonly event: C;
  /** Its data; carry `step.idempotencyKey` in it so the participant deduplicates with `idempotent()`. */
  readonly data: EventInput<C>;
  /**
   * The event's subject.
   * @default the saga id (replies are matched on their subject by default)
   */
  readonly subject?: string;
}

/**
 * An asynchronous command: publish an event, park the saga (no lease, no thread), and resume
 * when a reply event arrives or `timeoutMs` passes (a timeout counts as a failed attempt).
 */
export interface CommandSpec<Ctx, Out> {
  /** Builds the command for this attempt. */
  readonly send: (ctx: Readonly<Ctx>, step: StepContext) => CommandMessage;
  /** The reply events that end the wait (success and failure replies alike). */
  readonly replies: readonly AnyEventContract[];
  /**
   * Which saga a reply belongs to.
   * @default the reply's subject
   */
  readonly correlate?: (reply: EventEnvelope) => string;
  /** Turns a reply into the step's output; throw to fail the step (e.g. `PaymentDeclined`). */
  readonly onReply: (reply: EventEnvelope, ctx: Readonly<Ctx>) => Out;
}
