import { requirePg } from '@flotilla/store/testing';
import { eventBusConformance } from './testing/event-conformance.js';
import { privateStream, requireNats } from './testing/nats-helpers.js';
import { pgStoreSet } from './testing/store-sets.js';
import type { Transport } from './transport.js';
import { natsTransport } from './transports/nats.js';

const skip = (await requireNats()) ?? (await requirePg()).skip;

// Every service has its own PostgreSQL database and every bus its own NATS connection.
eventBusConformance(
  'NATS JetStream + PostgreSQL stores',
  async () => {
    const stream = privateStream();
    const transports: Transport[] = [];
    const stores = pgStoreSet('events_conformance');
    return {
      concurrentWriters: true,
      transport: async () => {
        const transport = await natsTransport({
          servers: stream.servers,
          stream: stream.stream,
          subjectPrefix: stream.subjectPrefix,
        });
        transports.push(transport);
        return transport;
      },
      store: (service, migrations) => stores.store(service, migrations),
      dispose: async () => {
        await Promise.allSettled(transports.map((t) => t.close()));
        await stores.dispose();
        await stream.remove();
      },
    };
  },
  { skip },
);
