import { execFileSync } from 'node:child_process';
import { childArgs } from '../lib/child.js';
import { fmtInt, fmtRatio, median } from '../lib/stats.js';
import { publish } from '../lib/table.js';
import { variants } from './variants.js';

/** Options of the resilience benchmark. */
export interface ResilienceBenchOptions {
  /** Rounds per variant and mode; the median is reported. */
  rounds: number;
  /** Calls per measurement. */
  calls: number;
}

function measure(name: string, calls: number, concurrency: number, heap: boolean): Record<string, number> {
  const args = heap ? ['--expose-gc'] : [];
  args.push(
    ...childArgs(import.meta.url, 'worker'),
    name,
    String(calls),
    String(concurrency),
    heap ? 'heap' : 'speed',
  );
  const out = execFileSync(process.execPath, args, { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop() ?? '{}') as Record<string, number>;
}

/**
 * Ops/s of awaiting a resolved async function, bare and under each policy, sequential and
 * 100-concurrent. Every measurement runs in a fresh process; rounds are interleaved across
 * variants so drift in the machine affects all of them alike; medians are reported.
 */
export function benchResilience({ rounds, calls }: ResilienceBenchOptions): void {
  const names = Object.keys(variants);
  const modes = [1, 100];
  const samples = new Map<string, number[]>();
  for (let round = 1; round <= rounds; round++) {
    for (const concurrency of modes) {
      for (const name of names) {
        const { opsPerSec = Number.NaN } = measure(name, calls, concurrency, false);
        const key = `${name}@${concurrency}`;
        samples.set(key, [...(samples.get(key) ?? []), opsPerSec]);
      }
    }
    process.stderr.write(`resilience: round ${round}/${rounds} done\n`);
  }
  const heap = new Map(names.map((n) => [n, measure(n, 1_000_000, 1, true).heapGrowthBytes ?? Number.NaN]));
  const ops = (name: string, c: number) => median(samples.get(`${name}@${c}`) ?? []);
  const rows = names.map((name) => {
    const v = variants[name];
    const seq = ops(name, 1);
    const conc = ops(name, 100);
    return [
      v?.label ?? name,
      fmtInt(seq),
      fmtRatio(seq / ops('bare', 1)),
      fmtInt(conc),
      fmtRatio(conc / ops('bare', 100)),
      `${((heap.get(name) ?? 0) / 1024).toFixed(0)} KiB`,
    ];
  });
  publish({
    name: 'resilience',
    title: 'Resilience policies: ops/s of awaiting a resolved async function',
    command: `npm run bench -- resilience --rounds ${rounds} --calls ${calls}`,
    header: [
      'variant',
      'sequential ops/s',
      'ratio to bare',
      '100-concurrent ops/s',
      'ratio to bare',
      'heap growth over 1M calls',
    ],
    rows,
    notes: [
      `Medians of ${rounds} rounds of ${fmtInt(calls)} calls each; every measurement in a fresh Node process after a 200k-call warm-up.`,
      'Peers: cockatiel 3.2.1 and opossum 9.0.0, the last majors that support Node 20.',
      'Heap growth: heapUsed after a forced GC, after minus before 1M sequential calls.',
    ],
  });
}
