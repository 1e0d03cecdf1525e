// One measurement in a fresh process: `worker.ts <variant> <calls> <concurrency> [heap]`.
// Prints one JSON line: { opsPerSec } or, with `heap`, { heapGrowthBytes } over the calls.
import { variants } from './variants.js';

const [name = '', callsArg = '1000000', concurrencyArg = '1', mode = 'speed'] = process.argv.slice(2);
const variant = variants[name];
if (variant === undefined) throw new Error(`unknown variant ${name}`);
const calls = Number(callsArg);
const concurrency = Number(concurrencyArg);
const fn = async (): Promise<number> => 1;
const call = variant.make(fn);

async function run(n: number): Promise<void> {
  if (concurrency === 1) {
    for (let i = 0; i < n; i++) await call();
    return;
  }
  const per = Math.ceil(n / concurrency);
  const worker = async (): Promise<void> => {
    for (let i = 0; i < per; i++) await call();
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

const gc = (globalThis as { gc?: () => void }).gc;
await run(Math.min(200_000, calls)); // warm-up: let the JIT settle before measuring
if (mode === 'heap') {
  if (gc === undefined) throw new Error('heap mode needs --expose-gc');
  gc();
  const before = process.memoryUsage().heapUsed;
  await run(calls);
  gc();
  const after = process.memoryUsage().heapUsed;
  console.log(JSON.stringify({ heapGrowthBytes: after - before }));
} else {
  const start = performance.now();
  await run(calls);
  const ms = performance.now() - start;
  console.log(JSON.stringify({ opsPerSec: (calls / ms) * 1000 }));
}
process.exit(0);
