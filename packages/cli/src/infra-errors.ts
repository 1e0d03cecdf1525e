import { FlotillaError, hasFlotillaCode } from '@flotilla/resilience';

/**
 * Raised when the infrastructure a chaos run's infrastructure faults need is missing or fails:
 * the NATS server cannot be started (program missing, port taken), no service has a PostgreSQL
 * database to act on, a database cannot be reached. The message says what and where.
 */
export class ChaosInfraError extends FlotillaError {
  override readonly name = 'ChaosInfraError';
  readonly retryable = false;

  constructor(message: string, options?: { cause?: unknown }) {
    super('CHAOS_INFRA_UNAVAILABLE', message, options);
  }
}

/** True when `err` is a {@link ChaosInfraError} (from any copy of this package). */
export function isChaosInfraError(err: unknown): err is ChaosInfraError {
  return hasFlotillaCode(err, 'CHAOS_INFRA_UNAVAILABLE');
}
