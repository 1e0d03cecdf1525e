/** What a readiness check reports when it passes; anything it throws means it failed. */
export interface HealthCheckResult {
  /** Extra facts for operators (pool size, lag, …); shown in `/health/ready`. */
  readonly details?: Readonly<Record<string, unknown>>;
}

/**
 * A readiness check: the database answers, the transport is connected, a critical upstream is
 * reachable. Registered with `defineService({ checks })` or `service.addCheck()`; `/health/ready`
 * runs every check concurrently, each bounded by its timeout, and answers 503 when one fails.
 */
export interface HealthCheck {
  /** Name shown under `checks` in `/health/ready`, e.g. `"database"`. */
  readonly name: string;
  /**
   * Resolves when healthy, rejects (with a helpful message) when not. It must honour `signal`,
   * which aborts when the check's time limit passes.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: lets a check be a plain `async () => { … }`
  check(signal: AbortSignal): Promise<HealthCheckResult | undefined | void>;
  /**
   * Time limit for this check, in milliseconds.
   * @default 2000
   */
  readonly timeoutMs?: number;
  /**
   * A non-critical check is reported but does not make the service unready.
   * @default true
   */
  readonly critical?: boolean;
}
