import { closeSync, existsSync, type FSWatcher, mkdirSync, openSync, utimesSync, watch } from 'node:fs';
import { dirname, join } from 'node:path';

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
 * The doorbells of the log at `path`: a folder beside it, `<log>-topics`, with an empty file per
 * topic. A publisher touches the file of each topic it appended after the commit; a process
 * watches the files of the topics its subscriptions take. So a publish wakes only the processes
 * that take its topic. Watching the log's own `-wal` file instead would wake every subscriber
 * on every write to the log, cursor and lease writes included (several per delivered message,
 * each costing every process an event-loop turn and a read of the log).
 */
export class Doorbells {
  /** The folder of the doorbell files, `<log>-topics`. */
  readonly dir: string;
  private readonly watchers = new Map<string, FSWatcher>();
  private closed = false;

  constructor(
    logPath: string,
    private readonly onError: (error: unknown) => void,
  ) {
    this.dir = `${logPath}-topics`;
  }

  /**
   * Tells the watchers in other processes that messages of `topics` were appended: one `utimes`
   * call per topic on the file's path (so a replaced file is still the one rung). Best effort:
   * subscribers also poll.
   */
  ring(topics: Iterable<string>): void {
    if (this.closed) return;
    const now = Date.now() / 1000;
    for (const topic of topics) {
      try {
        utimesSync(this.fileOf(topic), now, now);
      } catch (err) {
        // No file: nobody watches that topic yet (a watcher creates the file before watching it).
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.onError(err);
      }
    }
  }

  /**
   * Calls `onRing` when any process rings one of `topics` (inotify on Linux); topics already
   * watched are kept. Returns false when a watch could not be set up (unsupported there); polling
   * covers it. A deleted or replaced file is recreated and watched again.
   */
  watch(topics: Iterable<string>, onRing: () => void): boolean {
    let ok = true;
    for (const topic of topics) if (!this.watchTopic(topic, onRing)) ok = false;
    return ok;
  }

  /** Stops watching. */
  close(): void {
    this.closed = true;
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
  }

  private watchTopic(topic: string, onRing: () => void): boolean {
    if (this.closed) return false;
    if (this.watchers.has(topic)) return true;
    const file = this.fileOf(topic);
    try {
      mkdirSync(this.dir, { recursive: true });
      closeSync(openSync(file, 'a'));
      const watcher = watch(file, { persistent: false }, (event) => {
        onRing();
        if (event === 'rename' && !this.closed && this.watchers.get(topic) === watcher) {
          // The watch followed the old file; follow the one the path names now (unless the
          // whole folder, log included, is gone).
          watcher.close();
          this.watchers.delete(topic);
          if (existsSync(dirname(this.dir))) this.watchTopic(topic, onRing);
        }
      });
      watcher.on('error', this.onError);
      this.watchers.set(topic, watcher);
      return true;
    } catch (err) {
      this.onError(err);
      return false;
    }
  }

  private fileOf(topic: string): string {
    // Topics are letters, digits, '_', '-' and '.' between non-empty segments: safe file names.
    return join(this.dir, topic);
  }
}
