import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventBusConformance } from './testing/event-conformance.js';
import { sqliteStoreSet } from './testing/store-sets.js';
import type { Transport } from './transport.js';
import { embeddedTransport } from './transports/embedded/embedded-transport.js';

// Every service has its own SQLite file and every bus its own transport instance on the shared
// bus.db, as separate processes of one machine would.
eventBusConformance('embedded transport + SQLite stores', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-events-embedded-'));
  const transports: Transport[] = [];
  const stores = sqliteStoreSet();
  return {
    concurrentWriters: false,
    transport: async () => {
      const transport = embeddedTransport({ path: join(dir, 'bus.db'), pollIntervalMs: 100 });
      transports.push(transport);
      return transport;
    },
    store: (service, migrations) => stores.store(service, migrations),
    dispose: async () => {
      await Promise.allSettled(transports.map((t) => t.close()));
      await stores.dispose();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
