import {
  type AnyPolicy,
  type BulkheadPolicy,
  bulkhead,
  type CircuitBreakerPolicy,
  type Clock,
  circuitBreaker,
  consecutiveBreaker,
  exponentialBackoff,
  isTimeoutError,
  type PolicySnapshot,
  pipeline,
  type RetryPolicy,
  retry,
  retryBudget,
  type TimeoutPolicy,
  timeout,
} from '@flotilla/resilience';
import {
  type Discovery,
  type InstanceSnapshot,
  isUpstreamUnavailableError,
  type LoadBalancer,
  loadBalancer,
  UnknownServiceError,
} from '@flotilla/service';
import { Pool } from 'undici';
import type { z } from 'zod';
import type { UpstreamPolicy } from './config.js';

/** The resilience settings of one upstream service, every default applied. */
export type UpstreamSettings = z.output<typeof UpstreamPolicy>;

/** The built-in settings, overridden by `upstreamDefaults`, then by `upstreams.<service>`. */
export const DEFAULT_UPSTREAM_SETTINGS: UpstreamSettings = Object.freeze({
  timeoutMs: 5_000,
  maxAttempts: 2,
  breakerThreshold: 5,
  halfOpenAfterMs: 10_000,
  maxConcurrent: 256,
  connections: 64,
});

/** The longest wait between two attempts, in ms: retries go to a healthy instance fast or not at all. */
export const MAX_BACKOFF_MS = 250;

/** The connection pool of one instance, and the path prefix of its base URL. */
export interface Connection {
  readonly pool: Pool;
  /** The base URL's path without its trailing slash (`''` for most). */
  readonly prefix: string;
}

/** Errors that must not be retried: the request already reached the client, or the client left. */
const doNotRetry = new WeakSet<object>();
/** Errors that say nothing about the upstream's health (the client went away). */
const callerFaults = new WeakSet<object>();

/** Keeps the retry policy from retrying `err` (the response had started, or the client left). */
export function markNotRetryable<E>(err: E): E {
  if (typeof err === 'object' && err !== null) doNotRetry.add(err);
  return err;
}

/** Keeps the circuit breaker from counting `err` against the upstream. */
export function markCallerFault<E>(err: E): E {
  if (typeof err === 'object' && err !== null) {
    callerFaults.add(err);
    doNotRetry.add(err);
  }
  return err;
}

/** Worth another attempt: the upstream could not be reached or did not answer in time, and nothing was sent yet. */
const isRetryable = (err: unknown): boolean =>
  !(typeof err === 'object' && err !== null && doNotRetry.has(err)) &&
  (isUpstreamUnavailableError(err) || isTimeoutError(err));

/** Counts against the circuit: unreachable, reset, timed out (a 5xx response counts through `handleResult`). */
const isUpstreamFault = (err: unknown): boolean =>
  !(typeof err === 'object' && err !== null && callerFaults.has(err)) &&
  (isUpstreamUnavailableError(err) || isTimeoutError(err));

/** A 5xx answer: the status of a streamed attempt, or a buffered response. */
const isServerError = (result: unknown): boolean => {
  const status =
    typeof result === 'number'
      ? result
      : typeof result === 'object' && result !== null
        ? (result as { status?: unknown }).status
        : undefined;
  return typeof status === 'number' && status >= 500;
};

/** A composed policy, as the gateway runs it. */
export type PolicyRunner = AnyPolicy;

/** What the admin API shows of an upstream. */
export interface UpstreamReport {
  readonly service: string;
  readonly settings: UpstreamSettings;
  readonly breaker: string;
  readonly instances: readonly InstanceSnapshot[];
  /** Why discovery could not list instances, when it could not. */
  readonly discoveryError: string | undefined;
  readonly policies: PolicySnapshot;
}

/**
 * One upstream service: an undici `Pool` per instance behind a load balancer with outlier
 * ejection, and the policies every request to it shares (breaker, bulkhead, attempt timeout,
 * retry). Kept across configuration reloads while its settings do not change (internal).
 */
export class Upstream {
  readonly key: string;
  readonly balancer: LoadBalancer<Connection>;
  readonly breaker: CircuitBreakerPolicy;
  readonly bulkhead: BulkheadPolicy;
  readonly attemptTimeout: TimeoutPolicy;
  readonly retry: RetryPolicy | undefined;
  /** Snapshots (configurations in force or still serving requests) using this upstream. */
  refs = 0;
  private resolved = false;
  private discoveryError: string | undefined;
  private readonly parts: PolicyRunner;
  private readonly retryingParts: PolicyRunner;

  constructor(
    readonly service: string,
    readonly settings: UpstreamSettings,
    private readonly discovery: Discovery,
    clock: Clock,
  ) {
    this.key = upstreamKey(service, settings);
    const { connections } = settings;
    this.balancer = loadBalancer<Connection>({
      clock,
      connect: (url) => {
        const parsed = new URL(url);
        return {
          // No headers or body timeout of undici's own: the attempt timeout (always set) bounds
          // each attempt, body included. Undici's would only repeat it, at the price of a timer
          // object per request that lives until undici's next half-second sweep, long enough to
          // be promoted to V8's old generation and collected by its slow full GCs.
          pool: new Pool(parsed.origin, {
            connections,
            pipelining: 1,
            keepAliveTimeout: 4_000,
            headersTimeout: 0,
            bodyTimeout: 0,
          }),
          prefix: parsed.pathname === '/' ? '' : parsed.pathname.replace(/\/$/, ''),
        };
      },
      // Requests in flight finish; the pool closes after them.
      disconnect: (connection) => {
        connection.pool.close().catch(() => {});
      },
    });
    this.breaker = circuitBreaker({
      name: `${service}.breaker`,
      clock,
      breaker: consecutiveBreaker(settings.breakerThreshold),
      halfOpenAfterMs: settings.halfOpenAfterMs,
      handle: isUpstreamFault,
      handleResult: isServerError,
    });
    this.bulkhead = bulkhead({ name: `${service}.bulkhead`, clock, limit: settings.maxConcurrent, queue: 0 });
    // Aggressive: the gateway aborts the attempt itself when the timeout rejects (an abort
    // signal per request would cost more than the rest of the policies together).
    this.attemptTimeout = timeout({
      name: `${service}.timeout`,
      clock,
      timeoutMs: settings.timeoutMs,
      strategy: 'aggressive',
    });
    this.retry =
      settings.maxAttempts > 1
        ? retry({
            name: `${service}.retry`,
            clock,
            maxAttempts: settings.maxAttempts,
            backoff: exponentialBackoff({ initialDelayMs: 25, maxDelayMs: MAX_BACKOFF_MS }),
            handle: isRetryable,
            budget: retryBudget({ ratio: 0.2, clock }),
          })
        : undefined;
    this.parts = pipeline(...this.inner());
    this.retryingParts = this.retry === undefined ? this.parts : pipeline(this.retry, ...this.inner());
  }

  /** The breaker, bulkhead and attempt timeout, outermost first. */
  private inner(): [CircuitBreakerPolicy, BulkheadPolicy, TimeoutPolicy] {
    return [this.breaker, this.bulkhead, this.attemptTimeout];
  }

  /** breaker > bulkhead > attempt timeout: one attempt (also for aggregate parts and shadow copies). */
  get once(): PolicyRunner {
    return this.parts;
  }

  /** retry > breaker > bulkhead > attempt timeout, for idempotent requests. */
  get retrying(): PolicyRunner {
    return this.retryingParts;
  }

  /**
   * Makes sure the instances are known; throws discovery's `UnknownServiceError` (or one saying
   * the list is empty) while they are not.
   */
  ensureInstances(): void {
    if (this.resolved) return;
    this.refresh();
    if (!this.resolved) throw new UnknownServiceError(this.service, this.discoveryError as string);
  }

  /** Reads the instance list from discovery again (after a topology change). */
  refresh(): void {
    try {
      const urls = this.discovery.resolve(this.service);
      this.balancer.update(urls);
      this.resolved = urls.length > 0;
      this.discoveryError = this.resolved ? undefined : `discovery lists no instance of "${this.service}"`;
    } catch (err) {
      this.discoveryError = (err as Error).message;
      this.resolved = false;
    }
  }

  report(): UpstreamReport {
    return {
      service: this.service,
      settings: this.settings,
      breaker: this.breaker.state,
      instances: this.balancer.snapshot(),
      discoveryError: this.discoveryError,
      policies: this.retryingParts.snapshot(),
    };
  }

  /** Closes the pools once their requests are done. */
  close(): void {
    this.balancer.close();
  }
}

/** The identity of an upstream's settings: an upstream is rebuilt when this changes. */
export function upstreamKey(service: string, settings: UpstreamSettings): string {
  return `${service}|${settings.timeoutMs}|${settings.maxAttempts}|${settings.breakerThreshold}|${settings.halfOpenAfterMs}|${settings.maxConcurrent}|${settings.connections}`;
}
