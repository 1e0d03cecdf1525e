import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type SelfTime, topSelfTime } from '../gateway/profile.js';
import type { ProcessCpu } from './process-cpu.js';

/** Where one process spent its CPU in the profiled window. */
export interface ProcessHotspots extends ProcessCpu {
  /** Its top self-time functions, share of its own non-idle samples. */
  readonly top: readonly SelfTime[];
  /**
   * Share of the window its main thread was not idle (0..1): running JavaScript or native code,
   * blocked in a synchronous call (SQLite, a pipe), or runnable but waiting for a core. NaN
   * without a profile.
   */
  readonly mainThreadBusy: number;
}

/** Non-idle share of the samples' time in a `.cpuprofile`. */
function busyShare(file: string): number {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as {
    nodes: { id: number; callFrame: { functionName: string } }[];
    samples: number[];
    timeDeltas: number[];
  };
  const idle = new Set(profile.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id));
  let all = 0;
  let busy = 0;
  profile.samples.forEach((id, i) => {
    const time = profile.timeDeltas[i] ?? 0;
    all += time;
    if (!idle.has(id)) busy += time;
  });
  return all === 0 ? Number.NaN : busy / all;
}

/**
 * Waits until every folder of `dir` holds its `profile.cpuprofile` (written when a service
 * receives its second SIGUSR2), for at most `timeoutMs`; returns the folders still without one.
 */
export async function awaitProfiles(
  dir: string,
  expected: readonly string[],
  timeoutMs = 30_000,
): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const missing = expected.filter((name) => !existsSync(join(dir, name, 'profile.cpuprofile')));
    if (missing.length === 0 || Date.now() > deadline) return missing;
    await sleep(100);
  }
}

/** Joins each process's CPU time with the top `count` self-time functions of its profile folder. */
export function hotspots(
  dir: string,
  cpu: readonly ProcessCpu[],
  folderOf: (label: string) => string,
  count = 5,
): ProcessHotspots[] {
  const folders = new Set(existsSync(dir) ? readdirSync(dir) : []);
  return cpu.map((c) => {
    const folder = folderOf(c.label);
    if (!folders.has(folder)) return { ...c, top: [], mainThreadBusy: Number.NaN };
    return {
      ...c,
      top: topSelfTime(join(dir, folder), count),
      mainThreadBusy: busyShare(join(dir, folder, 'profile.cpuprofile')),
    };
  });
}

/** A function's place, shortened to the repository path (`apps/shop/dist/…:12`). */
export function shortWhere(where: string): string {
  return where.replace(/^file:\/\/.*?\/(apps|packages|bench)\//, '$1/');
}
