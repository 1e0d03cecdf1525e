// Flotilla's gateway in front of the benchmark upstream, from its compiled dist/ as in
// production (plain JavaScript, no TypeScript loader). argv[2]: the upstream URL; argv[3]:
// `plain` (no auth, no rate limit) or `secured` (HS256 JWT on the route, a per-consumer and a
// per-route rate limit in memory, the user signed into a service token upstream). Access logs
// off, as for the peers. Prints {"port": n} once listening; exits cleanly on SIGINT/SIGTERM so
// `--cpu-prof` can write its profile.
import { startGateway } from '@flotilla/gateway';
import { discovery } from '@flotilla/service';
import { pino } from 'pino';

const upstream = process.argv[2];
const secured = process.argv[3] === 'secured';
const gateway = await startGateway({
  config: {
    ...(secured ? { auth: { jwt: { secret: process.env.BENCH_JWT_SECRET } } } : {}),
    routes: [
      {
        id: 'catalog',
        match: { path: '/api/*' },
        ...(secured
          ? {
              rateLimit: {
                perConsumer: { ratePerSecond: 1_000_000, burst: 1_000_000 },
                perRoute: { ratePerSecond: 1_000_000, burst: 1_000_000 },
              },
            }
          : { auth: 'public' }),
        upstream: { service: 'catalog' },
      },
    ],
  },
  discovery: discovery({ topology: { services: { catalog: { urls: [upstream] } } }, env: {} }),
  ...(secured ? { serviceKey: process.env.BENCH_SERVICE_KEY } : {}),
  accessLog: false,
  logger: pino({ level: 'error' }, pino.destination(2)),
  port: 0,
  host: '127.0.0.1',
  env: {},
});
process.stdout.write(`${JSON.stringify({ port: Number(new URL(gateway.url).port) })}\n`);
const stop = () => {
  void gateway.close().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
