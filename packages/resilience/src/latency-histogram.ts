/**
 * A log-linear latency histogram over microseconds: 8 buckets per power of two (±6% error),
 * from 1 µs to ~35 minutes, in 256 counters. Recording is a few integer operations.
 */
export class LatencyHistogram {
  private readonly counts = new Uint32Array(256);
  private total = 0;
  private sumMs = 0;
  private maxMs = 0;

  /** Records one duration in milliseconds. */
  record(durationMs: number): void {
    const us = durationMs <= 0 ? 0 : Math.min(0x7fffffff, Math.round(durationMs * 1000));
    const counts = this.counts;
    counts[bucketOf(us)] = (counts[bucketOf(us)] ?? 0) + 1;
    this.total++;
    this.sumMs += durationMs;
    if (durationMs > this.maxMs) this.maxMs = durationMs;
  }

  /** Adds every count of `other` into this histogram. */
  merge(other: LatencyHistogram): void {
    for (let i = 0; i < 256; i++) this.counts[i] = (this.counts[i] ?? 0) + (other.counts[i] ?? 0);
    this.total += other.total;
    this.sumMs += other.sumMs;
    if (other.maxMs > this.maxMs) this.maxMs = other.maxMs;
  }

  /** Forgets every recorded value. */
  clear(): void {
    this.counts.fill(0);
    this.total = 0;
    this.sumMs = 0;
    this.maxMs = 0;
  }

  /** Number of recorded values. */
  get count(): number {
    return this.total;
  }

  /** Arithmetic mean in milliseconds (0 when empty). */
  get meanMs(): number {
    return this.total === 0 ? 0 : this.sumMs / this.total;
  }

  /** Largest recorded value in milliseconds (0 when empty). */
  get max(): number {
    return this.maxMs;
  }

  /** The value in milliseconds at quantile `q` (0..1), to the histogram's precision; 0 when empty. */
  quantile(q: number): number {
    if (this.total === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.total));
    let seen = 0;
    for (let i = 0; i < 256; i++) {
      seen += this.counts[i] ?? 0;
      if (seen >= rank) return Math.min(this.maxMs, midpointOf(i) / 1000);
    }
    return this.maxMs;
  }
}

/** Bucket index of a duration in whole microseconds. Values below 8 µs get a bucket each. */
function bucketOf(us: number): number {
  if (us < 8) return us;
  const exp = 31 - Math.clz32(us); // floor(log2(us)), >= 3
  return (exp - 2) * 8 + ((us >>> (exp - 3)) & 7);
}

/** Representative value (µs) of a bucket: the middle of its range. */
function midpointOf(index: number): number {
  if (index < 8) return index;
  const exp = (index >>> 3) + 2;
  const sub = index & 7;
  const low = (8 + sub) * 2 ** (exp - 3);
  return low + 2 ** (exp - 4);
}
