import { type Colour, paint, SERVICE_COLOURS } from './ansi.js';
import { renderPinoLine } from './pino-line.js';

/** Where the supervisor's output goes, and how it looks. */
export interface LogPrinterOptions {
  /** Receives finished lines, each ending in a newline. */
  write: (chunk: string) => void;
  /** ANSI colours for prefixes and levels. */
  colour: boolean;
  /** Render pino JSON lines as short readable lines (otherwise they pass through as they are). */
  pretty: boolean;
  /** Every label that will be printed (`order`, `order[1]`), so prefixes line up. */
  labels: readonly string[];
}

/** Prefixes and prints the lines of every instance and of the supervisor itself. */
export interface LogPrinter {
  /** Prints a line an instance wrote; returns it in readable form without prefix or colour (for tails). */
  service(label: string, colourIndex: number, line: string): string;
  /** Prints a line of the supervisor's own. */
  system(line: string, level?: 'info' | 'warn' | 'error'): void;
}

const SYSTEM_LABEL = 'flotilla';

/**
 * Creates the printer `up` uses: each line gets a padded `name[instance] |` prefix, coloured per
 * service on a terminal.
 */
export function createLogPrinter(options: LogPrinterOptions): LogPrinter {
  const width = Math.max(SYSTEM_LABEL.length, ...options.labels.map((l) => l.length));
  const prefix = (label: string, colour: Colour): string =>
    paint(colour, `${label.padEnd(width)} |`, options.colour);
  const emit = (head: string, text: string): void => {
    options.write(
      `${text
        .split('\n')
        .map((l) => `${head} ${l}`)
        .join('\n')}\n`,
    );
  };
  return {
    service(label, colourIndex, line) {
      const plain = renderPinoLine(line, false);
      const shown =
        !options.pretty || plain === undefined
          ? line
          : options.colour
            ? (renderPinoLine(line, true) ?? plain)
            : plain;
      emit(prefix(label, SERVICE_COLOURS[colourIndex % SERVICE_COLOURS.length]!), shown);
      return plain ?? line;
    },
    system(line, level = 'info') {
      const text = level === 'info' ? line : paint(level === 'warn' ? 'yellow' : 'red', line, options.colour);
      emit(paint('bold', `${SYSTEM_LABEL.padEnd(width)} |`, options.colour), text);
    },
  };
}
