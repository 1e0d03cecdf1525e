/** Percentiles of the most recent samples of a duration. */
export interface LatencySummary {
  /** Samples recorded since the bus started. */
  readonly count: number;
  /** Median of the last 1024 samples, in milliseconds; `null` before the first. */
  readonly p50Ms: number | null;
  /** 99th percentile of the last 1024 samples, in milliseconds; `null` before the first. */
  readonly p99Ms: number | null;
  /** Largest of the last 1024 samples, in milliseconds; `null` before the first. */
  readonly maxMs: number | null;
}

/** What one consumer group of this bus instance did since it started. */
export interface GroupStats {
  /** Events whose handler committed. */
  readonly handled: number;
  /** Redeliveries acknowledged without running the handler (already in the inbox). */
  readonly duplicates: number;
  /** Handler attempts that failed (each one rolled back). */
  readonly failed: number;
  /** Events dead-lettered after `maxAttempts`. */
  readonly deadLettered: number;
  /** Malformed events dead-lettered on receipt, without a handler call. */
  readonly poison: number;
  /** Time from delivery to the handler's commit. */
  readonly handlerLatency: LatencySummary;
  /** Time from the envelope's `time` (publish) to the handler's commit, by the wall clocks involved. */
  readonly endToEndLatency: LatencySummary;
}

const WINDOW = 1024;

/** A ring of the last 1024 durations (internal). */
export class LatencyWindow {
  private readonly samples = new Float64Array(WINDOW);
  private count = 0;

  record(ms: number): void {
    this.samples[this.count % WINDOW] = ms;
    this.count++;
  }

  summary(): LatencySummary {
    const n = Math.min(this.count, WINDOW);
    if (n === 0) return { count: 0, p50Ms: null, p99Ms: null, maxMs: null };
    const sorted = this.samples.slice(0, n).sort();
    const at = (q: number): number => sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))]!;
    return { count: this.count, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: sorted[n - 1]! };
  }
}

/** Mutable counters of one group (internal). */
export class GroupCounters {
  handled = 0;
  duplicates = 0;
  failed = 0;
  deadLettered = 0;
  poison = 0;
  readonly handlerLatency = new LatencyWindow();
  readonly endToEndLatency = new LatencyWindow();

  snapshot(): GroupStats {
    return {
      handled: this.handled,
      duplicates: this.duplicates,
      failed: this.failed,
      deadLettered: this.deadLettered,
      poison: this.poison,
      handlerLatency: this.handlerLatency.summary(),
      endToEndLatency: this.endToEndLatency.summary(),
    };
  }
}
