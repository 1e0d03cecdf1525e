import { type Clock, type Disposable, type RandomSource, systemClock } from '@flotilla/resilience';
import type { SplitConfig, TargetConfig } from './config.js';
import { type BreakerState, createGuards, type GuardStatus, type GuardTrip } from './guards.js';
import type { ComparisonResult } from './json-compare.js';
import { createShadowTraffic, type ShadowRequest, type ShadowStatus } from './shadow.js';

/** Where one request goes. */
export interface SplitDecision {
  /** The side that serves the client. */
  readonly side: 'legacy' | 'candidate';
  /** Where the client's request goes. */
  readonly target: TargetConfig;
  /** Where a shadow copy goes (the candidate), when shadowing applies to this request. */
  readonly mirror?: TargetConfig;
}

/** The outcome of a request served by one side. */
export interface SplitOutcome {
  /** The HTTP status the client got (a 5xx counts as an error for the errorRate guard). */
  readonly status: number;
  /** Time to the response, in milliseconds (feeds the p99 guard). */
  readonly durationMs: number;
}

/** An automatic rollback: which guard tripped, when, and why. */
export interface RollbackRecord {
  /** When it happened (ISO 8601). */
  readonly at: string;
  readonly guard: string;
  readonly detail: string;
}

/** The state of one migrating route, served by the admin API (`GET /__admin/migrations`). */
export interface MigrationStatus {
  readonly routeId: string;
  /** The weight in effect (0..100): 0 while rolled back. */
  readonly weight: number;
  /** The weight last set by the config or an operator. */
  readonly configuredWeight: number;
  /** Requests served by each side, as reported through {@link SplitController.record}. */
  readonly requests: { readonly legacy: number; readonly candidate: number };
  /** Shadow comparisons since start, or `undefined` when the split has no shadow. */
  readonly shadow: ShadowStatus | undefined;
  /** Every active guard with its current value and threshold. */
  readonly guards: readonly GuardStatus[];
  /** The automatic rollback in force, cleared by {@link SplitController.setWeight}. */
  readonly rolledBack: RollbackRecord | undefined;
}

/** An automatic rollback, as sent to {@link SplitController.onRollback} listeners. */
export interface RollbackEvent {
  readonly routeId: string;
  readonly guard: string;
  readonly detail: string;
}

/** The traffic split of one route between legacy and candidate. */
export interface SplitController {
  readonly routeId: string;
  /** Chooses a side for a request. stickyKey = authenticated user id or the sticky cookie value (undefined → random). */
  choose(stickyKey: string | undefined, method: string): SplitDecision;
  /** Reports the outcome of a request served by `side` (feeds error-rate and p99 guards). */
  record(side: 'legacy' | 'candidate', outcome: SplitOutcome): void;
  /** Reports that the candidate's circuit breaker changed state (feeds the breakerOpen guard). */
  candidateBreaker(state: BreakerState): void;
  /**
   * Reports a shadow comparison (from compareResponses). Pass the request's method and path to
   * have them in the mismatch sample.
   */
  recordComparison(result: ComparisonResult, request?: ShadowRequest): void;
  /** Sets the weight by hand (admin API / console); clears a rollback. */
  setWeight(weight: number): void;
  /** The migration's state as of now, for the admin API and the console. */
  status(): MigrationStatus;
  /** Called with every automatic rollback, for logs and events. */
  onRollback(listener: (event: RollbackEvent) => void): Disposable;
}

/** Options of {@link createSplitController}. */
export interface SplitControllerOptions {
  /**
   * Source of time for the guards' rolling windows; pass a `manualClock()` in tests.
   * @default systemClock
   */
  clock?: Clock;
  /**
   * Uniform numbers in [0, 1) for requests without a sticky key and for shadow sampling.
   * @default Math.random
   */
  random?: RandomSource;
}

const TWO_POW_32 = 4_294_967_296;
const TWO_POW_53 = 9_007_199_254_740_992;

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The fixed place of a sticky key on the route's [0, 100) line; the key goes to the candidate
 * when its place is below the weight. Keep this function stable forever: changing it reshuffles
 * every user between legacy and candidate. The route id is mixed in so a user is not in the
 * first percent of every migration at once. Two FNV-style lanes finished with murmur3's mixer
 * give 53 well-spread bits even for keys that differ in one character (`user-1`, `user-2`).
 */
export function stickyPosition(routeId: string, key: string): number {
  const input = `${routeId}\u0000${key}`;
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  for (let i = 0; i < input.length; i++) {
    const c = input.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
  }
  const high = fmix32(a ^ input.length);
  const low = fmix32(b ^ high);
  return (((high >>> 11) * TWO_POW_32 + low) / TWO_POW_53) * 100;
}

function checkWeight(weight: unknown, field: string): number {
  if (typeof weight !== 'number' || !Number.isFinite(weight) || weight < 0 || weight > 100)
    throw new RangeError(`${field} must be a number in 0..100, got ${String(weight)}`);
  return weight;
}

/** Wall-clock ISO time for an instant of `clock` (the clock itself is monotonic). */
function wallTime(clock: Clock): () => string {
  const wallStart = Date.now();
  const clockStart = clock.now();
  return () => new Date(wallStart + (clock.now() - clockStart)).toISOString();
}

/**
 * Creates the traffic split of one route. Sticky keys keep a user on one side: a key's place on
 * the route's [0, 100) line never changes, so raising the weight only moves users from legacy to
 * the candidate, never back and forth. When a guard trips while the candidate has traffic, the
 * weight in effect drops to 0 by itself, the rollback shows in {@link SplitController.status}
 * and goes to {@link SplitController.onRollback} listeners, until an operator sets a weight.
 *
 * @example
 * const split = createSplitController('orders-v2', route.split!, { clock: systemClock });
 * const decision = split.choose(user?.id, req.method);
 * // ... proxy to decision.target, mirror to decision.mirror, then:
 * split.record(decision.side, { status: res.statusCode, durationMs });
 */
export function createSplitController(
  routeId: string,
  config: SplitConfig,
  options: SplitControllerOptions = {},
): SplitController {
  if (typeof routeId !== 'string' || routeId === '')
    throw new TypeError(
      `createSplitController routeId must be a non-empty string, got ${JSON.stringify(routeId)}`,
    );
  const field = `route "${routeId}" split`;
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  const now = wallTime(clock);
  let configuredWeight = checkWeight(config.weight, `${field}.weight`);
  const { legacy, candidate } = config;
  const shadow =
    config.shadow === undefined ? undefined : createShadowTraffic(config.shadow, random, `${field}.shadow`);
  if (config.guards?.mismatchRate !== undefined && shadow === undefined)
    throw new TypeError(
      `${field}.guards.mismatchRate needs ${field}.shadow: comparisons come from shadow traffic`,
    );
  const guards = createGuards(config.guards, clock, `${field}.guards`);

  let rolledBack: RollbackRecord | undefined;
  const requests = { legacy: 0, candidate: 0 };
  let listeners: ((event: RollbackEvent) => void)[] = [];
  const legacyDecision: SplitDecision = { side: 'legacy', target: legacy };
  const candidateDecision: SplitDecision = { side: 'candidate', target: candidate };
  const mirroredDecision: SplitDecision = { side: 'legacy', target: legacy, mirror: candidate };

  const weight = (): number => (rolledBack === undefined ? configuredWeight : 0);

  const rollBack = (trip: GuardTrip | undefined): void => {
    // With no traffic on the candidate there is nothing to roll back; the guard shows as tripped.
    if (trip === undefined || rolledBack !== undefined || configuredWeight === 0) return;
    rolledBack = { at: now(), guard: trip.guard, detail: trip.detail };
    const event: RollbackEvent = { routeId, guard: trip.guard, detail: trip.detail };
    for (const listener of listeners) {
      try {
        listener(event);
      } catch (err) {
        // A broken listener must not fail the request that tripped the guard; surface it anyway.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  };

  return {
    routeId,
    choose(stickyKey, method) {
      const w = weight();
      const toCandidate =
        w >= 100 ||
        (w > 0 && (stickyKey === undefined ? random() * 100 : stickyPosition(routeId, stickyKey)) < w);
      if (toCandidate) return candidateDecision;
      return shadow?.shouldMirror(method) === true ? mirroredDecision : legacyDecision;
    },
    record(side, outcome) {
      requests[side]++;
      if (side === 'candidate') rollBack(guards.recordCandidate(outcome.status, outcome.durationMs));
    },
    candidateBreaker(state) {
      rollBack(guards.breaker(state));
    },
    recordComparison(result, request) {
      shadow?.record(result, request, now());
      rollBack(guards.recordComparison(result.match));
    },
    setWeight(value) {
      configuredWeight = checkWeight(value, `${field} weight`);
      rolledBack = undefined;
      // Error rate and latency measured at the old weight (or before a fix) would judge the new
      // one unfairly. Breaker state and shadow comparisons describe the candidate as it is now,
      // so a candidate still failing them is rolled back again at once.
      guards.restartLiveWindows();
      rollBack(guards.check());
    },
    status() {
      return {
        routeId,
        weight: weight(),
        configuredWeight,
        requests: { ...requests },
        shadow: shadow?.status(),
        guards: guards.status(),
        rolledBack,
      };
    },
    onRollback(listener) {
      listeners = [...listeners, listener];
      return {
        dispose: () => {
          listeners = listeners.filter((l) => l !== listener);
        },
      };
    },
  };
}
