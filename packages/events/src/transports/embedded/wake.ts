import { type FSWatcher, watch } from 'node:fs';
import { basename, dirname } from 'node:path';

/** What a transport instance listens to on its log: new messages, and group changes. */
export interface WakeListener {
  /** Something may have been appended to the log. */
  data(): void;
  /** A member of `group` joined, left or released partitions in this process. */
  rebalance(group: string): void;
}

// Instances of the transport in one process (one per service, or several in a test) wake each
// other directly: faster than the file watcher, and it also works where inotify does not.
const local = new Map<string, Set<WakeListener>>();

/** Registers `listener` for the log at `path` (absolute); returns the function that removes it. */
export function listenLocally(path: string, listener: WakeListener): () => void {
  let set = local.get(path);
  if (set === undefined) {
    set = new Set();
    local.set(path, set);
  }
  set.add(listener);
  return () => {
    set.delete(listener);
    if (set.size === 0) local.delete(path);
  };
}

/** Tells every instance in this process that messages were appended to the log at `path`. */
export function notifyData(path: string): void {
  for (const l of local.get(path) ?? []) l.data();
}

/** Tells every instance in this process that membership of `group` changed on the log at `path`. */
export function notifyRebalance(path: string, group: string): void {
  for (const l of local.get(path) ?? []) l.rebalance(group);
}

/**
 * Watches the log's write-ahead file for writes by other processes (inotify on Linux). The
 * directory is watched rather than the `-wal` file, which SQLite deletes and recreates when the
 * last connection closes. Returns `undefined` where watching is not supported; polling covers it.
 */
export function watchLog(
  path: string,
  onChange: () => void,
  onError: (error: unknown) => void,
): FSWatcher | undefined {
  const wal = `${basename(path)}-wal`;
  try {
    const watcher = watch(dirname(path), { persistent: false }, (_event, filename) => {
      if (filename === null || filename === wal) onChange();
    });
    watcher.on('error', onError);
    return watcher;
  } catch (err) {
    onError(err);
    return undefined;
  }
}
