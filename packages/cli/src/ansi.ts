/** The colours the supervisor's output uses. */
export type Colour = 'red' | 'green' | 'yellow' | 'blue' | 'magenta' | 'cyan' | 'gray' | 'bold';

const CODES: Readonly<Record<Colour, readonly [number, number]>> = {
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
  blue: [34, 39],
  magenta: [35, 39],
  cyan: [36, 39],
  gray: [90, 39],
  bold: [1, 22],
};

/** Colours for service prefixes, assigned in start order. */
export const SERVICE_COLOURS: readonly Colour[] = ['cyan', 'green', 'magenta', 'blue', 'yellow'];

/** Wraps `text` in the ANSI codes of `colour` when `enabled`. */
export function paint(colour: Colour, text: string, enabled: boolean): string {
  if (!enabled) return text;
  const [open, close] = CODES[colour];
  return `\u001b[${open}m${text}\u001b[${close}m`;
}

/**
 * Whether to colour a stream: only a terminal, and never when `NO_COLOR` is set
 * (https://no-color.org); `FORCE_COLOR` turns colour on regardless.
 */
export function colourFor(
  stream: { isTTY?: boolean },
  env: Readonly<Record<string, string | undefined>> = process.env,
): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '' && env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true;
}
