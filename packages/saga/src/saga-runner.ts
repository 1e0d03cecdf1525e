import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { AnyEventContract, EventEnvelope } from '@flotilla/events';
import type { Disposable, TimerHandle } from '@flotilla/resilience';
import { onTransactionEnd, type Store, type Tx } from '@flotilla/store';
import type { AnySagaDefinition, SagaDefinition } from './define-saga.js';
import type { Engine, ResolvedRunnerOptions } from './engine.js';
import { SagaNotFoundError, SagaStateError, UnknownSagaError } from './errors.js';
import { Execution } from './execution.js';
import { resolveRunnerOptions, type SagaRunnerOptions } from './runner-options.js';
import type { SagaEvent } from './saga-events.js';
import { createSagaMetrics, type SagaMetrics } from './saga-metrics.js';
import {
  countSagas,
  details,
  listSagas,
  type SagaDetails,
  type SagaListQuery,
  type SagaPage,
} from './saga-queries.js';
import {
  claimDue,
  type DefinitionKey,
  deliverReply,
  type InstanceRow,
  insertInstance,
  oldestDue,
  readInstance,
  releaseLease,
  releaseOwnLeases,
  resolveStuck,
  reviveStuck,
  type SagaDb,
  unmatchedInstances,
} from './saga-store.js';
import { INSTANCE_FORMAT, isTerminal, type SagaState } from './states.js';
import { formatTraceparent, type TraceContext } from './trace.js';

/** Options of `runner.start(tx, saga, input, options)`. */
export interface StartSagaOptions {
  /**
   * The instance id. Starting again with an existing id does nothing and returns it, so derive
   * it from the business key (the order id) to make starting idempotent.
   * @default a random UUID
   */
  readonly id?: string;
  /** The trace of the request starting the saga: every step continues it. */
  readonly trace?: TraceContext | undefined;
  /**
   * Overrides the definition's whole-saga deadline, in milliseconds from now.
   * @default the definition's `deadlineMs`
   */
  readonly deadlineMs?: number;
}

/** Active instances that no registered definition matches: left untouched, reported. */
export interface UnmatchedInstances {
  readonly name: string;
  readonly version: number;
  readonly stepsHash: string;
  readonly format: number;
  readonly count: number;
}

/** Executes a service's sagas from its own database; see `createSagaRunner`. */
export interface SagaRunner<DB> {
  /** The lease owner id of this runner. */
  readonly instanceId: string;
  /**
   * Starts a saga inside the caller's transaction `tx`, so it exists if and only if the business
   * row written with it does. Uses the highest registered version of `saga`. Resolves with the
   * instance id (the existing one when `options.id` was started before: nothing happens then).
   * A running runner of this process begins executing it as soon as `tx` commits.
   */
  start<D extends AnySagaDefinition>(
    tx: Tx<DB>,
    saga: D | string,
    input: D extends SagaDefinition<infer I, object, unknown> ? I : object,
    options?: StartSagaOptions,
  ): Promise<string>;
  /**
   * Starts executing: takes back this instance's stale leases, reports unmatched instances,
   * resumes every unfinished saga, then keeps picking up new and due ones. Idempotent.
   */
  run(options?: { signal?: AbortSignal }): Promise<void>;
  /** Stops claiming; running sagas stop after their current step and release their leases. Idempotent. */
  close(): Promise<void>;
  /** Resolves with the state once the saga is completed, compensated, resolved or stuck. */
  settled(id: string, options?: { signal?: AbortSignal }): Promise<SagaState>;
  /** Lists sagas by state, name and age, newest first, paged. */
  list(query?: SagaListQuery): Promise<SagaPage>;
  /** How many sagas are in each state (of one definition name, or all); states without any are absent. */
  counts(name?: string): Promise<Partial<Record<SagaState, number>>>;
  /** One saga with its context and the timeline of every step attempt. */
  get(id: string): Promise<SagaDetails>;
  /** Operator: runs a stuck saga again (its current step or compensation, with fresh attempts). */
  retry(id: string): Promise<void>;
  /** Operator: closes a stuck saga as `resolved`, with a note saying what was done by hand. */
  resolve(id: string, note: string): Promise<void>;
  /** Unfinished instances of definitions (name, version, steps) this runner does not have. */
  unmatched(): Promise<readonly UnmatchedInstances[]>;
  /** Calls `listener` for every step outcome and final state; the handle unsubscribes. */
  onEvent(listener: (event: SagaEvent) => void): Disposable;
}

const ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$/;
/** How long after a nudge the runner keeps looking quickly for the row that caused it. */
const EXPECT_WINDOW_MS = 1000;
/** Final states remembered for `settled()`. */
const RECENT_LIMIT = 10_000;

/**
 * Creates the saga runner of a service: it starts sagas in the service's transactions, executes
 * them with leases and fenced checkpoints in the service's own database, compensates failures,
 * and answers the operator API.
 *
 * @example
 * const store = await openStore<ShopDb>({ service: 'order', migrations: [...orderMigrations, ...sagaMigrations] });
 * const runner = createSagaRunner({ store, sagas: [placeOrder], registry: metrics.registry, tracer });
 * await runner.run();
 * const sagaId = await store.transaction(async (tx) => {
 *   await tx.insertInto('orders').values({ id: orderId, status: 'PENDING', cents }).execute();
 *   return runner.start(tx, placeOrder, { orderId, cents }, { id: orderId });
 * });
 * console.log(await runner.settled(sagaId)); // 'completed' or 'compensated'
 */
export function createSagaRunner<DB>(options: SagaRunnerOptions<DB>): SagaRunner<DB> {
  return new Runner<DB>(options);
}

class Runner<DB> implements SagaRunner<DB>, Engine {
  readonly instanceId: string;
  readonly owner: string;
  readonly store: Store<unknown>;
  readonly dialect: Store<unknown>['dialect'];
  readonly o: ResolvedRunnerOptions;
  readonly metrics: SagaMetrics | undefined;
  readonly definitions = new Map<string, AnySagaDefinition>();
  private readonly latest = new Map<string, AnySagaDefinition>();
  private readonly keys: DefinitionKey[] = [];
  private readonly controller = new AbortController();
  private readonly active = new Map<string, Promise<void>>();
  /** Started here, waiting for a free slot; `unconfirmed` as in `Execution`. */
  private readonly local: { row: InstanceRow; unconfirmed: boolean }[] = [];
  /** Started here, leased to this runner, in transactions that have not ended yet. */
  private readonly pending = new Set<string>();
  private listeners: ((event: SagaEvent) => void)[] = [];
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly recent = new Map<string, SagaState>();
  private running: Promise<void> | undefined;
  private shutdown: Promise<void> | undefined;
  private started = false;
  private claiming = false;
  private claimAgain = false;
  private claimQueued = false;
  private starved = false;
  private expectUntil = 0;
  private quickDelayMs = 1;
  private pollTimer: TimerHandle | undefined;
  private wakeTimer: { at: number; handle: TimerHandle } | undefined;

  constructor(options: SagaRunnerOptions<DB>) {
    if (typeof options !== 'object' || options === null)
      throw new TypeError('createSagaRunner(options) needs { store, sagas }');
    const { store, sagas } = options;
    if (typeof store !== 'object' || store === null || typeof store.transaction !== 'function')
      throw new TypeError('createSagaRunner.store must be a store from openStore()');
    if (!Array.isArray(sagas) || sagas.length === 0)
      throw new RangeError('createSagaRunner.sagas must be a non-empty array of defineSaga() definitions');
    this.o = resolveRunnerOptions(options);
    // Every running step listens for the runner's close, so more than Node's default of 10
    // listeners is normal here, not a leak (each step removes its listener when it ends).
    setMaxListeners(0, this.controller.signal);
    const instanceId = options.instanceId ?? randomUUID();
    if (typeof instanceId !== 'string' || !ID.test(instanceId))
      throw new RangeError(
        `createSagaRunner.instanceId must be 1-200 letters, digits, '_', '.', ':' or '-', got ${String(instanceId)}`,
      );
    this.instanceId = this.owner = instanceId;
    this.store = store as Store<unknown>;
    this.dialect = store.dialect;
    for (const [i, def] of sagas.entries()) this.register(def, i);
    this.metrics =
      options.registry === undefined
        ? undefined
        : createSagaMetrics(options.registry, {
            lagSeconds: async () => {
              const now = this.o.now();
              const oldest = await oldestDue(this.db, now);
              return oldest === null ? 0 : Math.max(0, now - oldest) / 1000;
            },
            unmatched: async () => (await this.unmatched()).reduce((n, u) => n + u.count, 0),
          });
    this.subscribeReplies();
  }

  get closing(): boolean {
    return this.shutdown !== undefined;
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  private get db(): SagaDb {
    return this.store.db as unknown as SagaDb;
  }

  // ---- starting sagas ----

  async start<D extends AnySagaDefinition>(
    tx: Tx<DB>,
    saga: D | string,
    input: D extends SagaDefinition<infer I, object, unknown> ? I : object,
    options: StartSagaOptions = {},
  ): Promise<string> {
    const name = typeof saga === 'string' ? saga : saga?.name;
    const def = typeof name === 'string' ? this.latest.get(name) : undefined;
    if (def === undefined) throw new UnknownSagaError(String(name));
    if (typeof input !== 'object' || input === null || Array.isArray(input))
      throw new TypeError(`start(${def.name}).input must be an object (the saga's initial context)`);
    const { id = randomUUID(), trace, deadlineMs = def.deadlineMs } = options;
    if (typeof id !== 'string' || !ID.test(id))
      throw new RangeError(
        `start(${def.name}).id must be 1-200 letters, digits, '_', '.', ':' or '-', got ${JSON.stringify(id)}`,
      );
    if (deadlineMs !== undefined && !(deadlineMs > 0 && Number.isFinite(deadlineMs)))
      throw new RangeError(
        `start(${def.name}).deadlineMs must be a finite number > 0, got ${String(deadlineMs)}`,
      );
    const now = this.o.now();
    // Leased to this runner from the start when it runs here: it executes right after the
    // commit, without a claim round trip. If this process dies first, the lease just expires.
    const leased = this.started && !this.closing;
    const row: InstanceRow = {
      id,
      format: INSTANCE_FORMAT,
      name: def.name,
      version: def.version,
      steps_hash: def.stepsHash,
      state: 'running',
      direction: 'forward',
      step_index: 0,
      attempt: 0,
      ctx: JSON.stringify(input),
      reply: null,
      run_at: now,
      lease_owner: leased ? this.owner : null,
      lease_until: leased ? now + this.o.leaseMs : 0,
      epoch: 1,
      deadline_at: deadlineMs === undefined ? null : now + deadlineMs,
      traceparent: trace === undefined ? null : formatTraceparent(trace),
      last_error: null,
      note: null,
      log: '[]',
      created_at: now,
      updated_at: now,
    };
    const created = await insertInstance(tx as unknown as SagaDb, row);
    if (!created) return id;
    this.metrics?.started.inc({ saga: def.name });
    this.emit({ type: 'started', sagaId: id, saga: def.name });
    if (leased) {
      // It runs once `tx` has committed, so its first transaction sees what `tx` wrote without
      // waiting for it. A transaction the store cannot report on is waited for by that first
      // transaction instead (see `Execution`), and so is one whose commit failed: it may have committed.
      if (onTransactionEnd(tx, (committed) => this.startEnded(row, committed))) this.pending.add(id);
      else this.runLocal(row, true);
    }
    return id;
  }

  // ---- lifecycle ----

  run(options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.shutdown !== undefined) return Promise.reject(new Error('the saga runner is closed'));
    this.running ??= this.startUp(options.signal);
    return this.running;
  }

  private async startUp(signal: AbortSignal | undefined): Promise<void> {
    signal?.throwIfAborted();
    const released = await releaseOwnLeases(this.db, this.owner);
    if (released > 0)
      this.o.logger.info(
        { instanceId: this.owner, released },
        'saga runner took back the leases of its previous run',
      );
    for (const u of await this.unmatched())
      this.o.logger.warn(
        { saga: u.name, version: u.version, stepsHash: u.stepsHash, format: u.format, count: u.count },
        'unfinished saga instances have no matching definition; they are left untouched (register that version to drain them)',
      );
    signal?.throwIfAborted();
    this.started = true;
    this.claimSoon();
    this.schedulePoll();
  }

  close(): Promise<void> {
    this.shutdown ??= this.shutDown();
    return this.shutdown;
  }

  private async shutDown(): Promise<void> {
    if (this.pollTimer !== undefined) this.o.clock.clearTimeout(this.pollTimer);
    if (this.wakeTimer !== undefined) this.o.clock.clearTimeout(this.wakeTimer.handle);
    await this.running?.catch(() => undefined);
    this.local.length = 0;
    while (this.active.size > 0 || this.claiming) {
      await Promise.allSettled([...this.active.values()]);
      if (this.claiming) await new Promise((resolve) => setImmediate(resolve));
    }
    this.controller.abort(new Error('the saga runner closed'));
    for (const set of this.waiters.values()) for (const wake of set) wake();
  }

  // ---- Engine ----

  emit(event: SagaEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        this.o.logger.error({ err }, 'saga event listener threw');
      }
    }
  }

  wakeAt(epochMs: number): void {
    if (this.shutdown !== undefined) return;
    const delay = epochMs - this.o.now();
    if (delay <= 0) {
      this.claimSoon();
      return;
    }
    if (this.wakeTimer !== undefined && this.wakeTimer.at <= epochMs) return;
    if (this.wakeTimer !== undefined) this.o.clock.clearTimeout(this.wakeTimer.handle);
    const handle = this.o.clock.setTimeout(
      () => {
        this.wakeTimer = undefined;
        this.claimSoon();
      },
      delay,
      true,
    );
    this.wakeTimer = { at: epochMs, handle };
  }

  finished(id: string, state: SagaState): void {
    this.recent.set(id, state);
    // Remember recent outcomes so `settled()` right after a local run needs no read.
    if (this.recent.size > RECENT_LIMIT) this.recent.delete(this.recent.keys().next().value as string);
    const set = this.waiters.get(id);
    if (set !== undefined) for (const wake of set) wake();
  }

  settled(id: string, options: { signal?: AbortSignal } = {}): Promise<SagaState> {
    return this.waitSettled(id, options.signal);
  }

  private async waitSettled(id: string, signal: AbortSignal | undefined): Promise<SagaState> {
    for (;;) {
      signal?.throwIfAborted();
      const known = this.recent.get(id);
      if (known !== undefined) return known;
      // A saga this runner executes reports its end; any other is read (and polled).
      if (!this.active.has(id) && !this.pending.has(id) && !this.local.some((l) => l.row.id === id)) {
        const row = await readInstance(this.db, id);
        if (row === undefined) throw new SagaNotFoundError(id);
        const state = row.state as SagaState;
        if (isTerminal(state) || state === 'stuck') return state;
      }
      await new Promise<void>((resolve, reject) => {
        const set = this.waiters.get(id) ?? new Set<() => void>();
        this.waiters.set(id, set);
        const done = (): void => {
          set.delete(wake);
          if (set.size === 0) this.waiters.delete(id);
          this.o.clock.clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
        };
        const wake = (): void => {
          done();
          resolve();
        };
        const onAbort = (): void => {
          done();
          reject(signal?.reason);
        };
        set.add(wake);
        const timer = this.o.clock.setTimeout(wake, this.o.pollIntervalMs);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    }
  }

  // ---- scheduling ----

  /** The transaction that started `row` here has ended. */
  private startEnded(row: InstanceRow, committed: boolean): void {
    this.pending.delete(row.id);
    if (!this.signal.aborted) this.runLocal(row, !committed);
    // Closed meanwhile: the lease goes back (fenced), so any runner claims the saga at once. If
    // that fails too (the store closed), the lease runs out.
    else if (committed) void releaseLease(this.db, row.id, row.epoch, this.owner).catch(() => undefined);
  }

  private runLocal(row: InstanceRow, unconfirmed: boolean): void {
    if (this.active.size < this.o.concurrency) this.launch(row, unconfirmed);
    else this.local.push({ row, unconfirmed });
  }

  private launch(row: InstanceRow, unconfirmed: boolean): void {
    const def = this.definitions.get(`${row.name}@${row.version}`);
    if (def === undefined) return;
    const previous = this.active.get(row.id);
    if (previous !== undefined) {
      // Claimed again after its lease ran out while this runner still executed it: the old
      // execution fails its next (fenced) write; the new lease takes over once it has stopped.
      void previous.then(() => this.launch(row, unconfirmed));
      return;
    }
    const execution = new Execution(this, row, def, unconfirmed);
    const done = execution.run().finally(() => {
      this.active.delete(row.id);
      this.slotFreed();
    });
    this.active.set(row.id, done);
  }

  private slotFreed(): void {
    if (this.shutdown !== undefined) return;
    const now = this.o.now();
    while (this.active.size < this.o.concurrency && this.local.length > 0) {
      const { row, unconfirmed } = this.local.shift() as { row: InstanceRow; unconfirmed: boolean };
      // A queued start whose lease ran out is left to the claim (any runner may have it by now).
      if (row.lease_until - this.o.leaseMs / 2 > now) this.launch(row, unconfirmed);
    }
    if (this.starved) {
      this.starved = false;
      this.claimSoon();
    }
  }

  /** Looks for work soon, and keeps looking quickly for a while (a commit it was told about may be late). */
  private nudge(): void {
    this.expectUntil = this.o.now() + EXPECT_WINDOW_MS;
    this.quickDelayMs = 1;
    this.claimSoon();
  }

  private claimSoon(): void {
    if (!this.started || this.shutdown !== undefined) return;
    if (this.claiming) {
      this.claimAgain = true;
      return;
    }
    if (this.claimQueued) return;
    this.claimQueued = true;
    setImmediate(() => {
      this.claimQueued = false;
      void this.claimPass();
    });
  }

  private async claimPass(): Promise<void> {
    if (this.claiming || this.shutdown !== undefined) return;
    this.claiming = true;
    try {
      do {
        this.claimAgain = false;
        const free = this.o.concurrency - this.active.size;
        if (free <= 0) {
          this.starved = true;
          break;
        }
        const limit = Math.min(free, this.o.claimBatchSize);
        const now = this.o.now();
        const claim = (db: SagaDb) =>
          claimDue(db, this.dialect, {
            owner: this.owner,
            now,
            leaseMs: this.o.leaseMs,
            limit,
            keys: this.keys,
          });
        // One statement; on SQLite it runs in a BEGIN IMMEDIATE transaction (the store's), so the
        // conditional update holds the write lock from its read to its write.
        const rows =
          this.dialect === 'sqlite'
            ? await this.store.transaction((tx) => claim(tx as unknown as SagaDb))
            : await claim(this.db);
        if (this.shutdown !== undefined) {
          // Claimed while closing: hand them straight back.
          for (const row of rows) this.launch(row, false);
          break;
        }
        for (const row of rows) this.launch(row, false);
        if (rows.length === limit) this.claimAgain = true;
        else if (rows.length === 0 && this.expectUntil > now) this.retryQuickly();
      } while (this.claimAgain && !this.closing);
    } catch (err) {
      if (!this.closing) this.o.logger.error({ err, instanceId: this.owner }, 'claiming sagas failed');
    } finally {
      this.claiming = false;
    }
  }

  private retryQuickly(): void {
    const delay = this.quickDelayMs;
    this.quickDelayMs = Math.min(this.quickDelayMs * 2, this.o.pollIntervalMs);
    this.wakeAt(this.o.now() + delay);
  }

  private schedulePoll(): void {
    if (this.shutdown !== undefined) return;
    this.pollTimer = this.o.clock.setTimeout(
      () => {
        this.claimSoon();
        this.schedulePoll();
      },
      this.o.pollIntervalMs,
      true,
    );
  }

  // ---- replies of command steps ----

  private subscribeReplies(): void {
    const byType = new Map<string, AnyEventContract>();
    const targets = new Map<string, ((e: EventEnvelope) => string)[]>();
    for (const def of this.definitions.values())
      for (const step of def.steps) {
        if (step.command === undefined) continue;
        if (this.o.bus === undefined)
          throw new RangeError(
            `saga ${def.name} step ${step.name} sends a command: createSagaRunner needs the service's bus`,
          );
        for (const contract of step.command.replies) {
          if (!byType.has(contract.type)) byType.set(contract.type, contract);
          const list = targets.get(contract.type) ?? [];
          list.push(step.command.correlate ?? ((e) => e.subject));
          targets.set(contract.type, list);
        }
      }
    if (byType.size === 0 || this.o.bus === undefined) return;
    this.o.bus.subscribe({
      group: `${this.store.service}.saga-replies`,
      events: [...byType.values()],
      handler: async (event, { tx }) => {
        const ids = new Set(
          (targets.get(event.type) ?? []).map((correlate) => correlate(event as EventEnvelope)),
        );
        for (const id of ids) await this.acceptReply(tx as unknown as SagaDb, id, event as EventEnvelope);
      },
    });
  }

  private async acceptReply(tx: SagaDb, id: string, event: EventEnvelope): Promise<void> {
    const row = await readInstance(tx, id);
    if (row === undefined || row.state !== 'waiting') {
      this.o.logger.info(
        { sagaId: id, event: event.type, eventId: event.id },
        'reply for a saga that is not waiting; ignored',
      );
      return;
    }
    const def = this.definitions.get(`${row.name}@${row.version}`);
    const step = def?.stepsHash === row.steps_hash ? def.steps[row.step_index] : undefined;
    if (step?.command?.replies.some((c) => c.type === event.type) !== true) return;
    if (await deliverReply(tx, id, row.step_index, JSON.stringify(event), this.o.now())) this.nudge();
  }

  // ---- operator API ----

  list(query: SagaListQuery = {}): Promise<SagaPage> {
    return listSagas(this.db, query, this.o.now(), this.definitions);
  }

  counts(name?: string): Promise<Partial<Record<SagaState, number>>> {
    return countSagas(this.db, name);
  }

  async get(id: string): Promise<SagaDetails> {
    const row = await readInstance(this.db, id);
    if (row === undefined) throw new SagaNotFoundError(id);
    return details(row, this.definitions);
  }

  async retry(id: string): Promise<void> {
    const row = await readInstance(this.db, id);
    if (row === undefined) throw new SagaNotFoundError(id);
    const state = row.direction === 'backward' ? 'compensating' : 'running';
    if (!(await reviveStuck(this.db, id, this.o.now(), state)))
      throw new SagaStateError(
        id,
        row.state,
        `saga ${id} is ${row.state}, not stuck: only a stuck saga can be retried`,
      );
    this.recent.delete(id);
    this.o.logger.warn({ sagaId: id, saga: row.name }, 'stuck saga retried by an operator');
    this.nudge();
  }

  async resolve(id: string, note: string): Promise<void> {
    if (typeof note !== 'string' || note.trim().length === 0 || note.length > 2000)
      throw new RangeError(
        `resolve(id, note).note must be 1 to 2000 characters saying what was done, got ${JSON.stringify(note)}`,
      );
    const row = await readInstance(this.db, id);
    if (row === undefined) throw new SagaNotFoundError(id);
    if (!(await resolveStuck(this.db, id, this.o.now(), note)))
      throw new SagaStateError(
        id,
        row.state,
        `saga ${id} is ${row.state}, not stuck: only a stuck saga can be resolved`,
      );
    this.o.logger.warn({ sagaId: id, saga: row.name, note }, 'stuck saga resolved by an operator');
    this.finished(id, 'resolved');
  }

  async unmatched(): Promise<readonly UnmatchedInstances[]> {
    return (await unmatchedInstances(this.db, this.keys)).map((u) => ({
      name: u.name,
      version: u.version,
      stepsHash: u.steps_hash,
      format: u.format,
      count: u.count,
    }));
  }

  onEvent(listener: (event: SagaEvent) => void): Disposable {
    this.listeners = [...this.listeners, listener];
    return { dispose: () => (this.listeners = this.listeners.filter((l) => l !== listener)) };
  }

  private register(def: AnySagaDefinition, i: number): void {
    if (
      typeof def !== 'object' ||
      def === null ||
      typeof def.stepsHash !== 'string' ||
      !Array.isArray(def.steps)
    )
      throw new TypeError(`createSagaRunner.sagas[${i}] must be a defineSaga() definition`);
    if (def.steps.length === 0)
      throw new RangeError(`createSagaRunner.sagas[${i}] (${def.name}) has no steps`);
    const key = `${def.name}@${def.version}`;
    if (this.definitions.has(key))
      throw new RangeError(`createSagaRunner.sagas has ${def.name} version ${def.version} twice`);
    this.definitions.set(key, def);
    this.keys.push({ name: def.name, version: def.version, stepsHash: def.stepsHash });
    const latest = this.latest.get(def.name);
    if (latest === undefined || latest.version < def.version) this.latest.set(def.name, def);
  }
}
