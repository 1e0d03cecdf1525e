import { DEFAULT_SYSTEM_FILES, findSystemFile, loadSystem } from '../load-system.js';
import type { System } from '../validate-system.js';
import { type CommandIO, UsageError } from './args.js';

/** Loads the system a command names (positional or `--file`), or the default one. */
export async function systemFromArgs(
  command: string,
  positional: string | undefined,
  fileOption: string | undefined,
  io: CommandIO,
): Promise<System> {
  if (positional !== undefined && fileOption !== undefined && positional !== fileOption)
    throw new UsageError(`give the system file once (as an argument or with --file), not both`, command);
  const file = findSystemFile(positional ?? fileOption, io.env, io.cwd);
  if (file === undefined)
    throw new UsageError(
      `no system file: pass one (flotilla ${command} path/to/flotilla.system.ts), set FLOTILLA_SYSTEM, or create one of ${DEFAULT_SYSTEM_FILES.join(', ')} here`,
      command,
    );
  return loadSystem(file);
}

/** Checks that `service` names a service of the system (in any profile). */
export function requireService(command: string, system: System, service: string | undefined): string {
  const names = system.definition.services.map((s) => s.name);
  if (service === undefined)
    throw new UsageError(`name the service to ${command} (services: ${names.join(', ')})`, command);
  if (!names.includes(service))
    throw new UsageError(`unknown service "${service}" (services: ${names.join(', ')})`, command);
  return service;
}
