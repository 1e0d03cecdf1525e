import type { Clock } from '@flotilla/resilience';
import type { Delivery, DeliveryHandler, Settlement } from '../transport.js';

/** What became of one delivery: the handler's settlement, or `expired` when ackWaitMs passed first. */
export type Outcome = Settlement | { readonly kind: 'expired' };

/** The delay a throwing handler (or one returning something that is not a settlement) gets. */
export const THROWN_RETRY_DELAY_MS = 1000;

const EXPIRED: Outcome = { kind: 'expired' };
const RETRY_AFTER_THROW: Outcome = { kind: 'retry', delayMs: THROWN_RETRY_DELAY_MS };

function normalize(settlement: unknown): Outcome {
  if (typeof settlement !== 'object' || settlement === null) return RETRY_AFTER_THROW;
  const s = settlement as Settlement;
  switch (s.kind) {
    case 'ack':
    case 'drop':
      return s;
    case 'retry':
      return typeof s.delayMs === 'number' && s.delayMs >= 0 && Number.isFinite(s.delayMs)
        ? s
        : RETRY_AFTER_THROW;
    default:
      s satisfies never;
      return RETRY_AFTER_THROW;
  }
}

/**
 * Calls `handler` and resolves with its settlement, with `retry` after 1000 ms when it throws, or
 * with `expired` once `ackWaitMs` passes without a settlement (the handler is then abandoned:
 * whatever it returns later is ignored). Never rejects.
 */
export function runHandler(
  handler: DeliveryHandler,
  delivery: Delivery,
  clock: Clock,
  ackWaitMs: number,
): Promise<Outcome> {
  return new Promise<Outcome>((resolve) => {
    let done = false;
    const timer = clock.setTimeout(() => {
      if (done) return;
      done = true;
      resolve(EXPIRED);
    }, ackWaitMs);
    let result: Promise<unknown>;
    try {
      result = Promise.resolve(handler(delivery));
    } catch (err) {
      result = Promise.reject(err);
    }
    const finish = (outcome: Outcome): void => {
      if (done) return;
      done = true;
      clock.clearTimeout(timer);
      resolve(outcome);
    };
    void result.then(
      (settlement) => finish(normalize(settlement)),
      () => finish(RETRY_AFTER_THROW),
    );
  });
}
