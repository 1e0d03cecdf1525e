/** What a chaos workload receives; see {@link ChaosWorkload}. */
export interface ChaosWorkloadContext {
  /** Base URL of the system's gateway, without a trailing slash. */
  readonly gatewayUrl: string;
  /** Every service's instance URLs, by service name. */
  readonly urls: Readonly<Record<string, readonly string[]>>;
  /** The system's generated secrets (`FLOTILLA_SERVICE_KEY`, …), by variable name. */
  readonly secrets: Readonly<Record<string, string>>;
  /** How many clients to run at once (`--concurrency`). */
  readonly concurrency: number;
  /** Uniform numbers in [0, 1), seeded by `--seed` (independent of the nemesis' numbers). */
  readonly random: () => number;
  /**
   * Aborted when the run's duration is over: start no new operation, but let the ones in flight
   * finish (retrying them while the faults heal, as a real client would).
   */
  readonly stop: AbortSignal;
  /** Aborted when in-flight operations must give up: the run was cancelled, or the quiescence time ran out. */
  readonly signal: AbortSignal;
  /** Counts an operation's outcome (`accepted`, `rejected_409`, …); the summary lists the counts. */
  report(outcome: string, count?: number): void;
}

/**
 * The system's side of a chaos run: drives traffic through the gateway while the nemesis injects
 * faults, and resolves — once `stop` is aborted and its operations have finished — with its
 * history: what the system acknowledged (every order accepted, with its customer), which the
 * checker then holds the system to. The history must be JSON-serialisable: it goes into the report.
 */
export type ChaosWorkload<History> = (ctx: ChaosWorkloadContext) => Promise<History>;

/** One broken promise of the system, with the ids that prove it. */
export interface ChaosViolation {
  /** What is wrong, in a sentence naming the ids: `order 3f… is CONFIRMED with 2 captured payments (p1, p2)`. */
  readonly message: string;
  /** The ids involved (orders, payments, SKUs, …), for tooling. */
  readonly ids: readonly string[];
}

/** The verdict on one invariant. */
export interface InvariantResult {
  /** A short stable name: `orders-settled`, `stock-conserved`. */
  readonly name: string;
  /** What it promises, in a sentence. */
  readonly description: string;
  /** How many things it checked (orders, SKUs, …). */
  readonly checked: number;
  /** Empty when it holds. */
  readonly violations: readonly ChaosViolation[];
}

/** What a chaos checker receives; see {@link ChaosChecker}. */
export interface ChaosCheckContext<History> {
  /** The workload's history. */
  readonly history: History;
  /** Base URL of the gateway. */
  readonly gatewayUrl: string;
  /** Every service's instance URLs, by service name (the checker may read services directly). */
  readonly urls: Readonly<Record<string, readonly string[]>>;
  /** The system's generated secrets, e.g. `FLOTILLA_SERVICE_KEY` to sign service tokens with. */
  readonly secrets: Readonly<Record<string, string>>;
  /** Aborted when the run is cancelled. */
  readonly signal: AbortSignal;
}

/**
 * Reads the system's state once all faults are healed and checks every invariant against it and
 * the history. It is called again (about once a second) until every invariant holds or the
 * quiescence time runs out, so invariants that only hold once the system has settled (no order
 * PENDING, outboxes drained) need no waiting of their own. A throw (a service does not answer)
 * counts as "not settled yet"; the last one is reported if it never settles.
 */
export type ChaosChecker<History> = (ctx: ChaosCheckContext<History>) => Promise<readonly InvariantResult[]>;

/**
 * The chaos experiment of a system: the named export `chaos` of its system file.
 *
 * @example
 * // flotilla.system.ts
 * import type { ChaosDefinition } from 'flotilla';
 * export const chaos: ChaosDefinition<{ orders: string[] }> = {
 *   workload: async ({ gatewayUrl, stop }) => {
 *     const orders: string[] = [];
 *     while (!stop.aborted) orders.push(await placeOrder(gatewayUrl));
 *     return { orders };
 *   },
 *   check: async ({ history }) => [
 *     { name: 'orders-settled', description: 'every order settles', checked: history.orders.length, violations: [] },
 *   ],
 * };
 */
export interface ChaosDefinition<History = unknown> {
  /** Traffic to run during the faults. */
  readonly workload: ChaosWorkload<History>;
  /** The invariants to hold the system to afterwards. */
  readonly check: ChaosChecker<History>;
  /**
   * The schedule `flotilla chaos` uses without `--faults`.
   * @default 'kill:random@every=10s,freeze:random@every=15s,for=3s'
   */
  readonly defaultFaults?: string;
}
