// The job that expires PENDING reservations nobody confirmed or released in time (a saga that
// died, an order service down for long), returning their stock. It runs every `intervalMs` on
// an injectable clock, so tests move time instead of waiting.
import type { Clock, TimerHandle } from '@flotilla/resilience';
import type { Store } from '@flotilla/store';
import type { Logger } from 'pino';
import type { InventoryDb } from './db.js';
import { expireOne } from './reservations.js';

/** Options of {@link startExpiryJob}. */
export interface ExpiryJobOptions {
  readonly store: Store<InventoryDb>;
  /** Schedules the runs. */
  readonly clock: Clock;
  /** Wall clock, epoch ms, compared with `expires_at`. */
  readonly now: () => number;
  /** Time between runs, in ms. */
  readonly intervalMs: number;
  /** Reservations expired per transaction. @default 100 */
  readonly batchSize?: number;
  readonly log: Pick<Logger, 'info' | 'error'>;
}

/** A running expiry job. */
export interface ExpiryJob {
  /** Expires everything due now; resolves with how many reservations it expired. */
  runOnce(): Promise<number>;
  /** Resolves when the run in progress (if any) has finished. */
  idle(): Promise<void>;
  /** Stops scheduling and waits for the run in progress. */
  close(): Promise<void>;
}

/** Starts the expiry job: the first run one interval after the start. */
export function startExpiryJob(options: ExpiryJobOptions): ExpiryJob {
  const { store, clock, now, intervalMs, batchSize = 100, log } = options;
  let timer: TimerHandle | undefined;
  let running: Promise<number> | undefined;
  let closed = false;

  const expireBatch = (): Promise<{ expired: number; full: boolean }> =>
    store.transaction(async (tx) => {
      const at = now();
      const due = await tx
        .selectFrom('reservations')
        .select('id')
        .where('status', '=', 'PENDING')
        .where('expires_at', '<=', at)
        .orderBy('expires_at')
        .limit(batchSize)
        .execute();
      let expired = 0;
      for (const { id } of due) if (await expireOne(tx, id, at)) expired++;
      return { expired, full: due.length === batchSize };
    });

  const runOnce = (): Promise<number> => {
    running ??= (async () => {
      let total = 0;
      try {
        // A full batch means more may be due: go on until a batch comes back short.
        for (;;) {
          const batch = await expireBatch();
          total += batch.expired;
          if (!batch.full) break;
        }
        if (total > 0) log.info({ expired: total }, 'expired reservations');
        return total;
      } finally {
        running = undefined;
      }
    })();
    return running;
  };

  const schedule = (): void => {
    if (closed) return;
    timer = clock.setTimeout(
      () => {
        runOnce()
          .catch((err: unknown) => log.error({ err }, 'reservation expiry failed; retrying next interval'))
          .finally(schedule);
      },
      intervalMs,
      true,
    );
  };
  schedule();

  return {
    runOnce,
    async idle() {
      await running?.catch(() => undefined);
    },
    async close() {
      closed = true;
      if (timer !== undefined) clock.clearTimeout(timer);
      await running?.catch(() => undefined);
    },
  };
}
