// The simulated card provider behind the payment service: configurable latency, decline and
// failure rates, and one deterministic rule for demos — an amount whose last two digits are 13
// (minor units: 10.13 EUR, 25.13 EUR, …) is always declined.
import {
  type Clock,
  FlotillaError,
  hasFlotillaCode,
  type RandomSource,
  systemClock,
} from '@flotilla/resilience';

/** The provider could not be reached or failed: nothing happened, try again with the same key. */
export class ProviderUnavailableError extends FlotillaError {
  override readonly name = 'ProviderUnavailableError';
  readonly retryable = true;

  constructor(operation: 'charge' | 'refund') {
    super(
      'PROVIDER_UNAVAILABLE',
      `the payment provider is unavailable (${operation}); retry with the same key`,
    );
  }
}

/** True when `err` is a {@link ProviderUnavailableError}. */
export function isProviderUnavailableError(err: unknown): err is ProviderUnavailableError {
  return hasFlotillaCode(err, 'PROVIDER_UNAVAILABLE');
}

/** Why the provider declined. */
export type DeclineReason = 'AMOUNT_RULE' | 'PROVIDER_DECLINED';

/** The provider's answer to a charge. */
export type ChargeDecision =
  | { readonly outcome: 'captured' }
  | { readonly outcome: 'declined'; readonly reason: DeclineReason };

/** A card provider. */
export interface PaymentProvider {
  /** Captures the amount, or declines; rejects with {@link ProviderUnavailableError} when it fails. */
  charge(
    input: { readonly amountMinor: number; readonly currency: string; readonly idempotencyKey: string },
    options?: { readonly signal?: AbortSignal },
  ): Promise<ChargeDecision>;
  /** Refunds a capture; rejects with {@link ProviderUnavailableError} when it fails. */
  refund(
    input: { readonly paymentId: string; readonly amountMinor: number; readonly idempotencyKey: string },
    options?: { readonly signal?: AbortSignal },
  ): Promise<void>;
}

/** Options of {@link simulatedProvider}. */
export interface SimulatedProviderOptions {
  /** Time each call takes, in ms. @default 5 */
  readonly latencyMs?: number;
  /** Share of charges declined at random (0..1). @default 0 */
  readonly declineRate?: number;
  /** Share of calls (charges and refunds) failing as unavailable (0..1). @default 0 */
  readonly failureRate?: number;
  /** Source of the random draws. @default Math.random */
  readonly random?: RandomSource;
  /** Times the latency. @default systemClock */
  readonly clock?: Clock;
}

/** The demo rule: an amount ending in 13 minor units is always declined. */
export function declinedByRule(amountMinor: number): boolean {
  return amountMinor % 100 === 13;
}

function checkRate(name: string, value: number): number {
  if (!(value >= 0 && value <= 1))
    throw new RangeError(`simulatedProvider.${name} must be within 0..1, got ${value}`);
  return value;
}

/**
 * A provider that answers after `latencyMs`: first it may fail (`failureRate`), then it declines
 * amounts ending in 13 minor units, then at random (`declineRate`), else it captures.
 *
 * @example
 * const provider = simulatedProvider({ latencyMs: 5, declineRate: 0.1 });
 * await provider.charge({ amountMinor: 1013, currency: 'EUR', idempotencyKey: 'k' }); // { outcome: 'declined', reason: 'AMOUNT_RULE' }
 */
export function simulatedProvider(options: SimulatedProviderOptions = {}): PaymentProvider {
  const { latencyMs = 5, random = Math.random, clock = systemClock } = options;
  const declineRate = checkRate('declineRate', options.declineRate ?? 0);
  const failureRate = checkRate('failureRate', options.failureRate ?? 0);
  if (!(latencyMs >= 0)) throw new RangeError(`simulatedProvider.latencyMs must be >= 0, got ${latencyMs}`);

  const wait = (signal: AbortSignal | undefined): Promise<void> => {
    signal?.throwIfAborted();
    if (latencyMs === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        clock.clearTimeout(timer);
        reject(signal?.reason);
      };
      const timer = clock.setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, latencyMs);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  };

  return {
    async charge(input, callOptions = {}) {
      await wait(callOptions.signal);
      if (failureRate > 0 && random() < failureRate) throw new ProviderUnavailableError('charge');
      if (declinedByRule(input.amountMinor)) return { outcome: 'declined', reason: 'AMOUNT_RULE' };
      if (declineRate > 0 && random() < declineRate)
        return { outcome: 'declined', reason: 'PROVIDER_DECLINED' };
      return { outcome: 'captured' };
    },
    async refund(_input, callOptions = {}) {
      await wait(callOptions.signal);
      if (failureRate > 0 && random() < failureRate) throw new ProviderUnavailableError('refund');
    },
  };
}
