import { type DestinationStream, type Logger, type LoggerOptions, pino } from 'pino';
import pretty from 'pino-pretty';

/** Options of {@link createLogger}. */
export interface LoggerSettings {
  /** Service name put on every line. */
  service: string;
  /**
   * Minimum level: trace, debug, info, warn, error, fatal or silent.
   * @default 'info'
   */
  level?: string;
  /**
   * Human-readable lines instead of JSON.
   * @default true when standard output is a terminal
   */
  pretty?: boolean;
  /** Where lines go (tests pass a stream to read them). @default standard output */
  destination?: DestinationStream;
}

/**
 * The service logger: pino JSON lines carrying `service` (and, in request scope, `reqId` and
 * `traceId`); pretty-printed when attached to a terminal.
 */
export function createLogger(settings: LoggerSettings): Logger {
  const options: LoggerOptions = {
    level: settings.level ?? 'info',
    base: { service: settings.service },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  const usePretty = settings.pretty ?? process.stdout.isTTY === true;
  if (settings.destination !== undefined) return pino(options, settings.destination);
  if (usePretty) {
    return pino(
      options,
      pretty({
        sync: true,
        colorize: true,
        ignore: 'pid,hostname,service',
        messageFormat: `[${settings.service}] {msg}`,
      }),
    );
  }
  return pino(options, standardOutput());
}

type StdoutDestination = ReturnType<typeof pino.destination>;

/** The one destination of every logger of this process that writes JSON to standard output. */
let stdout: StdoutDestination | undefined;

/** pino's own destination for standard output (asynchronous, flushed at exit), made once. */
function standardOutput(): StdoutDestination {
  stdout ??= pino.destination({ dest: 1, sync: false });
  return stdout;
}

/**
 * Drops every later line that loggers made by {@link createLogger} write to standard output,
 * for when nothing reads it any more: the supervisor that held the other end of the pipe is
 * gone. Without this, the first line would fail with EPIPE, and pino's flush at exit retries
 * such a failure forever (sonic-boom 4), so the process could not exit. Lines already written
 * are kept; pretty output and explicit destinations are left alone.
 */
export function dropLogOutput(): void {
  const destination = stdout;
  if (destination === undefined) return;
  // What pino itself does to this destination after an EPIPE.
  destination.write = () => true;
  destination.flushSync = () => {};
  destination.flush = (cb?: (err?: Error) => void) => cb?.();
  destination.end = () => {};
}
