import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from './atomic-write.js';
import { SystemRunningError } from './errors.js';

/** The name of the lock file inside the data directory. */
export const LOCK_FILE = 'supervisor.json';

const LockSchema = z.object({
  version: z.literal(1),
  pid: z.int().min(1),
  system: z.string(),
  profile: z.string().nullable(),
  controlPort: z.int().min(0),
  startedAt: z.string(),
  children: z.array(z.object({ service: z.string(), instance: z.int(), pid: z.int(), entry: z.string() })),
});

/** What a running supervisor records about itself in `<dataDir>/supervisor.json`. */
export type SupervisorLock = z.output<typeof LockSchema>;

/** The lock a supervisor holds on its data directory. */
export interface HeldLock {
  readonly file: string;
  /** Rewrites the lock's content (control port, child pids). */
  update(change: Partial<Omit<SupervisorLock, 'version' | 'pid'>>): void;
  /** Removes the lock file. */
  release(): void;
}

/** True when a process with this id exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The lock of `dataDir` when a live supervisor holds it; undefined when there is none, or when
 * its supervisor died (a stale lock).
 */
export function readLiveLock(dataDir: string): SupervisorLock | undefined {
  const lock = readLock(join(dataDir, LOCK_FILE));
  return lock !== undefined && isAlive(lock.pid) ? lock : undefined;
}

/**
 * Takes `dataDir` for this process: creates the lock file exclusively, so two supervisors of one
 * system cannot run at once. A lock left by a supervisor that died is replaced, after its
 * orphaned children (still holding their ports) are terminated.
 */
export async function acquireLock(
  dataDir: string,
  initial: Omit<SupervisorLock, 'version' | 'pid'>,
): Promise<HeldLock> {
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, LOCK_FILE);
  let content: SupervisorLock = { version: 1, pid: process.pid, ...initial };
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o644);
      try {
        writeSync(fd, `${JSON.stringify(content, null, 2)}\n`);
      } finally {
        closeSync(fd);
      }
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw err;
      const existing = readLock(file);
      if (existing !== undefined && isAlive(existing.pid))
        throw new SystemRunningError(
          `flotilla up is already running for system "${existing.system}" (pid ${existing.pid}, data ${dataDir}); stop it first (Ctrl-C in its terminal, or kill ${existing.pid})`,
          existing.pid,
          dataDir,
        );
      if (existing !== undefined) await terminateOrphans(existing.children);
      rmSync(file, { force: true });
    }
  }
  return {
    file,
    update(change) {
      content = { ...content, ...change };
      writeFileAtomic(file, `${JSON.stringify(content, null, 2)}\n`);
    },
    release() {
      const current = readLock(file);
      if (current === undefined || current.pid === process.pid) rmSync(file, { force: true });
    },
  };
}

function readLock(file: string): SupervisorLock | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const parsed = LockSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    // A lock being replaced can be read half-way or vanish; treat it as absent.
    return undefined;
  }
}

/**
 * Ends the children of a supervisor that was killed without stopping them. A pid is only
 * signalled when its command line still names the recorded entry, so a recycled pid that now
 * belongs to another program is left alone (where /proc is missing, nothing is signalled).
 */
async function terminateOrphans(children: SupervisorLock['children']): Promise<void> {
  const orphans = children.filter((c) => isAlive(c.pid) && commandLineOf(c.pid).includes(c.entry));
  for (const orphan of orphans) signal(orphan.pid, 'SIGTERM');
  for (let waited = 0; waited < 5_000 && orphans.some((o) => isAlive(o.pid)); waited += 100)
    await new Promise((resolve) => setTimeout(resolve, 100));
  for (const orphan of orphans) if (isAlive(orphan.pid)) signal(orphan.pid, 'SIGKILL');
}

function commandLineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}
