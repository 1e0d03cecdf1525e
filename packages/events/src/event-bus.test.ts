import { eventBusConformance } from './testing/event-conformance.js';
import { sqliteStoreSet } from './testing/store-sets.js';
import { memoryTransport } from './transports/memory.js';

eventBusConformance('memory transport + SQLite stores', async () => {
  const transport = memoryTransport();
  const stores = sqliteStoreSet();
  return {
    concurrentWriters: false,
    transport: async () => transport,
    store: (service, migrations) => stores.store(service, migrations),
    dispose: async () => {
      await transport.close();
      await stores.dispose();
    },
  };
});
