import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';

/** A process to account CPU time to. */
export interface CountedProcess {
  readonly label: string;
  readonly pid: number;
}

/**
 * Processes accounted together under one label, found anew at the start and at the end of the
 * window (PostgreSQL's backends come and go): every one of them that can be read is counted.
 */
export interface CountedGroup {
  readonly label: string;
  /** The group's pids at the moment of the call. */
  readonly pids: () => readonly number[];
}

/** CPU time one process (or group) spent over a window. */
export interface ProcessCpu {
  readonly label: string;
  /** User + system CPU seconds of all its threads (JavaScript, GC, libuv pool). */
  readonly seconds: number;
  /** Its share of the CPU time of all counted processes, 0..1. */
  readonly share: number;
  /** For a group: how many of its processes were accounted. */
  readonly processes?: number;
}

/** What the whole machine did over a window, from /proc/stat. */
export interface MachineCpu {
  /** Wall-clock length of the window, seconds. */
  readonly windowSeconds: number;
  readonly cores: number;
  /** Share of all cores' time that was not idle (any process, this machine's other work included), 0..1. */
  readonly busy: number;
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

/** A process's CPU seconds so far and when it started (ticks since boot, to tell a reused pid). */
interface CpuReading {
  readonly seconds: number;
  readonly started: string;
}

/** A process's user and kernel CPU seconds so far, all threads, and its start time (ticks since boot). */
export interface CpuTimes {
  readonly user: number;
  readonly kernel: number;
  readonly started: string;
}

/** User and kernel CPU seconds of `pid` so far (Linux /proc), or `undefined` when they cannot be read. */
export function cpuTimes(pid: number): CpuTimes | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The fields after the parenthesised command name: state is the first, utime the 12th,
    // stime the 13th, starttime the 20th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const user = Number(fields[11]) / clockTicks();
    const kernel = Number(fields[12]) / clockTicks();
    return Number.isFinite(user + kernel) ? { user, kernel, started: fields[19] ?? '' } : undefined;
  } catch {
    return undefined;
  }
}

/** User + system CPU seconds of `pid` so far (Linux /proc), or `undefined` when it cannot be read. */
function readCpu(pid: number): CpuReading | undefined {
  if (pid === process.pid) {
    const usage = process.cpuUsage();
    return { seconds: (usage.user + usage.system) / 1e6, started: 'self' };
  }
  const times = cpuTimes(pid);
  return times === undefined ? undefined : { seconds: times.user + times.kernel, started: times.started };
}

function cpuSeconds(pid: number): number {
  return readCpu(pid)?.seconds ?? Number.NaN;
}

/** The pids of the processes whose command name (`/proc/<pid>/comm`) is `name`. */
function pidsNamed(name: string): number[] {
  const pids: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return pids;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === name) pids.push(Number(entry));
    } catch {
      // Ended since the directory was read.
    }
  }
  return pids;
}

/**
 * The infrastructure processes of this machine the distributed shop uses, one group each:
 * every `postgres` process as "PostgreSQL" (postmaster, backends, background workers),
 * `nats-server` as "NATS" and `redis-server` as "Redis". Processes in other PID namespaces
 * (a server in a container) are not visible and count as nothing.
 */
export function infrastructureGroups(): CountedGroup[] {
  return [
    { label: 'PostgreSQL', pids: () => pidsNamed('postgres') },
    { label: 'NATS', pids: () => pidsNamed('nats-server') },
    { label: 'Redis', pids: () => pidsNamed('redis-server') },
  ];
}

function isGroup(p: CountedProcess | CountedGroup): p is CountedGroup {
  return 'pids' in p;
}

/** CPU seconds a group spent since `start`: its processes now and then, each read at the end. */
function groupSeconds(
  group: CountedGroup,
  start: ReadonlyMap<number, CpuReading>,
): { seconds: number; processes: number } {
  const now = new Set(group.pids());
  let seconds = 0;
  let processes = 0;
  for (const pid of new Set([...start.keys(), ...now])) {
    const end = readCpu(pid);
    if (end === undefined) continue; // Ended in the window: its last CPU time is gone.
    const before = start.get(pid);
    if (before !== undefined && before.started === end.started) seconds += end.seconds - before.seconds;
    // Started in the window (a new backend): all its CPU time is the window's.
    else if (now.has(pid)) seconds += end.seconds;
    else continue; // A pid of the start reused by another process.
    processes++;
  }
  return { seconds, processes };
}

/**
 * Starts counting the CPU time of `processes` (and of this process, when listed with its own
 * pid) and of `groups` of processes; `stop()` returns each one's CPU seconds over the window
 * and its share, busiest first. A process that cannot be read at the start or at the end is
 * left out.
 */
export function countCpu(processes: readonly (CountedProcess | CountedGroup)[]): { stop(): ProcessCpu[] } {
  const start = processes.map((p) =>
    isGroup(p)
      ? new Map(
          p.pids().flatMap((pid) => {
            const r = readCpu(pid);
            return r === undefined ? [] : [[pid, r] as const];
          }),
        )
      : cpuSeconds(p.pid),
  );
  return {
    stop() {
      const used = processes.map((p, i) => {
        const before = start[i]!;
        if (isGroup(p) && typeof before !== 'number') return { label: p.label, ...groupSeconds(p, before) };
        return { label: p.label, seconds: cpuSeconds((p as CountedProcess).pid) - (before as number) };
      });
      const counted = used.filter((u) => Number.isFinite(u.seconds));
      const total = counted.reduce((n, u) => n + u.seconds, 0);
      return counted
        .map((u) => ({ ...u, share: total > 0 ? u.seconds / total : 0 }))
        .sort((a, b) => b.seconds - a.seconds);
    },
  };
}

/** The `cpu` line of /proc/stat: busy and total ticks of all cores since boot, or `undefined`. */
function machineTicks(): { busy: number; total: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    // user nice system idle iowait irq softirq steal (guest time is inside user already).
    const [user, nice, system, idle, iowait, irq, softirq, steal] = line
      .trim()
      .split(/\s+/)
      .slice(1, 9)
      .map(Number) as number[];
    const busy = user! + nice! + system! + irq! + softirq! + (steal ?? 0);
    const total = busy + idle! + iowait!;
    return Number.isFinite(total) && Number.isFinite(busy) ? { busy, total } : undefined;
  } catch {
    return undefined;
  }
}

/** Starts measuring the window's length and how busy the machine's cores were; `stop()` reports it. */
export function countMachineCpu(): { stop(): MachineCpu } {
  const t0 = process.hrtime.bigint();
  const before = machineTicks();
  return {
    stop() {
      const windowSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const after = machineTicks();
      const total = before === undefined || after === undefined ? 0 : after.total - before.total;
      return {
        windowSeconds,
        cores: cpus().length,
        busy:
          total > 0 && after !== undefined && before !== undefined
            ? (after.busy - before.busy) / total
            : Number.NaN,
      };
    },
  };
}
