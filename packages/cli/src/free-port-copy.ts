import { freePorts } from './free-ports.js';
import type { InstanceDefinition, ServiceOverride, SystemDefinition } from './system-definition.js';
import { type System, validateSystem } from './validate-system.js';

/**
 * A copy of `system` that can run beside the original: every port of every service, instance
 * and profile moved to a port that is free now, the control API on a free port, and the data in
 * `dataDir`. `flotilla chaos --free-ports` and tests use it. Instances keep their `host` and
 * `netns`; the ports are picked on 127.0.0.1, and `startSystem` checks each on its own address
 * (in a fresh network namespace nearly every port is free anyway).
 */
export async function freePortCopy(system: System, dataDir: string): Promise<System> {
  const def = system.definition;
  const profiles = Object.entries(def.profiles ?? {});
  const needed = (s: { port?: number; instances?: readonly InstanceDefinition[] }): number =>
    (s.port === undefined ? 0 : 1) + (s.instances?.length ?? 0);
  const total =
    def.services.reduce((n, s) => n + needed(s), 0) +
    profiles.reduce((n, [, p]) => n + Object.values(p.services ?? {}).reduce((m, o) => m + needed(o), 0), 0);
  const ports = (await freePorts(total)).values();
  const next = (): number => ports.next().value as number;
  const moved = <T extends { port?: number; instances?: readonly InstanceDefinition[] }>(s: T): T => ({
    ...s,
    ...(s.port === undefined ? {} : { port: next() }),
    ...(s.instances === undefined ? {} : { instances: s.instances.map((i) => ({ ...i, port: next() })) }),
  });
  const definition: SystemDefinition = {
    ...def,
    dataDir,
    controlPort: 0,
    services: def.services.map(moved),
    profiles: Object.fromEntries(
      profiles.map(([name, p]) => [
        name,
        {
          ...p,
          services: Object.fromEntries(
            Object.entries(p.services ?? {}).map(([s, o]): [string, ServiceOverride] => [s, moved(o)]),
          ),
        },
      ]),
    ),
  };
  return validateSystem(definition, {
    baseDir: system.baseDir,
    ...(system.file === undefined ? {} : { file: system.file }),
  });
}
