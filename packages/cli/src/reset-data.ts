import { existsSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { parse, relative } from 'node:path';
import { DataDirError, SystemRunningError } from './errors.js';
import { readLiveLock } from './lock-file.js';

/**
 * Deletes a system's data directory (every service's data, the secrets, the topology). Throws
 * {@link SystemRunningError} while a supervisor holds it, and {@link DataDirError} for a directory
 * it will not delete: a filesystem root, the home directory, or one that contains the system file.
 * Resolves with whether there was anything to remove.
 *
 * @example
 * await resetData(await loadSystem('flotilla.system.ts')); // true
 */
export async function resetData(system: {
  readonly name: string;
  readonly dataDir: string;
  readonly baseDir: string;
}): Promise<boolean> {
  const { dataDir } = system;
  const lock = readLiveLock(dataDir);
  if (lock !== undefined)
    throw new SystemRunningError(
      `refusing to reset: flotilla up is running for system "${lock.system}" (pid ${lock.pid}); stop it first (Ctrl-C in its terminal, or kill ${lock.pid})`,
      lock.pid,
      dataDir,
    );
  // A data directory of '..' or '~' in a system file must not wipe a project or a home.
  const why =
    dataDir === parse(dataDir).root
      ? 'a filesystem root'
      : dataDir === homedir()
        ? 'the home directory'
        : !relative(dataDir, system.baseDir).startsWith('..')
          ? 'a directory that contains the system file'
          : undefined;
  if (why !== undefined)
    throw new DataDirError(
      `refusing to delete ${dataDir}: it is ${why}; point dataDir at a directory of its own`,
      dataDir,
    );
  if (!existsSync(dataDir)) return false;
  rmSync(dataDir, { recursive: true, force: true });
  return true;
}
