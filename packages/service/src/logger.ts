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
  return pino(options);
}
