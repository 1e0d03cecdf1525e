import type { HealthCheck } from './health-check.js';

/** The lifecycle phase of a service, as its probes report it. */
export type ServicePhase = 'starting' | 'ready' | 'draining' | 'stopped';

/** The result of one check in `/health/ready`. */
export interface CheckReport {
  readonly status: 'pass' | 'fail';
  /** How long the check took, in milliseconds. */
  readonly latencyMs: number;
  /** Why it failed. */
  readonly error?: string;
  /** Whether a failure makes the service unready. */
  readonly critical: boolean;
  readonly details?: Readonly<Record<string, unknown>>;
}

/** The body of `/health/ready`. */
export interface ReadinessReport {
  /** `ready` (200) or `not_ready`, `starting`, `draining` (503). */
  readonly status: 'ready' | 'not_ready' | 'starting' | 'draining';
  readonly checks: Readonly<Record<string, CheckReport>>;
}

const DEFAULT_CHECK_TIMEOUT_MS = 2000;

/**
 * Runs every check concurrently, each bounded by its own time limit (its signal aborts and the
 * check counts as failed when the limit passes, even if the check ignores the signal).
 */
export async function runChecks(checks: readonly HealthCheck[]): Promise<Record<string, CheckReport>> {
  const entries = await Promise.all(
    checks.map(async (check): Promise<[string, CheckReport]> => {
      const critical = check.critical ?? true;
      const limit = check.timeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS;
      const controller = new AbortController();
      const start = performance.now();
      let timer: NodeJS.Timeout | undefined;
      try {
        const result = await Promise.race([
          check.check(controller.signal),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => {
              const err = new Error(`timed out after ${limit} ms`);
              controller.abort(err);
              reject(err);
            }, limit);
          }),
        ]);
        const details = result === undefined || result === null ? undefined : result.details;
        return [
          check.name,
          {
            status: 'pass',
            latencyMs: round(performance.now() - start),
            critical,
            ...(details === undefined ? {} : { details }),
          },
        ];
      } catch (err) {
        return [
          check.name,
          { status: 'fail', latencyMs: round(performance.now() - start), critical, error: messageOf(err) },
        ];
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  return Object.fromEntries(entries);
}

/** Readiness from the phase and the check results. */
export function readiness(phase: ServicePhase, checks: Record<string, CheckReport>): ReadinessReport {
  if (phase === 'starting') return { status: 'starting', checks };
  if (phase === 'draining' || phase === 'stopped') return { status: 'draining', checks };
  const failed = Object.values(checks).some((c) => c.status === 'fail' && c.critical);
  return { status: failed ? 'not_ready' : 'ready', checks };
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
