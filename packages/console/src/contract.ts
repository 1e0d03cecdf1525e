// The console's wire contract: what the backend (in the supervisor, under /console/api) sends and
// what the browser app reads. Types only, so the web app can import them without Node code.
import type { MigrationStatus } from '@flotilla/gateway';
import type { PolicySnapshot } from '@flotilla/resilience';
import type { SagaAttempt, SagaDetails, SagaState, SagaSummary } from '@flotilla/saga';
import type { SpanRecord } from '@flotilla/service';

export type { MigrationStatus, PolicySnapshot, SagaAttempt, SagaDetails, SagaState, SagaSummary, SpanRecord };

/** A supervised instance's state, as the supervisor reports it. */
export type InstanceState = 'starting' | 'ready' | 'unready' | 'crashed' | 'stopped' | 'frozen';

/** One instance of a service. */
export interface ConsoleInstance {
  readonly instance: number;
  readonly url: string;
  readonly pid: number | null;
  readonly state: InstanceState;
  readonly restarts: number;
  readonly uptimeMs: number | null;
}

/**
 * A service node: `health` is `ready` when every instance is ready, `degraded` when some are,
 * `down` when none is.
 */
export interface ConsoleService {
  readonly service: string;
  readonly health: 'ready' | 'degraded' | 'down';
  readonly critical: boolean;
  readonly instances: readonly ConsoleInstance[];
}

/** Traffic observed on one edge over the last `windowMs` of the snapshot. */
export interface ConsoleEdge {
  /** Caller (`call`) or producer (`event`) service. */
  readonly from: string;
  /** Callee or consuming service. */
  readonly to: string;
  readonly kind: 'call' | 'event';
  /** Event type for `event` edges. */
  readonly label?: string;
  /** Calls (or deliveries) in the window. */
  readonly count: number;
  readonly ratePerSec: number;
  /** Failed fraction, 0..1. */
  readonly errorRate: number;
  /** 99th percentile duration in the window, ms; `null` without samples. */
  readonly p99Ms: number | null;
}

/** One (caller, upstream) pair's policies, as a Hystrix-style tile shows them. */
export interface ConsoleResilienceTile {
  readonly caller: string;
  /** Which caller instance reported it. */
  readonly callerInstance: number;
  readonly upstream: string;
  /** `closed`, `open`, `half-open`, `isolated`; `null` without a breaker. */
  readonly breaker: string | null;
  /** Rolling window counts of the outermost policy. */
  readonly window: {
    readonly calls: number;
    readonly successes: number;
    readonly failures: number;
    readonly rejections: number;
    readonly failureRate: number;
    readonly p50Ms: number | null;
    readonly p90Ms: number | null;
    readonly p99Ms: number | null;
  };
  /** Bulkhead use, when the upstream has one. */
  readonly bulkhead: { readonly active: number; readonly queued: number; readonly limit: number } | null;
  /** Retry budget, when the upstream has one: retries allowed and spent in the current window. */
  readonly retryBudget: { readonly spent: number; readonly available: number } | null;
  /** Instances of the upstream as the caller's load balancer sees them. */
  readonly instances: readonly {
    readonly url: string;
    readonly outstanding: number;
    readonly ejected: boolean;
  }[];
  /** The raw policy snapshot (outermost first), for details. */
  readonly policy: PolicySnapshot;
}

/** One second of traffic through the gateway. */
export interface ConsolePoint {
  /** Second start, epoch ms. */
  readonly t: number;
  readonly requests: number;
  /** Responses with status >= 500 or transport failures. */
  readonly errors: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
}

/** Event traffic and consumer health. */
export interface ConsoleEvents {
  /** Per event type over the snapshot window. */
  readonly types: readonly {
    readonly type: string;
    readonly publishedPerSec: number;
    readonly consumedPerSec: number;
  }[];
  /** Per (service, group): counters since the service started and the transport's lag. */
  readonly groups: readonly {
    readonly service: string;
    readonly group: string;
    readonly handled: number;
    readonly failed: number;
    readonly duplicates: number;
    readonly deadLettered: number;
    /** Messages not yet settled by the group; `null` when the transport cannot tell. */
    readonly lag: number | null;
    readonly p99Ms: number | null;
  }[];
  /** Per service with an outbox. */
  readonly outboxes: readonly {
    readonly service: string;
    readonly backlog: number;
    readonly oldestAgeMs: number | null;
  }[];
  /** Dead letters waiting, over every service. */
  readonly deadLetters: number;
}

/** Saga counts by state, per service that runs sagas. */
export interface ConsoleSagaCounts {
  readonly service: string;
  readonly counts: Readonly<Partial<Record<SagaState, number>>>;
}

/** The load generator run from the console. */
export interface ConsoleLoad {
  readonly running: boolean;
  readonly concurrency: number;
  readonly startedAt: number | null;
  /** Iterations finished, and those that failed (threw or reported an error outcome). */
  readonly completed: number;
  readonly failed: number;
  /** Outcome counts, as the system's load scenario reports them. */
  readonly outcomes: Readonly<Record<string, number>>;
}

/** Network faults on the calls into one service (a fault proxy in front of each instance). */
export interface ConsoleFault {
  readonly service: string;
  readonly latencyMs: number;
  readonly jitterMs: number;
  /** 0 = unlimited. */
  readonly bandwidthBytesPerSecond: number;
  readonly resetProbability: number;
  readonly blackhole: boolean;
  readonly errorRate: number;
}

/** What `GET /console/api/stream` sends as `snapshot`, about once a second. */
export interface ConsoleSnapshot {
  /** Epoch ms. */
  readonly at: number;
  readonly system: { readonly name: string; readonly profile: string | null };
  /** Length of the window rates and percentiles are computed over, ms. */
  readonly windowMs: number;
  readonly services: readonly ConsoleService[];
  readonly edges: readonly ConsoleEdge[];
  readonly resilience: readonly ConsoleResilienceTile[];
  /** The last 120 seconds of gateway traffic, oldest first. */
  readonly series: readonly ConsolePoint[];
  readonly events: ConsoleEvents;
  readonly sagas: readonly ConsoleSagaCounts[];
  readonly migrations: readonly MigrationStatus[];
  readonly load: ConsoleLoad | null;
  /**
   * Network faults: `available` is false when the system runs without fault proxies
   * (`flotilla up --fault-proxies` places them); `active` lists services with any fault set.
   */
  readonly faults: {
    readonly available: boolean;
    readonly services: readonly string[];
    readonly active: readonly ConsoleFault[];
  };
  /** Sources that could not be read for this snapshot (a service down, a timeout), with why. */
  readonly problems: readonly { readonly source: string; readonly message: string }[];
}

/** A supervisor event relayed on the stream as `supervisor` (state changes, exits, restarts). */
export interface ConsoleSupervisorEvent {
  readonly type: string;
  readonly service?: string;
  readonly instance?: number;
  readonly [key: string]: unknown;
}

/** `GET /console/api/sagas?state&service&limit`: sagas of every saga-running service, newest first. */
export interface ConsoleSagaList {
  readonly items: readonly (SagaSummary & { readonly service: string })[];
}

/** `GET /console/api/sagas/:service/:id`: one saga, with its trace id when it has one. */
export type ConsoleSagaDetails = SagaDetails & { readonly service: string; readonly traceId: string | null };

/** `GET /console/api/traces?limit`: recent traces that entered through the gateway, newest first. */
export interface ConsoleTraceList {
  readonly items: readonly {
    readonly traceId: string;
    /** The root span's name, e.g. `POST /api/v2/orders`. */
    readonly name: string;
    readonly startTimeMs: number;
    readonly durationMs: number;
    readonly status: 'ok' | 'error';
    readonly spans: number;
    readonly services: readonly string[];
  }[];
}

/** `GET /console/api/traces/:traceId`: every span of one trace from every instance, by start time. */
export interface ConsoleTrace {
  readonly traceId: string;
  readonly spans: readonly (SpanRecord & { readonly instance: number })[];
}

/** `GET /console/api/spans?sinceMs`: every span the running instances still hold, by start time. */
export interface ConsoleSpans {
  readonly spans: readonly (SpanRecord & { readonly instance: number })[];
}

/** `GET /console/api/dead-letters`: dead letters of every service, oldest first. */
export interface ConsoleDeadLetterList {
  readonly items: readonly ConsoleDeadLetter[];
}

/** One dead letter (`GET /console/api/dead-letters/:service/:id` adds `payload`). */
export interface ConsoleDeadLetter {
  readonly service: string;
  readonly id: string;
  readonly group: string;
  readonly eventId: string;
  readonly eventType: string;
  readonly subject: string;
  readonly reason: string;
  readonly attempts: number;
  readonly error: { readonly name: string; readonly message: string } | null;
  /** Epoch ms. */
  readonly deadLetteredAt: number;
  readonly payload?: unknown;
}

/** Body of `POST /console/api/faults`: faults on the calls into `service` (unset fields keep their value). */
export interface ConsoleFaultRequest {
  readonly service: string;
  readonly latencyMs?: number;
  readonly jitterMs?: number;
  readonly bandwidthBytesPerSecond?: number;
  readonly resetProbability?: number;
  readonly blackhole?: boolean;
  readonly errorRate?: number;
}

/** Body of `POST /console/api/load`. */
export interface ConsoleLoadRequest {
  /** Concurrent simulated customers, 1..64. */
  readonly concurrency: number;
}

/** Error body of every console API failure. */
export interface ConsoleError {
  readonly error: { readonly code: string; readonly message: string };
}
