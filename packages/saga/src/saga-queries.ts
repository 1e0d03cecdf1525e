import type { AnySagaDefinition } from './define-saga.js';
import type { LoggedAttempt } from './migrations.js';
import type { InstanceRow, SagaDb } from './saga-store.js';
import { SAGA_STATES, type SagaState } from './states.js';

/** One saga instance in a listing. */
export interface SagaSummary {
  readonly id: string;
  readonly name: string;
  readonly version: number;
  readonly state: SagaState;
  /** `forward` through the actions, or `backward` through compensations. */
  readonly direction: 'forward' | 'backward';
  /** The step being run or compensated next; `null` once past the last one. */
  readonly step: string | null;
  /** Attempts made of that step. */
  readonly attempt: number;
  /** Epoch milliseconds. */
  readonly createdAt: number;
  /** Epoch milliseconds. */
  readonly updatedAt: number;
  readonly lastError: string | null;
  /** The operator's note of a resolved saga. */
  readonly note: string | null;
}

/** One attempt of a step's action or compensation, in a saga's timeline. */
export interface SagaAttempt {
  readonly step: string;
  readonly phase: 'action' | 'compensation';
  readonly attempt: number;
  /** `started` (in flight, or its runner died), `ok`, `error`, `timeout`, `waiting` (command sent). */
  readonly outcome: string;
  readonly error: string | null;
  /** Epoch milliseconds. */
  readonly startedAt: number;
  /** Epoch milliseconds; `null` while in flight. */
  readonly finishedAt: number | null;
  readonly durationMs: number | null;
  /** The lease epoch of the runner that made it. */
  readonly epoch: number;
}

/** One saga with its context and step timeline. */
export interface SagaDetails extends SagaSummary {
  readonly context: unknown;
  /** Whole-saga deadline, epoch milliseconds. */
  readonly deadlineAt: number | null;
  readonly traceparent: string | null;
  /** Whether a registered definition matches it (name, version and step hash). */
  readonly matched: boolean;
  readonly timeline: readonly SagaAttempt[];
}

/** Filters of `runner.list()`. */
export interface SagaListQuery {
  readonly state?: SagaState;
  readonly name?: string;
  /** Only sagas created at least this long ago, in milliseconds. */
  readonly olderThanMs?: number;
  /**
   * Page size, 1 to 500.
   * @default 50
   */
  readonly limit?: number;
  /** `nextCursor` of the previous page. */
  readonly cursor?: string;
}

/** A page of sagas, newest first. */
export interface SagaPage {
  readonly items: readonly SagaSummary[];
  /** Pass as `cursor` for the next page; `null` on the last one. */
  readonly nextCursor: string | null;
}

/** Lists instances, newest first, keyset-paged (internal). */
export async function listSagas(
  db: SagaDb,
  query: SagaListQuery,
  now: number,
  definitions: ReadonlyMap<string, AnySagaDefinition>,
): Promise<SagaPage> {
  const { state, name, olderThanMs, limit = 50, cursor } = query;
  if (state !== undefined && !SAGA_STATES.includes(state))
    throw new RangeError(`list.state must be one of ${SAGA_STATES.join(', ')}, got ${String(state)}`);
  if (!Number.isInteger(limit) || limit < 1 || limit > 500)
    throw new RangeError(`list.limit must be an integer from 1 to 500, got ${String(limit)}`);
  if (olderThanMs !== undefined && !(olderThanMs >= 0))
    throw new RangeError(`list.olderThanMs must be a number >= 0, got ${String(olderThanMs)}`);
  let q = db.selectFrom('flotilla_saga_instances').selectAll();
  if (state !== undefined) q = q.where('state', '=', state);
  if (name !== undefined) q = q.where('name', '=', name);
  if (olderThanMs !== undefined) q = q.where('created_at', '<=', now - olderThanMs);
  if (cursor !== undefined) {
    const [at, id] = decodeCursor(cursor);
    q = q.where((eb) =>
      eb.or([eb('created_at', '<', at), eb.and([eb('created_at', '=', at), eb('id', '<', id)])]),
    );
  }
  const rows = await q
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit + 1)
    .execute();
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    items: page.map((r) => summary(r, definitions)),
    nextCursor:
      rows.length > limit && last !== undefined ? encodeCursor(Number(last.created_at), last.id) : null,
  };
}

/** How many instances are in each state (of one definition name, or all), for dashboards (internal). */
export async function countSagas(db: SagaDb, name?: string): Promise<Partial<Record<SagaState, number>>> {
  let q = db
    .selectFrom('flotilla_saga_instances')
    .select(['state', (eb) => eb.fn.countAll<number | string | bigint>().as('n')])
    .groupBy('state');
  if (name !== undefined) q = q.where('name', '=', name);
  const counts: Partial<Record<SagaState, number>> = {};
  for (const row of await q.execute()) counts[row.state as SagaState] = Number(row.n);
  return counts;
}

/** One instance with its timeline (internal). */
export function details(row: InstanceRow, definitions: ReadonlyMap<string, AnySagaDefinition>): SagaDetails {
  const def = definitions.get(`${row.name}@${row.version}`);
  return {
    ...summary(row, definitions),
    context: JSON.parse(row.ctx),
    deadlineAt: row.deadline_at === null ? null : Number(row.deadline_at),
    traceparent: row.traceparent,
    matched: def !== undefined && def.stepsHash === row.steps_hash && row.format === 1,
    timeline: (JSON.parse(row.log) as LoggedAttempt[]).map((a) => ({
      ...a,
      durationMs: a.finishedAt === null ? null : a.finishedAt - a.startedAt,
    })),
  };
}

function summary(row: InstanceRow, definitions: ReadonlyMap<string, AnySagaDefinition>): SagaSummary {
  const def = definitions.get(`${row.name}@${row.version}`);
  return {
    id: row.id,
    name: row.name,
    version: Number(row.version),
    state: row.state as SagaState,
    direction: row.direction as SagaSummary['direction'],
    step: def?.steps[row.step_index]?.name ?? null,
    attempt: Number(row.attempt),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    lastError: row.last_error,
    note: row.note,
  };
}

function encodeCursor(createdAt: number, id: string): string {
  return Buffer.from(JSON.stringify([createdAt, id])).toString('base64url');
}

function decodeCursor(cursor: string): [number, string] {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as unknown;
    if (Array.isArray(value) && typeof value[0] === 'number' && typeof value[1] === 'string')
      return [value[0], value[1]];
  } catch {
    // reported below
  }
  throw new RangeError(`list.cursor is not a cursor this API returned: ${JSON.stringify(cursor)}`);
}
