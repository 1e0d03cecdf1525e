import { closeSync, existsSync, type FSWatcher, openSync, utimesSync, watch } from 'node:fs';
import { dirname } from 'node:path';

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
 * The doorbell of the log at `path`: an empty file beside it whose times every publisher touches
 * after each committed append, and that subscribers in other processes watch. Watching the log's
 * own `-wal` file instead would wake every subscriber on every write to the log, cursor and
 * lease writes included (several per delivered message, each then costing every process a read
 * of the log), while only appends can bring new messages.
 */
export class Doorbell {
  /** The doorbell file, `<log>-wake`. */
  readonly path: string;
  private watcher: FSWatcher | undefined;
  private closed = false;

  constructor(
    logPath: string,
    private readonly onError: (error: unknown) => void,
  ) {
    this.path = `${logPath}-wake`;
  }

  /**
   * Tells the watchers in other processes that messages were appended: one `utimes` call on the
   * file's path (so a replaced file is still the one rung). Best effort: subscribers also poll.
   */
  ring(): void {
    if (this.closed) return;
    const now = Date.now() / 1000;
    try {
      utimesSync(this.path, now, now);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.onError(err);
      else this.create();
    }
  }

  /**
   * Calls `onRing` when any process rings (inotify on Linux). Returns false where watching is
   * not supported; polling covers it. A deleted or replaced file is recreated and watched again.
   */
  watch(onRing: () => void): boolean {
    if (this.closed || this.watcher !== undefined) return this.watcher !== undefined;
    try {
      this.create();
      this.watcher = watch(this.path, { persistent: false }, (event) => {
        onRing();
        if (event === 'rename' && !this.closed && existsSync(dirname(this.path))) {
          // The watch followed the old file; follow the one the path names now (unless the
          // whole folder, log included, is gone).
          this.watcher?.close();
          this.watcher = undefined;
          this.watch(onRing);
        }
      });
      this.watcher.on('error', this.onError);
      return true;
    } catch (err) {
      this.onError(err);
      return false;
    }
  }

  /** Stops watching. */
  close(): void {
    this.closed = true;
    this.watcher?.close();
    this.watcher = undefined;
  }

  /** Creates the file when missing (never truncates it). */
  private create(): void {
    try {
      closeSync(openSync(this.path, 'a'));
    } catch (err) {
      this.onError(err);
    }
  }
}
