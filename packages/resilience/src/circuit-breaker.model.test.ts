import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { circuitBreaker, isBrokenCircuitError } from './circuit-breaker.js';
import { consecutiveBreaker } from './consecutive-breaker.js';
import { manualClock } from './manual-clock.js';

interface Config {
  readonly threshold: number;
  readonly halfOpenAfterMs: number;
  readonly halfOpenAfterMaxMs: number;
  readonly halfOpenAfterMultiplier: number;
  readonly halfOpenSuccesses: number;
}

type Command =
  | { readonly kind: 'succeed' }
  | { readonly kind: 'fail' }
  | { readonly kind: 'advance'; readonly ms: number };

/** The reference: consecutive-breaker semantics for sequential calls, in a dozen lines. */
class Model {
  state: 'closed' | 'open' | 'half-open' = 'closed';
  private failures = 0;
  private now = 0;
  private openUntil = 0;
  private openCount = 0;
  private probeSuccesses = 0;

  constructor(private readonly config: Config) {}

  advance(ms: number): void {
    this.now += ms;
    this.elapse();
  }

  /** Runs one call; returns `undefined` when it ran, or the retryAfterMs of its rejection. */
  call(ok: boolean): number | undefined {
    this.elapse();
    if (this.state === 'open') return this.openUntil - this.now;
    if (this.state === 'closed') {
      this.failures = ok ? 0 : this.failures + 1;
      if (this.failures >= this.config.threshold) this.open();
    } else if (!ok) {
      this.open();
    } else if (++this.probeSuccesses >= this.config.halfOpenSuccesses) {
      this.state = 'closed';
      this.failures = 0;
      this.openCount = 0;
    }
    return undefined;
  }

  private elapse(): void {
    if (this.state === 'open' && this.now >= this.openUntil) {
      this.state = 'half-open';
      this.probeSuccesses = 0;
    }
  }

  private open(): void {
    const { halfOpenAfterMs, halfOpenAfterMaxMs, halfOpenAfterMultiplier } = this.config;
    this.openCount = this.state === 'half-open' ? this.openCount + 1 : 1;
    this.openUntil =
      this.now +
      Math.min(halfOpenAfterMaxMs, halfOpenAfterMs * halfOpenAfterMultiplier ** (this.openCount - 1));
    this.state = 'open';
  }
}

const config: fc.Arbitrary<Config> = fc
  .record({
    threshold: fc.integer({ min: 1, max: 4 }),
    halfOpenAfterMs: fc.integer({ min: 0, max: 50 }),
    growth: fc.integer({ min: 1, max: 4 }),
    halfOpenAfterMultiplier: fc.constantFrom(1, 2, 3),
    halfOpenSuccesses: fc.integer({ min: 1, max: 3 }),
  })
  .map(({ growth, ...c }) => ({ ...c, halfOpenAfterMaxMs: c.halfOpenAfterMs * growth }));

const command: fc.Arbitrary<Command> = fc.oneof(
  { arbitrary: fc.constant({ kind: 'succeed' as const }), weight: 3 },
  { arbitrary: fc.constant({ kind: 'fail' as const }), weight: 4 },
  { arbitrary: fc.integer({ min: 0, max: 120 }).map((ms) => ({ kind: 'advance' as const, ms })), weight: 2 },
);

describe('circuitBreaker model', () => {
  it('matches a reference model of consecutive-breaker semantics on random command sequences', async () => {
    await fc.assert(
      fc.asyncProperty(config, fc.array(command, { maxLength: 40 }), async (cfg, commands) => {
        const clock = manualClock();
        const breaker = circuitBreaker({ ...cfg, breaker: consecutiveBreaker(cfg.threshold), clock });
        const model = new Model(cfg);
        for (const [step, cmd] of commands.entries()) {
          const at = `step ${step} (${JSON.stringify(cmd)})`;
          if (cmd.kind === 'advance') {
            await clock.advance(cmd.ms);
            model.advance(cmd.ms);
          } else {
            let ran = false;
            const outcome = await breaker
              .execute(() => {
                ran = true;
                if (cmd.kind === 'fail') throw new Error('boom');
                return 'ok';
              })
              .then(
                () => undefined,
                (e: unknown) => e,
              );
            const expected = model.call(cmd.kind === 'succeed');
            if (expected === undefined) {
              assert.equal(ran, true, `${at}: the call should have run`);
              if (cmd.kind === 'succeed') assert.equal(outcome, undefined, at);
            } else {
              assert.equal(ran, false, `${at}: the call should have been rejected`);
              assert.ok(isBrokenCircuitError(outcome), at);
              assert.equal(outcome.retryAfterMs, expected, `${at}: retryAfterMs`);
            }
          }
          assert.equal(breaker.state, model.state, `${at}: state`);
        }
      }),
      { numRuns: 300 },
    );
  });
});
