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
  /** Where lines go (tests pass a stream to read them). @default standard output, written synchronously */
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
  // Synchronous writes to standard output: a line is out when the call returns, so nothing is
  // left to flush at exit. pino's asynchronous default flushes at exit, and when standard output
  // is a pipe whose reader is gone (a killed supervisor) that flush retries forever and the
  // process never exits; a synchronous write instead fails once with EPIPE, and pino then stops
  // writing.
  return pino(options, pino.destination({ dest: 1, sync: true }));
}
