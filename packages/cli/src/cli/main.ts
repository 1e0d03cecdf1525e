import { readFileSync } from 'node:fs';
import { flotillaCode } from '@flotilla/resilience';
import { doctorCommand } from '../doctor/doctor-command.js';
import { type CommandIO, isUsageError } from './args.js';
import { chaosCommand } from './chaos-command.js';
import { controlCommand } from './control-command.js';
import { COMMAND_HELP, MAIN_HELP } from './help.js';
import { loadCommand } from './load-command.js';
import { resetCommand } from './reset-command.js';
import { statusCommand } from './status-command.js';
import { upCommand } from './up-command.js';

const COMMANDS: Readonly<Record<string, (args: readonly string[], io: CommandIO) => Promise<number>>> = {
  up: upCommand,
  status: statusCommand,
  stop: (args, io) => controlCommand('stop', args, io),
  start: (args, io) => controlCommand('start', args, io),
  restart: (args, io) => controlCommand('restart', args, io),
  reset: resetCommand,
  load: loadCommand,
  chaos: chaosCommand,
  doctor: doctorCommand,
};

/**
 * Runs the `flotilla` command line and resolves with the exit code: 0 success, 1 failure,
 * 2 usage error. Errors are printed, never thrown.
 */
export async function main(argv: readonly string[], io: CommandIO): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h') {
    io.stdout.write(`${MAIN_HELP}\n`);
    return command === undefined ? 2 : 0;
  }
  if (command === '--version' || command === '-v') {
    io.stdout.write(`${version()}\n`);
    return 0;
  }
  if (command === 'help') {
    const topic = rest[0];
    if (topic === undefined) {
      io.stdout.write(`${MAIN_HELP}\n`);
      return 0;
    }
    const text = COMMAND_HELP[topic];
    if (text === undefined) return usage(io, `unknown command "${topic}"`, undefined);
    io.stdout.write(`${text}\n`);
    return 0;
  }
  const run = COMMANDS[command];
  if (run === undefined) return usage(io, `unknown command "${command}"`, undefined);
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(`${COMMAND_HELP[command]}\n`);
    return 0;
  }
  try {
    return await run(rest, io);
  } catch (err) {
    if (isUsageError(err)) return usage(io, err.message, err.command);
    const message = err instanceof Error ? err.message : String(err);
    io.stderr.write(`flotilla ${command}: ${message}\n`);
    // Flotilla errors say all there is to say; a stack only helps when debugging flotilla itself.
    if (flotillaCode(err) === undefined && err instanceof Error && io.env.FLOTILLA_DEBUG !== undefined)
      io.stderr.write(`${err.stack ?? ''}\n`);
    return 1;
  }
}

function usage(io: CommandIO, message: string, command: string | undefined): number {
  io.stderr.write(
    `flotilla${command === undefined ? '' : ` ${command}`}: ${message}\nRun flotilla ${command === undefined ? '--help' : `help ${command}`} for usage.\n`,
  );
  return 2;
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}
