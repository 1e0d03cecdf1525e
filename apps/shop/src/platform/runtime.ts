// Shared bootstrap of the shop's services: where a service's database and the event transport
// are, and how a service opens them. Infrastructure only — no domain type of any service lives
// here (domain contracts are in contracts/, one file per producing service).
import { resolve } from 'node:path';
import { createEventBus, type EventBus, eventsMigrations, transportFromUrl } from '@flotilla/events';
import type { SetupContext } from '@flotilla/service';
import { type Migration, openStore, type Store } from '@flotilla/store';

/** The data folder of the running system (the supervisor sets it; `.flotilla/data` by default). */
export function dataDir(env: Readonly<Record<string, string | undefined>>): string {
  return resolve(env.FLOTILLA_DATA_DIR ?? '.flotilla/data');
}

/**
 * The database URL of one service: `FLOTILLA_DATABASE_URL_<SERVICE>` (PostgreSQL in the
 * distributed profile), else a SQLite file of its own in the data folder. Never shared.
 */
export function databaseUrl(service: string, env: Readonly<Record<string, string | undefined>>): string {
  const variable = `FLOTILLA_DATABASE_URL_${service.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
  return env[variable] ?? `sqlite:${dataDir(env)}/${service}.db`;
}

/** The event transport URL: `FLOTILLA_TRANSPORT`, else the embedded log in the data folder. */
export function transportUrl(env: Readonly<Record<string, string | undefined>>): string {
  return env.FLOTILLA_TRANSPORT ?? `embedded:${dataDir(env)}/bus.db`;
}

/** What {@link openPlatform} gives a service: its store, its event bus and the transport under it. */
export interface Platform<DB> {
  readonly store: Store<DB>;
  readonly bus: EventBus<DB>;
}

/**
 * Opens a service's own database (its migrations plus the event tables and any extra ones,
 * e.g. the saga's), the event transport and the service's event bus, registering each for
 * shutdown in the right order (bus, then transport, then store) and their readiness checks.
 * Subscribe on `bus` and then call `bus.start()` once the service is wired.
 */
export async function openPlatform<DB>(
  ctx: SetupContext<unknown>,
  migrations: readonly Migration[],
  extraMigrations: readonly Migration[] = [],
): Promise<Platform<DB>> {
  const store = await openStore<DB>({
    service: ctx.service,
    url: databaseUrl(ctx.service, ctx.env),
    migrations: [...migrations, ...extraMigrations, ...eventsMigrations].sort((a, b) =>
      a.id < b.id ? -1 : 1,
    ),
    logger: ctx.log,
  });
  ctx.onClose(() => store.close());
  const transport = await transportFromUrl(transportUrl(ctx.env));
  ctx.onClose(() => transport.close());
  const bus = createEventBus<DB>({
    service: ctx.service,
    store,
    transport,
    logger: ctx.log,
    tracer: ctx.tracer,
  });
  ctx.onClose(() => bus.close());
  ctx.addCheck(store.healthCheck());
  ctx.addCheck(bus.healthCheck());
  return { store, bus };
}
