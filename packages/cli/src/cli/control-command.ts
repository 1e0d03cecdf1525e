import { connectControl } from '../control-client.js';
import type { ServiceAction } from '../system-control.js';
import { type CommandIO, integerOption, parseCommand } from './args.js';
import { requireService, systemFromArgs } from './system-arg.js';

/**
 * `flotilla stop|start|restart SERVICE`: asks the running supervisor's control API and prints
 * the resulting state of each instance. Start and restart return 1 when an instance is not ready.
 */
export async function controlCommand(
  action: Extract<ServiceAction, 'stop' | 'start' | 'restart'>,
  args: readonly string[],
  io: CommandIO,
): Promise<number> {
  const { values, positionals } = parseCommand(
    action,
    args,
    {
      file: { type: 'string', short: 'f' },
      instance: { type: 'string', short: 'i' },
    },
    1,
  );
  const instance =
    values.instance === undefined ? undefined : integerOption(action, 'instance', values.instance, 0, 0);
  const system = await systemFromArgs(action, undefined, values.file, io);
  const service = requireService(action, system, positionals[0]);
  const statuses = await connectControl(system).act(
    action,
    service,
    instance === undefined ? {} : { instance },
  );
  const multi = statuses.length > 1 || instance !== undefined;
  for (const s of statuses)
    io.stdout.write(
      `${multi ? `${s.service}[${s.instance}]` : s.service}: ${s.state}${s.pid === null ? '' : ` (pid ${s.pid})`}\n`,
    );
  return action === 'stop' || statuses.every((s) => s.state === 'ready') ? 0 : 1;
}
