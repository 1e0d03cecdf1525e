// Measures one HTTP client against an upstream for a fixed time, in its own process:
// `client-driver.ts <undici|flotilla|flotilla-full> <upstream-url> <concurrency> <seconds>`; prints
// `{"rps": …, "p50Ms": …, "p99Ms": …}`.
import { createClients, createTracer, discovery, serviceTokens } from '@flotilla/service';
import { Pool } from 'undici';
import { quantile } from '../lib/stats.js';

const [kind = 'undici', url = '', concurrencyArg = '32', secondsArg = '5'] = process.argv.slice(2);
const concurrency = Number(concurrencyArg);
const seconds = Number(secondsArg);

let call: () => Promise<unknown>;
if (kind === 'undici') {
  const pool = new Pool(url, { connections: 64 });
  call = async () => {
    const res = await pool.request({
      path: '/hello',
      method: 'GET',
      headers: { accept: 'application/json' },
    });
    if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
    return res.body.json();
  };
} else {
  // `flotilla`: every policy (retry with budget, breaker, timeout, bulkhead, load balancing, outlier
  // detection). `flotilla-full`: also a service token and a recorded client span per call.
  const full = kind === 'flotilla-full';
  const clients = createClients({
    caller: 'bench',
    discovery: discovery({ env: { FLOTILLA_UPSTREAM_URL: url } }),
    ...(full
      ? {
          tokens: serviceTokens({ service: 'bench', key: 'x'.repeat(64) }),
          tracer: createTracer({ service: 'bench' }),
        }
      : {}),
  });
  const upstream = clients.get('upstream');
  call = () => upstream.get('/hello');
}

const latencies: number[] = [];
let done = 0;
const warmUntil = performance.now() + 1000;
const endAt = warmUntil + seconds * 1000;
async function loop(): Promise<void> {
  for (;;) {
    const start = performance.now();
    if (start >= endAt) return;
    await call();
    const end = performance.now();
    if (start >= warmUntil) {
      done++;
      if (done % 4 === 0) latencies.push(end - start);
    }
  }
}
await Promise.all(Array.from({ length: concurrency }, loop));
console.log(
  JSON.stringify({ rps: done / seconds, p50Ms: quantile(latencies, 0.5), p99Ms: quantile(latencies, 0.99) }),
);
process.exit(0);
