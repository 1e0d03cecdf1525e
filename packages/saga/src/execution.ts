import type { EventEnvelope } from '@flotilla/events';
import { isTimeoutError, TimeoutError } from '@flotilla/resilience';
import type { AnySagaDefinition, StepDefinition } from './define-saga.js';
import type { Engine } from './engine.js';
import {
  isSagaLeaseLostError,
  messageOf,
  retryHintMs,
  SagaDeadlineError,
  SagaLeaseLostError,
} from './errors.js';
import type { LoggedAttempt } from './migrations.js';
import {
  awaitStartCommitted,
  type Checkpoint,
  type InstanceRow,
  releaseLease,
  type SagaDb,
  writeCheckpoint,
} from './saga-store.js';
import type { SagaDirection, SagaState } from './states.js';
import { keyedClient, type StepContext } from './step-context.js';
import { childContext, parseTraceparent, type SagaSpan, type TraceContext } from './trace.js';

type Phase = 'action' | 'compensation';

/** Thrown inside a transaction to roll it back when the start of a saga turned out not to be committed. */
class NotCommitted extends Error {}

/**
 * A transaction's COMMIT failed with its connection (a terminated backend, a failover): it may or
 * may not have committed, so only the database knows the instance's state now.
 */
class CommitOutcomeUnknown extends Error {}

/** The part of an execution a checkpoint changes (restored when its transaction fails). */
interface Snapshot {
  readonly state: SagaState;
  readonly direction: SagaDirection;
  readonly stepIndex: number;
  readonly attempt: number;
  readonly reply: string | null;
  readonly lastError: string | null;
  readonly leaseUntil: number;
  readonly log: LoggedAttempt[];
}

/**
 * Runs one leased saga instance until it finishes, parks, waits for a retry, or loses its lease
 * (internal). It keeps the instance in memory between checkpoints, so a step costs no read.
 */
export class Execution {
  private ctx: Record<string, unknown>;
  private state: SagaState;
  private direction: SagaDirection;
  private stepIndex: number;
  private attempt: number;
  private reply: string | null;
  private lastError: string | null;
  private leaseUntil: number;
  /** The attempt log, persisted with every checkpoint (the saga's timeline). */
  private log: LoggedAttempt[];
  /**
   * After a batch of local steps failed at this step: the steps before it run (together) first,
   * then it runs alone, so its failure is recorded and the others are not held back by it.
   */
  private isolate: number | undefined;
  private readonly parent: TraceContext | undefined;

  constructor(
    private readonly engine: Engine,
    private readonly row: InstanceRow,
    private readonly def: AnySagaDefinition,
    /**
     * The instance was inserted, leased to this runner, by `start()` in a transaction not known
     * to have committed: the first write must make sure it did (PostgreSQL waits for it).
     */
    private unconfirmed: boolean,
  ) {
    this.ctx = JSON.parse(row.ctx) as Record<string, unknown>;
    this.state = row.state as SagaState;
    this.direction = row.direction as SagaDirection;
    this.stepIndex = row.step_index;
    this.attempt = row.attempt;
    this.reply = row.reply;
    this.lastError = row.last_error;
    this.leaseUntil = row.lease_until;
    this.log = JSON.parse(row.log) as LoggedAttempt[];
    this.parent = parseTraceparent(row.traceparent ?? undefined);
  }

  get id(): string {
    return this.row.id;
  }

  /** Runs until the saga no longer needs this runner. Never rejects. */
  async run(): Promise<void> {
    try {
      while (await this.next()) {
        /* each turn advanced the saga by one transaction */
      }
    } catch (err) {
      if (err instanceof NotCommitted) return;
      if (err instanceof CommitOutcomeUnknown) {
        await this.handOver(err);
        return;
      }
      if (isSagaLeaseLostError(err)) {
        this.engine.emit({ type: 'lease-lost', sagaId: this.id, saga: this.def.name });
        this.engine.o.logger.warn(
          { sagaId: this.id, saga: this.def.name, epoch: this.row.epoch },
          'saga lease lost; another runner holds it now',
        );
        return;
      }
      // A database failure: the lease expires and a runner (this one, at its next poll) resumes it.
      this.engine.o.logger.error(
        { err, sagaId: this.id, saga: this.def.name },
        'saga execution failed; will resume',
      );
    }
  }

  /** One transaction's worth of progress; `false` when this runner is done with the saga. */
  private async next(): Promise<boolean> {
    const e = this.engine;
    if (e.closing) {
      await this.transaction((tx) => this.write(tx, { lease_owner: null, lease_until: 0 }));
      return false;
    }
    const steps = this.def.steps;
    if (this.direction === 'backward') return this.compensateNext();
    if (this.stepIndex >= steps.length) {
      await this.transaction((tx) => this.finish(tx, 'completed'));
      this.settle('completed');
      return false;
    }
    const step = steps[this.stepIndex] as StepDefinition;
    const deadline = this.row.deadline_at;
    if (deadline !== null && e.o.now() >= deadline && this.beforePivot(this.stepIndex)) {
      await this.beginCompensation(new SagaDeadlineError(this.id, deadline), this.stepIndex - 1, null);
      return true;
    }
    if (step.type === 'local') return this.runLocal();
    if (step.type === 'call') return this.runCall(step, 'action');
    return this.runCommand(step);
  }

  // ---- forward ----

  private async runLocal(): Promise<boolean> {
    const steps = this.def.steps;
    const deadline = this.row.deadline_at;
    const batch: StepDefinition[] = [];
    for (
      let i = this.stepIndex;
      i < steps.length && batch.length < this.engine.o.maxStepsPerTransaction;
      i++
    ) {
      const s = steps[i] as StepDefinition;
      if (s.type !== 'local') break;
      if (
        this.isolate !== undefined &&
        batch.length > 0 &&
        (i === this.isolate || this.stepIndex === this.isolate)
      )
        break;
      // Past the deadline, only the first step runs, so that the check before each step holds.
      if (batch.length > 0 && deadline !== null && this.engine.o.now() >= deadline && this.beforePivot(i))
        break;
      batch.push(s);
    }
    const attempt = this.attempt + 1;
    const startedAt = this.engine.o.now();
    const t0 = this.engine.o.clock.now();
    const spans: SagaSpan[] = [];
    let ctx = this.ctx;
    let failedAt: StepDefinition | undefined;
    try {
      await this.transaction(async (tx) => {
        ctx = this.ctx;
        const attempts: LoggedAttempt[] = [];
        for (const step of batch) {
          failedAt = step;
          const span = this.span(step, 'action', attempt);
          if (span !== undefined) spans.push(span);
          const out = await step.local!(tx as never, ctx, this.stepContext(step, 'action', attempt, span));
          ctx = merge(ctx, out);
          const finishedAt = this.engine.o.now();
          attempts.push(
            this.attemptRow(
              step,
              'action',
              step === batch[0] ? attempt : 1,
              'ok',
              null,
              startedAt,
              finishedAt,
            ),
          );
        }
        failedAt = undefined;
        const last = batch[batch.length - 1] as StepDefinition;
        const done = last.index + 1 >= this.def.steps.length;
        await this.write(tx, {
          log: [...this.log, ...attempts],
          state: done ? 'completed' : 'running',
          step_index: last.index + 1,
          attempt: 0,
          ctx: JSON.stringify(ctx),
          ...(done ? { lease_owner: null, lease_until: 0 } : {}),
        });
      });
    } catch (err) {
      for (const span of spans) endSpan(span, err);
      if (err instanceof NotCommitted || err instanceof CommitOutcomeUnknown || isSagaLeaseLostError(err))
        throw err;
      const failing = failedAt ?? (batch[0] as StepDefinition);
      if (batch.length > 1) {
        // Nothing of the batch committed: run the steps before the failing one, then it alone.
        this.isolate = failing.index;
        return true;
      }
      this.isolate = undefined;
      return this.failed(failedAt ?? (batch[0] as StepDefinition), 'action', attempt, err, t0, false);
    }
    for (const span of spans) endSpan(span);
    if (this.isolate !== undefined && batch.some((s) => s.index === this.isolate)) this.isolate = undefined;
    const seconds = (this.engine.o.clock.now() - t0) / 1000 / batch.length;
    for (const step of batch) this.succeeded(step, 'action', attempt, seconds);
    this.ctx = ctx;
    if (this.state === 'completed') {
      this.settle('completed');
      return false;
    }
    return true;
  }

  private async runCall(step: StepDefinition, phase: Phase): Promise<boolean> {
    const attempt = this.attempt + 1;
    const startedAt = this.engine.o.now();
    const t0 = this.engine.o.clock.now();
    // Record the attempt and make sure the lease outlives the call before making it.
    const until = startedAt + Math.max(this.engine.o.leaseMs, step.timeoutMs + this.engine.o.leaseMs / 2);
    await this.transaction(async (tx) => {
      await this.write(tx, {
        attempt,
        lease_until: until,
        log: [...this.log, this.attemptRow(step, phase, attempt, 'started', null, startedAt, null)],
      });
    });
    const span = this.span(step, phase, attempt);
    const fn =
      phase === 'action'
        ? step.call!
        : (step.compensate as { call: NonNullable<StepDefinition['call']> }).call;
    let out: unknown;
    try {
      out = await this.withTimeout(step.timeoutMs, (signal) =>
        fn(this.ctx, this.stepContext(step, phase, attempt, span, signal)),
      );
    } catch (err) {
      endSpan(span, err);
      return this.failed(step, phase, attempt, err, t0, true);
    }
    endSpan(span);
    return this.advance(step, phase, attempt, phase === 'action' ? out : undefined, t0, true);
  }

  private async runCommand(step: StepDefinition): Promise<boolean> {
    const command = step.command!;
    if (this.reply !== null) {
      const envelope = JSON.parse(this.reply) as EventEnvelope;
      const t0 = this.engine.o.clock.now();
      let out: unknown;
      try {
        out = command.onReply(envelope, this.ctx);
      } catch (err) {
        return this.failed(step, 'action', this.attempt, err, t0, true, true);
      }
      return this.advance(step, 'action', this.attempt, out, t0, true);
    }
    if (this.state === 'waiting') {
      // Claimed while waiting: the reply did not come in time.
      return this.failed(
        step,
        'action',
        this.attempt,
        new TimeoutError(step.timeoutMs),
        this.engine.o.clock.now(),
        true,
      );
    }
    const bus = this.engine.o.bus;
    if (bus === undefined)
      throw new Error(`saga ${this.def.name} step ${step.name} sends a command but the runner has no bus`);
    const attempt = this.attempt + 1;
    const now = this.engine.o.now();
    const span = this.span(step, 'action', attempt);
    const stepCtx = this.stepContext(step, 'action', attempt, span);
    try {
      await this.transaction(async (tx) => {
        const message = command.send(this.ctx, stepCtx);
        await bus.publish(tx as never, message.event, {
          subject: message.subject ?? this.id,
          data: message.data,
          id: `${stepCtx.idempotencyKey}:${attempt}`,
          trace: stepCtx.trace,
        });
        await this.write(tx, {
          log: [...this.log, this.attemptRow(step, 'action', attempt, 'waiting', null, now, null)],
          state: 'waiting',
          attempt,
          run_at: now + step.timeoutMs,
          lease_owner: null,
          lease_until: 0,
        });
      });
    } catch (err) {
      endSpan(span, err);
      throw err;
    }
    endSpan(span);
    this.engine.emit({ type: 'parked', sagaId: this.id, saga: this.def.name, step: step.name });
    this.engine.wakeAt(now + step.timeoutMs);
    return false;
  }

  /** A successful action (`out` merged) or compensation: checkpoint and move on. */
  private async advance(
    step: StepDefinition,
    phase: Phase,
    attempt: number,
    out: unknown,
    t0: number,
    logged: boolean,
  ): Promise<boolean> {
    const ctx = merge(this.ctx, out);
    const now = this.engine.o.now();
    const forward = phase === 'action';
    const nextIndex = forward ? step.index + 1 : step.index - 1;
    const done = forward && nextIndex >= this.def.steps.length;
    await this.transaction(async (tx) => {
      await this.write(tx, {
        log: logged
          ? this.closeAttempt(step, phase, attempt, 'ok', null, now)
          : [...this.log, this.attemptRow(step, phase, attempt, 'ok', null, now, now)],
        state: done ? 'completed' : forward ? 'running' : 'compensating',
        step_index: nextIndex,
        attempt: 0,
        ctx: JSON.stringify(ctx),
        reply: null,
        ...(done ? { lease_owner: null, lease_until: 0 } : {}),
      });
    });
    this.ctx = ctx;
    this.succeeded(step, phase, attempt, (this.engine.o.clock.now() - t0) / 1000);
    if (done) {
      this.settle('completed');
      return false;
    }
    return true;
  }

  /** A failed attempt: retry later, compensate, or get stuck. */
  private async failed(
    step: StepDefinition,
    phase: Phase,
    attempt: number,
    err: unknown,
    t0: number,
    logged: boolean,
    rejected = false,
  ): Promise<boolean> {
    const e = this.engine;
    const timedOut = isTimeoutError(err);
    const message = `${step.name}: ${messageOf(err)}`;
    const outcome = timedOut ? 'timeout' : 'error';
    e.metrics?.stepSeconds.observe(
      { saga: this.def.name, step: step.name, phase, outcome },
      (e.o.clock.now() - t0) / 1000,
    );
    e.emit({
      type: 'step-failed',
      sagaId: this.id,
      saga: this.def.name,
      step: step.name,
      phase,
      attempt,
      error: messageOf(err),
    });
    const now = e.o.now();
    const log = logged
      ? this.closeAttempt(step, phase, attempt, outcome, message, now)
      : [...this.log, this.attemptRow(step, phase, attempt, outcome, message, now, now)];
    const retryable = (err as { retryable?: unknown } | null)?.retryable !== false || timedOut;
    const stuckAfter = e.o.stuckAfterAttempts;
    const mustSucceed = phase === 'compensation' || step.kind === 'retriable';
    if (mustSucceed && attempt >= stuckAfter) return this.stuck(step, phase, attempt, log, message, err);
    if (mustSucceed || (retryable && attempt < step.maxAttempts)) {
      const backoff = phase === 'compensation' ? e.o.compensationBackoff : step.backoff;
      // A failure that says when to come back (an open circuit, a Retry-After) is not tried
      // before then: an attempt spent against an open circuit would only count towards giving up.
      const hint = Math.min(retryHintMs(err) ?? 0, e.o.maxRetryAfterMs);
      // Whole milliseconds: jitter makes fractions, and the due time is a bigint on PostgreSQL.
      const delay = Math.ceil(Math.max(0, hint, backoff.delayMs(attempt, 0, e.o.random)));
      await this.transaction(async (tx) => {
        await this.write(tx, {
          log,
          state: phase === 'compensation' ? 'compensating' : 'running',
          attempt,
          reply: null,
          run_at: now + delay,
          last_error: message,
          lease_owner: null,
          lease_until: 0,
        });
      });
      e.wakeAt(now + delay);
      return false;
    }
    // The action failed for good. Unless the failure is a definite "no" (a rolled-back local
    // step, an error marked `retryable: false`, a reply that rejected), the participant may have
    // acted (a timeout, a lost response): compensate it too. A compensation must therefore be a
    // no-op for an action that never happened.
    const definite = step.type === 'local' || phase !== 'action' || (!timedOut && !retryable) || rejected;
    // A pivot cannot be compensated: if it may have happened, only an operator can tell.
    if (!definite && step.kind === 'pivot') return this.stuck(step, phase, attempt, log, message, err);
    const from = !definite && step.compensate !== undefined ? step.index : step.index - 1;
    await this.beginCompensation(err, from, log);
    return true;
  }

  private async stuck(
    step: StepDefinition,
    phase: Phase,
    attempt: number,
    log: LoggedAttempt[],
    message: string,
    err: unknown,
  ): Promise<false> {
    const e = this.engine;
    await this.transaction((tx) =>
      this.write(tx, {
        log,
        state: 'stuck',
        attempt,
        reply: null,
        last_error: message,
        lease_owner: null,
        lease_until: 0,
      }),
    );
    e.metrics?.stuck.inc({ saga: this.def.name });
    e.o.logger.error(
      { sagaId: this.id, saga: this.def.name, step: step.name, phase, attempts: attempt, err },
      'saga is stuck: an operator must retry or resolve it',
    );
    this.settle('stuck');
    return false;
  }

  private async beginCompensation(err: unknown, from: number, log: LoggedAttempt[] | null): Promise<void> {
    const message = messageOf(err);
    await this.transaction(async (tx) => {
      await this.write(tx, {
        log: log ?? this.log,
        state: 'compensating',
        direction: 'backward',
        step_index: from,
        attempt: 0,
        reply: null,
        last_error: message,
      });
    });
  }

  // ---- backward ----

  private async compensateNext(): Promise<boolean> {
    let index = this.stepIndex;
    while (index >= 0 && (this.def.steps[index] as StepDefinition).compensate === undefined) index--;
    if (index < 0) {
      await this.transaction((tx) => this.finish(tx, 'compensated'));
      this.settle('compensated');
      return false;
    }
    if (index !== this.stepIndex) {
      this.stepIndex = index;
      this.attempt = 0;
    }
    const step = this.def.steps[index] as StepDefinition;
    const compensation = step.compensate!;
    if (compensation.type === 'call') return this.runCall(step, 'compensation');
    const attempt = this.attempt + 1;
    const t0 = this.engine.o.clock.now();
    const startedAt = this.engine.o.now();
    const span = this.span(step, 'compensation', attempt);
    try {
      await this.transaction(async (tx) => {
        await compensation.local(
          tx as never,
          this.ctx,
          this.stepContext(step, 'compensation', attempt, span),
        );
        await this.write(tx, {
          log: [
            ...this.log,
            this.attemptRow(step, 'compensation', attempt, 'ok', null, startedAt, this.engine.o.now()),
          ],
          state: 'compensating',
          step_index: index - 1,
          attempt: 0,
        });
      });
    } catch (err) {
      endSpan(span, err);
      if (err instanceof NotCommitted || err instanceof CommitOutcomeUnknown || isSagaLeaseLostError(err))
        throw err;
      return this.failed(step, 'compensation', attempt, err, t0, false);
    }
    endSpan(span);
    this.succeeded(step, 'compensation', attempt, (this.engine.o.clock.now() - t0) / 1000);
    return true;
  }

  // ---- helpers ----

  private async finish(tx: SagaDb, state: 'completed' | 'compensated'): Promise<void> {
    await this.write(tx, { state, attempt: 0, reply: null, lease_owner: null, lease_until: 0 });
  }

  private settle(state: SagaState): void {
    const m = this.engine.metrics;
    if (state === 'completed') m?.completed.inc({ saga: this.def.name });
    else if (state === 'compensated') m?.compensated.inc({ saga: this.def.name });
    this.engine.emit({ type: 'finished', sagaId: this.id, saga: this.def.name, state });
    this.engine.finished(this.id, state);
  }

  private succeeded(step: StepDefinition, phase: Phase, attempt: number, seconds: number): void {
    this.engine.metrics?.stepSeconds.observe(
      { saga: this.def.name, step: step.name, phase, outcome: 'ok' },
      seconds,
    );
    this.engine.emit({
      type: 'step-succeeded',
      sagaId: this.id,
      saga: this.def.name,
      step: step.name,
      phase,
      attempt,
    });
  }

  /** Whether no pivot (or retriable step) completed before step `index`: the saga can still turn back. */
  private beforePivot(index: number): boolean {
    for (let i = 0; i < index; i++)
      if ((this.def.steps[i] as StepDefinition).kind !== 'compensatable') return false;
    return true;
  }

  /**
   * Runs `fn` in a store transaction. The first transaction of a saga started in this process,
   * when the store did not report the start committed (`unconfirmed`), first makes sure it
   * did: on PostgreSQL by waiting for the starting transaction
   * (see `awaitStartCommitted`); on SQLite the store's one connection already ran it to its end,
   * and the fenced checkpoint write fails if it rolled back.
   */
  private async transaction(fn: (tx: SagaDb) => Promise<void>): Promise<void> {
    const gate = this.unconfirmed && this.engine.dialect === 'postgres';
    const before = this.snapshot();
    let committing = false;
    try {
      await this.engine.store.transaction(async (tx) => {
        const db = tx as unknown as SagaDb;
        if (gate) {
          const found = await awaitStartCommitted(db, this.row);
          if (found === 'absent') throw new NotCommitted();
          if (found === 'lost') throw new SagaLeaseLostError(this.id, this.row.epoch);
        }
        await fn(db);
        committing = true;
      });
    } catch (err) {
      // The checkpoint `fn` wrote is not known to be committed: the instance in memory goes back
      // to the last one that is, so that a failure handled next (a retry) starts from there.
      this.restore(before);
      if (committing && this.engine.dialect === 'postgres' && !definitelyRolledBack(err))
        throw new CommitOutcomeUnknown(
          `the commit of saga ${this.id}'s checkpoint failed: ${messageOf(err)}`,
          {
            cause: err,
          },
        );
      throw err;
    }
    this.unconfirmed = false;
  }

  /**
   * After a commit of unknown outcome: gives the lease up (fenced, so it is a no-op when the
   * commit released it already), so that a claim resumes the instance from what the database
   * holds, at once instead of when the lease would have run out.
   */
  private async handOver(err: CommitOutcomeUnknown): Promise<void> {
    const e = this.engine;
    e.o.logger.warn(
      { err, sagaId: this.id, saga: this.def.name, epoch: this.row.epoch },
      'saga checkpoint commit outcome unknown; resuming from the database',
    );
    try {
      await releaseLease(e.store.db as unknown as SagaDb, this.id, this.row.epoch, e.owner);
      e.wakeAt(e.o.now());
    } catch (releaseErr) {
      e.o.logger.error(
        { err: releaseErr, sagaId: this.id, saga: this.def.name },
        'saga lease not released; the instance resumes when it expires',
      );
    }
  }

  private snapshot(): Snapshot {
    const { state, direction, stepIndex, attempt, reply, lastError, leaseUntil, log } = this;
    return { state, direction, stepIndex, attempt, reply, lastError, leaseUntil, log };
  }

  private restore(s: Snapshot): void {
    this.state = s.state;
    this.direction = s.direction;
    this.stepIndex = s.stepIndex;
    this.attempt = s.attempt;
    this.reply = s.reply;
    this.lastError = s.lastError;
    this.leaseUntil = s.leaseUntil;
    this.log = s.log;
  }

  /** Writes a checkpoint from the in-memory instance with `changes`, fenced on this lease, and adopts it. */
  private async write(
    tx: SagaDb,
    changes: Partial<Omit<Checkpoint, 'log'>> & { log?: LoggedAttempt[] },
  ): Promise<void> {
    const log = changes.log ?? this.log;
    const now = this.engine.o.now();
    const owner = changes.lease_owner === undefined ? this.engine.owner : changes.lease_owner;
    const c: Checkpoint = {
      log: JSON.stringify(log),
      state: changes.state ?? this.state,
      direction: changes.direction ?? this.direction,
      step_index: changes.step_index ?? this.stepIndex,
      attempt: changes.attempt ?? this.attempt,
      ctx: changes.ctx ?? JSON.stringify(this.ctx),
      reply: changes.reply === undefined ? this.reply : changes.reply,
      run_at: changes.run_at ?? now,
      lease_owner: owner,
      // A checkpoint that keeps the lease also extends it: a long saga of quick steps never expires.
      lease_until:
        changes.lease_until ?? (owner === null ? 0 : Math.max(this.leaseUntil, now + this.engine.o.leaseMs)),
      last_error: changes.last_error === undefined ? this.lastError : changes.last_error,
      updated_at: now,
    };
    try {
      await writeCheckpoint(tx, this.id, this.row.epoch, this.engine.owner, c);
    } catch (err) {
      // On SQLite a start that rolled back looks like a lost lease: nothing to report.
      if (this.unconfirmed && isSagaLeaseLostError(err)) throw new NotCommitted();
      throw err;
    }
    this.state = c.state as SagaState;
    this.direction = c.direction as SagaDirection;
    this.stepIndex = c.step_index;
    this.attempt = c.attempt;
    this.reply = c.reply;
    this.lastError = c.last_error;
    this.leaseUntil = c.lease_until;
    this.log = log;
  }

  /** The log with the open attempt of `step` finished. */
  private closeAttempt(
    step: StepDefinition,
    phase: Phase,
    attempt: number,
    outcome: string,
    error: string | null,
    finishedAt: number,
  ): LoggedAttempt[] {
    return this.log.map((a) =>
      a.step === step.name && a.phase === phase && a.attempt === attempt && a.finishedAt === null
        ? { ...a, outcome, error, finishedAt }
        : a,
    );
  }

  private attemptRow(
    step: StepDefinition,
    phase: Phase,
    attempt: number,
    outcome: string,
    error: string | null,
    startedAt: number,
    finishedAt: number | null,
  ): LoggedAttempt {
    return { step: step.name, phase, attempt, outcome, error, epoch: this.row.epoch, startedAt, finishedAt };
  }

  private span(step: StepDefinition, phase: Phase, attempt: number): SagaSpan | undefined {
    return this.engine.o.tracer?.startSpan(
      `saga ${this.def.name} ${step.name}${phase === 'compensation' ? ' compensate' : ''}`,
      {
        kind: 'internal',
        parent: this.parent,
        attributes: {
          'flotilla.saga': this.def.name,
          'flotilla.saga.id': this.id,
          'flotilla.saga.step': step.name,
          'flotilla.saga.phase': phase,
          'flotilla.saga.attempt': attempt,
        },
      },
    );
  }

  private stepContext(
    step: StepDefinition,
    phase: Phase,
    attempt: number,
    span: SagaSpan | undefined,
    signal: AbortSignal = this.engine.signal,
  ): StepContext {
    const key = phase === 'action' ? `${this.id}:${step.name}` : `${this.id}:${step.name}:compensate`;
    const ctx: StepContext = {
      sagaId: this.id,
      step: step.name,
      idempotencyKey: key,
      attempt,
      signal,
      trace: span?.context ?? (this.parent === undefined ? undefined : childContext(this.parent)),
      deadline: this.row.deadline_at ?? undefined,
      call: (client) => keyedClient(client, ctx),
    };
    return ctx;
  }

  /** Runs `work` with a signal that aborts after `timeoutMs` of the clock; rejects with `TimeoutError` then, without waiting for work that ignores it. */
  private withTimeout<T>(timeoutMs: number, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const { clock } = this.engine.o;
    const controller = new AbortController();
    const onClose = (): void => controller.abort(this.engine.signal.reason);
    this.engine.signal.addEventListener('abort', onClose, { once: true });
    return new Promise<T>((resolve, reject) => {
      const timer = clock.setTimeout(() => {
        const error = new TimeoutError(timeoutMs);
        controller.abort(error);
        reject(error);
      }, timeoutMs);
      const done = (): void => {
        clock.clearTimeout(timer);
        this.engine.signal.removeEventListener('abort', onClose);
      };
      Promise.resolve()
        .then(() => work(controller.signal))
        .then(
          (value) => {
            done();
            resolve(value);
          },
          (err: unknown) => {
            done();
            reject(err);
          },
        );
    });
  }
}

/**
 * Whether a failed COMMIT certainly did not commit: PostgreSQL answered it with an error of its
 * own (a serialization failure, a deferred constraint). A dropped connection (no SQLSTATE, a
 * socket error, class 08, or a terminated or shut-down backend, 57P01-57P03) may have come after
 * the commit.
 */
function definitelyRolledBack(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !/^(?:[0-5][0-9A-Z]|F0|HV|P0|XX)[0-9A-Z]{3}$/.test(code)) return false;
  return !code.startsWith('08') && !/^57P0[1-3]$/.test(code);
}

function merge(ctx: Record<string, unknown>, out: unknown): Record<string, unknown> {
  if (out === undefined || out === null || typeof out !== 'object' || Array.isArray(out)) return ctx;
  return { ...ctx, ...(out as Record<string, unknown>) };
}

function endSpan(span: SagaSpan | undefined, err?: unknown): void {
  if (span === undefined) return;
  if (err === undefined) span.end('ok');
  else {
    span.setAttribute('error.message', messageOf(err));
    span.end('error');
  }
}
