// What the deployment must agree with, read from the shop's code rather than restated: the
// services of the system file, the health routes each kind of process serves, the port it
// listens on, who calls whom over HTTP, and the environment variables the code reads.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import system from '../../apps/shop/flotilla.system.js';
import gatewayConfig from '../../apps/shop/src/gateway/config.js';

/** The repository root. */
export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** The gateway process is the one `gateway` names in the system file; every other one is a service. */
export const gatewayName = system.gateway ?? 'gateway';

/** The services of apps/shop/flotilla.system.ts with their entries (`services/order/main`, no extension). */
export function systemServices(): { name: string; entry: string }[] {
  return system.services.map((s) => ({
    name: s.name,
    entry: s.entry.replace(/^(src|dist)\//, '').replace(/\.(ts|js)$/, ''),
  }));
}

/**
 * How many instances of service `name` `flotilla up --profile distributed` runs (its
 * `instances`, else one), the shape the deployment artefacts take into containers.
 */
export function distributedInstances(name: string): number {
  const override = system.profiles?.distributed?.services?.[name];
  const service = system.services.find((s) => s.name === name);
  return (
    (override?.instances ?? (override?.port === undefined ? service?.instances : undefined))?.length ?? 1
  );
}

/** The environment the distributed profile adds for service `name` (the profile's, then the service's). */
export function distributedEnv(name: string): Map<string, string> {
  const profile = system.profiles?.distributed;
  const env = { ...profile?.env, ...profile?.services?.[name]?.env };
  return new Map(Object.entries(env).map(([k, v]) => [k, String(v)]));
}

const read = (path: string) => readFileSync(join(repoRoot, path), 'utf8');

/** The health paths a process serves: @flotilla/service's routes, or the gateway's own. */
export function servedHealthPaths(name: string): Set<string> {
  const [file, pattern] =
    name === gatewayName
      ? ['packages/gateway/src/gateway.ts', /path === '(\/health\/[a-z]+)'/g]
      : ['packages/service/src/server.ts', /app\.get\('(\/health\/[a-z]+)'/g];
  return new Set([...read(file).matchAll(pattern)].map((m) => m[1] as string));
}

/**
 * The port a process listens on given its environment, as packages/service (server.ts) and the
 * gateway (gateway.ts) choose it: FLOTILLA_PORT, else PORT, else 8080 for the gateway and a
 * random free port (0) for a service — which no manifest can probe.
 */
export function listenPort(name: string, env: ReadonlyMap<string, string | undefined>): number | undefined {
  const value = env.get('FLOTILLA_PORT') ?? env.get('PORT') ?? (name === gatewayName ? '8080' : undefined);
  const port = Number(value);
  return value === undefined || !Number.isInteger(port) || port <= 0 ? undefined : port;
}

/** Who calls whom over HTTP: the gateway's routes, and each service's `client('x')` / `clients.get('x')`. */
export function callGraph(): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  const add = (caller: string, callee: string) => {
    const callees = graph.get(caller) ?? new Set<string>();
    callees.add(callee);
    graph.set(caller, callees);
  };
  for (const route of gatewayConfig.routes) {
    if (route.upstream !== undefined) add(gatewayName, route.upstream.service);
    if (route.split !== undefined) {
      add(gatewayName, route.split.legacy.service);
      add(gatewayName, route.split.candidate.service);
    }
    for (const part of Object.values(route.aggregate?.parts ?? {})) add(gatewayName, part.service);
  }
  for (const { name, entry } of systemServices()) {
    if (name === gatewayName) continue;
    const dir = join(repoRoot, 'apps/shop/src', entry, '..');
    for (const file of sourceFiles(dir))
      for (const m of readFileSync(file, 'utf8').matchAll(/\bclients?(?:\.get)?\('([a-z0-9-]+)'\)/g))
        add(name, m[1] as string);
  }
  return graph;
}

/** Where the variables a process reads are named: the code that runs in it (tests excluded). */
function readingSources(name: string): string[] {
  if (name === gatewayName)
    return [
      'packages/gateway/src',
      'packages/service/src/discovery.ts',
      'packages/service/src/logger.ts',
      'apps/shop/src/gateway',
    ];
  const entry = systemServices().find((s) => s.name === name)?.entry ?? `services/${name}/main`;
  return [
    'packages/service/src',
    'packages/store/src',
    'packages/events/src',
    'packages/saga/src',
    'apps/shop/src/platform',
    join('apps/shop/src', entry, '..'),
  ];
}

/**
 * Why `variable` would be ignored by process `name`, or undefined when the process reads it:
 * named literally in its code, or one of the names discovery and the shop's runtime build
 * (`FLOTILLA_<SERVICE>_URL` of a known service, the process's own `FLOTILLA_DATABASE_URL_<SERVICE>`).
 */
export function unreadVariable(name: string, variable: string): string | undefined {
  const services = systemServices().map((s) => s.name);
  const upper = (s: string) => s.toUpperCase().replace(/[^A-Z0-9]/g, '_');
  if (services.some((s) => variable === `FLOTILLA_${upper(s)}_URL`)) return undefined;
  if (variable.startsWith('FLOTILLA_DATABASE_URL_'))
    return name !== gatewayName && variable === `FLOTILLA_DATABASE_URL_${upper(name)}`
      ? undefined
      : `${variable} is another service's database`;
  const word = new RegExp(`\\b${variable}\\b`);
  for (const source of readingSources(name))
    for (const file of sourceFiles(join(repoRoot, source)))
      if (word.test(readFileSync(file, 'utf8'))) return undefined;
  return `${name} never reads ${variable}`;
}

/** The entry source of `entry` (`services/order/main`) under apps/shop/src, when it exists. */
export function entrySource(entry: string): string | undefined {
  const file = join(repoRoot, 'apps/shop/src', `${entry}.ts`);
  return existsSync(file) ? file : undefined;
}

function sourceFiles(path: string): string[] {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path).flatMap((name) => {
    if (name === 'testing' || name === 'fixtures' || name === 'node_modules') return [];
    const full = join(path, name);
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return name.endsWith('.ts') && !/\.test(-helpers)?\.ts$/.test(name) ? [full] : [];
  });
}
