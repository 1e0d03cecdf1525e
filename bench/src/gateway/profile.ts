import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** One function's share of the samples of a CPU profile. */
export interface SelfTime {
  readonly name: string;
  /** Where it is defined: `file:line`, or `(native)`. */
  readonly where: string;
  /** Share of the samples spent in the function itself, 0..1. */
  readonly share: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}

/**
 * The functions with the most self time in the `.cpuprofile` files of `dir` (V8's format, as
 * `node --cpu-prof` writes it), the idle time left out: what the process spent its CPU on.
 */
export function topSelfTime(dir: string, count: number): SelfTime[] {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  const totals = new Map<string, { name: string; where: string; time: number }>();
  let busy = 0;
  for (const file of files) {
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as {
      nodes: ProfileNode[];
      samples: number[];
      timeDeltas: number[];
    };
    const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
    profile.samples.forEach((id, i) => {
      const node = nodes.get(id);
      if (node === undefined) return;
      const { functionName, url, lineNumber } = node.callFrame;
      if (functionName === '(idle)') return;
      const time = profile.timeDeltas[i] ?? 0;
      const where =
        url === ''
          ? '(native)'
          : `${url
              .replace(/^.*node_modules\//, '')
              .replace(/^.*\/(packages|bench)\//, '$1/')
              .replace(/^node:/, 'node:')}:${lineNumber + 1}`;
      const name = functionName === '' ? '(anonymous)' : functionName;
      const key = `${name} ${where}`;
      const entry = totals.get(key) ?? { name, where, time: 0 };
      entry.time += time;
      totals.set(key, entry);
      busy += time;
    });
  }
  return [...totals.values()]
    .sort((a, b) => b.time - a.time)
    .slice(0, count)
    .map((e) => ({ name: e.name, where: e.where, share: busy === 0 ? 0 : e.time / busy }));
}
