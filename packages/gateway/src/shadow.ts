import type { RandomSource } from '@flotilla/resilience';
import type { SplitConfig } from './config.js';
import { type ComparisonResult, compileJsonPaths, type Difference } from './json-compare.js';

export {
  type CapturedResponse,
  type ComparisonResult,
  compareResponses,
  type Difference,
  type ResponseSnapshot,
} from './json-compare.js';

/** Shadow settings of a split, as configured (`split.shadow`). */
export type ShadowConfig = NonNullable<SplitConfig['shadow']>;

/** A shadow comparison that found differences, kept with both responses for inspection. */
export interface MismatchSample {
  /** When it was recorded (ISO 8601). */
  readonly at: string;
  /** The request's method and path (empty when the proxy did not say). */
  readonly method: string;
  readonly path: string;
  /**
   * The response served to the client (by legacy) and the candidate's mirrored response; status
   * 0 and no body when the result did not come from `compareResponses`.
   */
  readonly primary: { status: number; body: unknown };
  readonly candidate: { status: number; body: unknown };
  readonly differences: ComparisonResult['differences'];
}

/** The request a comparison belongs to, for its mismatch sample. */
export interface ShadowRequest {
  readonly method: string;
  readonly path: string;
}

/** Shadow counters and samples of one split. */
export interface ShadowStatus {
  /** Comparisons recorded since the controller started. */
  readonly compared: number;
  /** Comparisons that found differences. */
  readonly mismatches: number;
  /** mismatches / compared since the controller started, 0 before the first comparison. */
  readonly mismatchRate: number;
  /** The most recent mismatches, newest first, at most `shadow.keepSamples`. */
  readonly samples: readonly MismatchSample[];
}

/** The shadow traffic of one split (internal to the split controller). */
export interface ShadowTraffic {
  /** Whether a request served by legacy is mirrored: a safe method (or unsafe allowed) and sampled. */
  shouldMirror(method: string): boolean;
  /** Counts a comparison and keeps it as a sample when it is a mismatch. */
  record(result: ComparisonResult, request: ShadowRequest | undefined, at: string): void;
  /** Counters and samples as of now. */
  status(): ShadowStatus;
}

/** Methods without side effects on the server, so mirroring them cannot change data twice. */
const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

const NO_RESPONSE = { status: 0, body: undefined } as const;

/**
 * Creates the shadow traffic of one split. Ignore paths are compiled here so a bad one fails the
 * configuration, not a request; `field` names the config in error messages.
 *
 * @example
 * const shadow = createShadowTraffic(route.split!.shadow!, Math.random, 'route "orders" split.shadow');
 * if (shadow.shouldMirror('GET')) shadow.record(compareResponses(primary, candidate, []), { method: 'GET', path: '/api/orders/1' }, new Date().toISOString());
 */
export function createShadowTraffic(
  config: ShadowConfig,
  random: RandomSource,
  field: string,
): ShadowTraffic {
  const { sampleRate, allowUnsafeMethods, keepSamples } = config;
  if (!(sampleRate >= 0 && sampleRate <= 1))
    throw new RangeError(`${field}.sampleRate must be in 0..1, got ${sampleRate}`);
  if (!Number.isInteger(keepSamples) || keepSamples < 0)
    throw new RangeError(`${field}.keepSamples must be an integer >= 0, got ${keepSamples}`);
  compileJsonPaths(config.ignore, `${field}.ignore`);

  let compared = 0;
  let mismatches = 0;
  // A ring of the newest samples: `next` is where the next one goes.
  const samples: MismatchSample[] = [];
  let next = 0;

  return {
    shouldMirror(method) {
      if (!allowUnsafeMethods && !SAFE_METHODS.has(method.toUpperCase())) return false;
      // random() is in [0, 1): a rate of 1 always mirrors, a rate of 0 never does.
      return sampleRate > 0 && random() < sampleRate;
    },
    record(result, request, at) {
      compared++;
      if (result.match) return;
      mismatches++;
      if (keepSamples === 0) return;
      const sample: MismatchSample = {
        at,
        method: request?.method ?? '',
        path: request?.path ?? '',
        primary: result.primary ?? NO_RESPONSE,
        candidate: result.candidate ?? NO_RESPONSE,
        differences: result.differences as readonly Difference[],
      };
      if (samples.length < keepSamples) samples.push(sample);
      else samples[next] = sample;
      next = (next + 1) % keepSamples;
    },
    status() {
      const newestFirst: MismatchSample[] = [];
      for (let i = 1; i <= samples.length; i++)
        newestFirst.push(samples[(next - i + samples.length * 2) % samples.length] as MismatchSample);
      return {
        compared,
        mismatches,
        mismatchRate: compared === 0 ? 0 : mismatches / compared,
        samples: newestFirst,
      };
    },
  };
}
