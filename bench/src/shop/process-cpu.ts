import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** A process to account CPU time to. */
export interface CountedProcess {
  readonly label: string;
  readonly pid: number;
}

/** CPU time one process spent over a window. */
export interface ProcessCpu {
  readonly label: string;
  /** User + system CPU seconds of all its threads (JavaScript, GC, libuv pool). */
  readonly seconds: number;
  /** Its share of the CPU time of all counted processes, 0..1. */
  readonly share: number;
}

let ticks: number | undefined;

function clockTicks(): number {
  if (ticks !== undefined) return ticks;
  try {
    ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    ticks = 100;
  }
  return ticks;
}

/** User + system CPU seconds of `pid` so far (Linux /proc), or NaN when it cannot be read. */
function cpuSeconds(pid: number): number {
  if (pid === process.pid) {
    const usage = process.cpuUsage();
    return (usage.user + usage.system) / 1e6;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The fields after the parenthesised command name: state is the first, utime the 12th, stime the 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / clockTicks();
  } catch {
    return Number.NaN;
  }
}

/**
 * Starts counting the CPU time of `processes` (and of this process, when listed with its own
 * pid); `stop()` returns each one's CPU seconds over the window and its share, busiest first.
 */
export function countCpu(processes: readonly CountedProcess[]): { stop(): ProcessCpu[] } {
  const start = processes.map((p) => cpuSeconds(p.pid));
  return {
    stop() {
      const used = processes.map((p, i) => ({ label: p.label, seconds: cpuSeconds(p.pid) - start[i]! }));
      const counted = used.filter((u) => Number.isFinite(u.seconds));
      const total = counted.reduce((n, u) => n + u.seconds, 0);
      return counted
        .map((u) => ({ ...u, share: total > 0 ? u.seconds / total : 0 }))
        .sort((a, b) => b.seconds - a.seconds);
    },
  };
}
