// Entry point of `npm run bench`: runs every benchmark, or those named on the command line.
//   npm run bench                              all
//   npm run bench -- resilience --rounds 5     one, with options
import { parseArgs } from 'node:util';
import { benchEvents } from './events/run.js';
import { benchGateway } from './gateway/run.js';
import { benchResilience } from './resilience/run.js';
import { benchSaga } from './saga/run.js';
import { benchService } from './service/run.js';
import { benchShop } from './shop/run.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    rounds: { type: 'string', default: '5' },
    calls: { type: 'string', default: '1000000' },
    seconds: { type: 'string', default: '10' },
    events: { type: 'string', default: '10000' },
    'latency-seconds': { type: 'string', default: '4' },
    sagas: { type: 'string', default: '2000' },
    orders: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '50' },
    'no-profile': { type: 'boolean', default: false },
    'pg-url': {
      type: 'string',
      default: process.env.FLOTILLA_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    },
    'nats-url': { type: 'string', default: process.env.FLOTILLA_TEST_NATS_URL ?? 'nats://127.0.0.1:4222' },
  },
});

const rounds = Number(values.rounds);
const calls = Number(values.calls);
const seconds = Number(values.seconds);
if (!(seconds >= 1)) throw new RangeError(`--seconds must be >= 1, got ${values.seconds}`);
if (!Number.isInteger(rounds) || rounds < 1)
  throw new RangeError(`--rounds must be an integer >= 1, got ${values.rounds}`);
if (!Number.isInteger(calls) || calls < 1000)
  throw new RangeError(`--calls must be an integer >= 1000, got ${values.calls}`);

const benches: Record<string, () => void | Promise<void>> = {
  resilience: () => benchResilience({ rounds, calls }),
  service: () => benchService({ rounds: Math.min(rounds, 3), seconds }),
  events: () =>
    benchEvents({
      rounds: Math.min(rounds, 3),
      events: Number(values.events),
      latencySeconds: Number(values['latency-seconds']),
    }),
  saga: () =>
    benchSaga({ rounds: Math.min(rounds, 3), sagas: Number(values.sagas), pgUrl: values['pg-url'] }),
  gateway: () => benchGateway({ rounds: Math.min(rounds, 3), durationS: seconds }),
  shop: () =>
    benchShop({
      orders: Number(values.orders),
      concurrency: Number(values.concurrency),
      profile: !values['no-profile'],
      pgUrl: values['pg-url'],
      natsUrl: values['nats-url'],
    }),
};

const selected = positionals.length > 0 ? positionals : Object.keys(benches);
for (const name of selected) {
  const bench = benches[name];
  if (bench === undefined)
    throw new RangeError(`unknown benchmark "${name}"; known: ${Object.keys(benches).join(', ')}`);
  await bench();
}
