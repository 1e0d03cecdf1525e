import type {
  EnvTemplate,
  InstanceDefinition,
  ProfileDefinition,
  ServiceOverride,
  SystemDefinition,
} from './system-definition.js';
import { type System, validateSystem } from './validate-system.js';

/**
 * A copy of `system` with every string value of its environment variables — the system's, each
 * service's and instance's, each profile's and its overrides' — passed through `map`. Values are
 * the templates as written (placeholders not expanded). Infrastructure faults use it to point a
 * system at the run's own NATS server or databases.
 */
export function mapEnvValues(system: System, map: (value: string, name: string) => string): System {
  const swap = (env: EnvTemplate): EnvTemplate =>
    Object.fromEntries(Object.entries(env).map(([k, v]) => [k, typeof v === 'string' ? map(v, k) : v]));
  const withEnv = <T extends { env?: EnvTemplate }>(o: T): T =>
    o.env === undefined ? o : { ...o, env: swap(o.env) };
  const withInstances = <T extends { env?: EnvTemplate; instances?: readonly InstanceDefinition[] }>(
    o: T,
  ): T => ({
    ...withEnv(o),
    ...(o.instances === undefined ? {} : { instances: o.instances.map(withEnv) }),
  });
  const def = system.definition;
  const profile = (p: ProfileDefinition): ProfileDefinition => ({
    ...withEnv(p),
    ...(p.services === undefined
      ? {}
      : {
          services: Object.fromEntries(
            Object.entries(p.services).map(([s, o]): [string, ServiceOverride] => [s, withInstances(o)]),
          ),
        }),
  });
  const definition: SystemDefinition = {
    ...withEnv(def),
    services: def.services.map(withInstances),
    ...(def.profiles === undefined
      ? {}
      : { profiles: Object.fromEntries(Object.entries(def.profiles).map(([n, p]) => [n, profile(p)])) }),
  };
  return validateSystem(definition, {
    baseDir: system.baseDir,
    ...(system.file === undefined ? {} : { file: system.file }),
  });
}
