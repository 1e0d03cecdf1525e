/** What one run of a load scenario receives. */
export interface LoadContext {
  /** Base URL of the gateway (or the service under load), without a trailing slash. */
  readonly gatewayUrl: string;
  /** Aborted when the load run is cancelled (Ctrl-C); pass it to every request. */
  readonly signal: AbortSignal;
  /** Uniform numbers in [0, 1), seeded by `--seed` so a run can be repeated. */
  readonly random: () => number;
  /** Which run this is: 0, 1, … up to the number of runs minus one. */
  readonly iteration: number;
  /** The system's generated secrets (to sign a token, for instance), by variable name. */
  readonly secrets: Readonly<Record<string, string>>;
  /**
   * Counts an outcome (`confirmed`, `cancelled`, …); the summary lists every outcome with its
   * count. A run that returns a string reports it as its outcome.
   */
  report(outcome: string, count?: number): void;
  /**
   * Runs `create` once per load run and shares its result between iterations (a login, a
   * catalogue fetch); concurrent callers wait for the same promise.
   */
  once<T>(key: string, create: () => T | Promise<T>): Promise<T>;
}

/**
 * A load scenario: one iteration of traffic (place an order and follow it), run
 * `--concurrency` at a time, `--orders` times. A throw counts as a failed iteration.
 *
 * @example
 * export const load: LoadScenario = async ({ gatewayUrl, signal, report }) => {
 *   const res = await fetch(`${gatewayUrl}/api/v2/orders`, { method: 'POST', signal, body: '{}' });
 *   report(res.ok ? 'accepted' : `http_${res.status}`);
 * };
 */
export type LoadScenario = (ctx: LoadContext) => Promise<unknown>;
