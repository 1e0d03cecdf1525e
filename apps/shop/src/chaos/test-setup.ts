// The services' environment the shop's chaos tests share (the system file itself is loaded with
// `loadShopFromSource` from the e2e harness).

/**
 * The services' environment: from source, quieter logs, the test runner's marker removed, and
 * compensations retried within 2 s rather than backing off to a minute, so the shop settles
 * quickly once the faults end. Faster retries use up the default 10 attempts before a saga is
 * declared stuck within seconds of an inventory outage (a restart plus an open breaker), so the
 * limit is raised with them: the same patience, in attempts of the shorter backoff.
 */
export function chaosServiceEnv(
  extra: Readonly<Record<string, string>> = {},
): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {
    ...process.env,
    FLOTILLA_SHOP_FROM_SOURCE: '1',
    FLOTILLA_LOG_LEVEL: 'warn',
    ORDER_COMPENSATION_MAX_DELAY_MS: '2000',
    ORDER_SAGA_STUCK_AFTER_ATTEMPTS: '60',
    ...extra,
  };
  delete env.NODE_TEST_CONTEXT;
  return env;
}
