import { resetData } from '../reset-data.js';
import { type CommandIO, parseCommand } from './args.js';
import { systemFromArgs } from './system-arg.js';

/** `flotilla reset`: deletes the data directory; fails (1) while `up` runs. */
export async function resetCommand(args: readonly string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseCommand('reset', args, { file: { type: 'string', short: 'f' } }, 1);
  const system = await systemFromArgs('reset', positionals[0], values.file, io);
  const removed = await resetData(system);
  io.stdout.write(
    removed ? `removed ${system.dataDir}\n` : `nothing to remove: ${system.dataDir} does not exist\n`,
  );
  return 0;
}
