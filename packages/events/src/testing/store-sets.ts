import type { Migration, Store } from '@flotilla/store';
import { openStore } from '@flotilla/store';
import {
  createTestDatabase,
  type TempSqlite,
  type TestDatabase,
  tempSqliteUrl,
} from '@flotilla/store/testing';

/** One database per service for a test, as in production: opened on first use, closed and removed together. */
export interface StoreSet {
  /** The store of `service`, opened (and migrated with `migrations`) on first use. */
  store(service: string, migrations: readonly Migration[]): Promise<Store<unknown>>;
  /** The URL of `service`'s database (after `store` was called for it), for another process to open. */
  url(service: string): string;
  /** Closes every store and removes every database. */
  dispose(): Promise<void>;
}

/** Each service gets a SQLite file in a fresh temporary folder. */
export function sqliteStoreSet(): StoreSet {
  const files = new Map<string, TempSqlite>();
  const stores = new Map<string, Promise<Store<unknown>>>();
  return {
    store(service, migrations) {
      let store = stores.get(service);
      if (store === undefined) {
        const file = tempSqliteUrl(service);
        files.set(service, file);
        store = openStore({ service, url: file.url, migrations });
        stores.set(service, store);
      }
      return store;
    },
    url(service) {
      const file = files.get(service);
      if (file === undefined) throw new Error(`no database was opened for ${service}`);
      return file.url;
    },
    async dispose() {
      await Promise.allSettled([...stores.values()].map(async (s) => (await s).close()));
      for (const file of files.values()) file.cleanup();
    },
  };
}

/** Each service gets a fresh PostgreSQL database on the test server (`createTestDatabase`). */
export function pgStoreSet(prefix = 'flotilla_events'): StoreSet {
  const databases = new Map<string, TestDatabase>();
  const stores = new Map<string, Promise<Store<unknown>>>();
  return {
    store(service, migrations) {
      let store = stores.get(service);
      if (store === undefined) {
        store = (async () => {
          const database = await createTestDatabase({ prefix });
          databases.set(service, database);
          return openStore({ service, url: database.url, migrations, pool: { max: 20 } });
        })();
        stores.set(service, store);
      }
      return store;
    },
    url(service) {
      const database = databases.get(service);
      if (database === undefined) throw new Error(`no database was created for ${service}`);
      return database.url;
    },
    async dispose() {
      await Promise.allSettled([...stores.values()].map(async (s) => (await s).close()));
      await Promise.allSettled([...databases.values()].map((d) => d.drop()));
    },
  };
}
