// Where a plan's instances run — their addresses and network namespaces — checked before anything
// starts, and the address fault proxies listen on so that every namespace reaches them.
import { type NetworkInterfaceInfo, networkInterfaces } from 'node:os';
import { SystemDefinitionError, type SystemProblem } from './errors.js';
import { findIp, listeningSockets, listNamespaces, namespaceAddresses } from './netns.js';
import { isPortFree } from './port-check.js';
import {
  DEFAULT_HOST,
  isLoopback,
  type PlannedInstance,
  placementKeysOf,
  type System,
  type SystemPlan,
} from './validate-system.js';

/** What the machine offers for running instances elsewhere than on 127.0.0.1 (injectable for tests). */
export interface MachineFacts {
  /** `process.platform`. */
  readonly platform: string;
  /** The effective user id; `undefined` where there is none (Windows). */
  readonly uid: number | undefined;
  /** The `ip` program, or `undefined` when it is not installed. */
  readonly ip: string | undefined;
  /** This namespace's interfaces, as `os.networkInterfaces()` returns them. */
  readonly interfaces: NodeJS.Dict<NetworkInterfaceInfo[]>;
}

/** The facts of the machine this process runs on. */
export function thisMachine(): MachineFacts {
  return {
    platform: process.platform,
    uid: process.geteuid?.(),
    ip: findIp(),
    interfaces: networkInterfaces(),
  };
}

/** What running the plan needs besides node. */
export interface PlacementTools {
  /** The `ip` program, when an instance runs in a network namespace. */
  readonly ip: string | undefined;
}

/** True when every instance runs on the default address in the supervisor's namespace. */
export function isLocalOnly(plan: SystemPlan): boolean {
  return plan.services.every((s) =>
    s.instances.every((i) => i.host === DEFAULT_HOST && i.netns === undefined),
  );
}

/**
 * Checks that every instance can run where the plan puts it: an address of this machine for a
 * `host` in the supervisor's namespace; Linux, root, the `ip` program, an existing namespace and
 * an address of it for a `netns`. Throws a `SystemDefinitionError` naming the key of every
 * instance that cannot. Does nothing (and runs nothing) for a plan on 127.0.0.1 only.
 */
export async function checkPlacement(
  system: System,
  plan: SystemPlan,
  machine: MachineFacts = thisMachine(),
): Promise<PlacementTools> {
  if (isLocalOnly(plan)) return { ip: undefined };
  const problems = new Map<string, SystemProblem>();
  const add = (path: string, message: string): void => {
    problems.set(`${path}\0${message}`, { path, message });
  };
  const all = plan.services.flatMap((s) => s.instances.map((i) => ({ i, count: s.instances.length })));

  const local = new Set(ipv4Addresses(machine.interfaces).map((a) => a.address));
  for (const { i, count } of all)
    if (i.netns === undefined && !isLoopback(i.host) && !local.has(i.host))
      add(
        placementKeysOf(i).host,
        `${label(i, count)} would bind ${i.host}, which is not an address of this machine (its addresses: ${[...local].join(', ') || 'none'})`,
      );

  const inNamespace = all.filter(({ i }) => i.netns !== undefined);
  const first = inNamespace[0];
  let ip: string | undefined;
  if (first !== undefined) {
    const key = placementKeysOf(first.i).netns as string;
    const netns = first.i.netns as string;
    if (machine.platform !== 'linux')
      add(key, `network namespaces ("${netns}") need Linux; this is ${machine.platform}`);
    else if (machine.uid !== 0)
      add(
        key,
        `running a process in network namespace "${netns}" (ip netns exec) needs root; the supervisor runs as uid ${machine.uid ?? 'unknown'}`,
      );
    else if (machine.ip === undefined)
      add(
        key,
        `running a process in network namespace "${netns}" needs the ip program (iproute2), which is not installed`,
      );
    else {
      ip = machine.ip;
      const existing = await listNamespaces(ip);
      const byNamespace = new Map<string, typeof inNamespace>();
      for (const entry of inNamespace) {
        const list = byNamespace.get(entry.i.netns as string) ?? [];
        list.push(entry);
        byNamespace.set(entry.i.netns as string, list);
      }
      for (const [name, entries] of byNamespace) {
        if (!existing.includes(name)) {
          for (const { i } of entries)
            add(
              placementKeysOf(i).netns as string,
              `network namespace "${name}" does not exist (ip netns list: ${existing.join(', ') || 'none'}); create it with ip netns add ${name}`,
            );
          continue;
        }
        const addresses = await namespaceAddresses(ip, name);
        for (const { i, count } of entries)
          if (!addresses.includes(i.host))
            add(
              placementKeysOf(i).host,
              `${label(i, count)} would bind ${i.host}, which is not an address in network namespace "${name}" (its addresses: ${addresses.join(', ') || 'none'})`,
            );
      }
    }
  }
  if (problems.size > 0) throw new SystemDefinitionError(sourceOf(system), [...problems.values()]);
  return { ip };
}

/**
 * Resolves true when nothing listens on the instance's port at its address, in its namespace:
 * a bind test in the supervisor's namespace, the listening sockets of the namespace otherwise.
 */
export async function isInstancePortFree(
  instance: PlannedInstance,
  ip: string | undefined,
): Promise<boolean> {
  if (instance.netns === undefined) return isPortFree(instance.port, instance.host);
  if (ip === undefined) throw new Error(`no ip program to look into network namespace "${instance.netns}"`);
  const sockets = await listeningSockets(ip, instance.netns);
  return !sockets.some(
    (s) =>
      s.port === instance.port &&
      (s.address === instance.host || s.address === '0.0.0.0' || s.address === '::'),
  );
}

/**
 * The address fault proxies listen on: `127.0.0.1` when every instance runs in the supervisor's
 * namespace; otherwise the supervisor's own address on the network of the namespaces' hosts (the
 * bridge's, say), which every instance — in a namespace or not — reaches. Throws a
 * `SystemDefinitionError` naming an instance's key when there is no one such address.
 */
export function proxyListenHost(
  system: System,
  plan: SystemPlan,
  interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces(),
): string {
  const inNamespace = plan.services.flatMap((s) => s.instances.filter((i) => i.netns !== undefined));
  if (inNamespace.length === 0) return DEFAULT_HOST;
  const own = ipv4Addresses(interfaces).filter((a) => !a.internal);
  const found = new Set<string>();
  for (const i of inNamespace) {
    const near = own.find((a) => sameNetwork(a.address, i.host, a.netmask));
    if (near === undefined)
      throw new SystemDefinitionError(sourceOf(system), [
        {
          path: placementKeysOf(i).host,
          message: `fault proxies need an address of the supervisor's namespace on the network of ${i.host} (network namespace ${i.netns}), and there is none: give the bridge or veth end an address on it`,
        },
      ]);
    found.add(near.address);
  }
  if (found.size > 1)
    throw new SystemDefinitionError(sourceOf(system), [
      {
        path: placementKeysOf(inNamespace[0] as PlannedInstance).netns as string,
        message: `fault proxies listen on one address every namespace reaches, but the namespaces' hosts are on several networks (the supervisor's addresses on them: ${[...found].join(', ')})`,
      },
    ]);
  return [...found][0] as string;
}

function ipv4Addresses(interfaces: NodeJS.Dict<NetworkInterfaceInfo[]>): NetworkInterfaceInfo[] {
  return Object.values(interfaces)
    .flatMap((list) => list ?? [])
    .filter((a) => a.family === 'IPv4');
}

function sameNetwork(a: string, b: string, netmask: string): boolean {
  const n = (x: string): number => x.split('.').reduce((acc, part) => (acc << 8) | Number(part), 0) >>> 0;
  const mask = n(netmask);
  return (n(a) & mask) >>> 0 === (n(b) & mask) >>> 0;
}

function label(instance: PlannedInstance, count: number): string {
  return count > 1 ? `${instance.service}[${instance.index}]` : instance.service;
}

function sourceOf(system: System): string {
  return system.file === undefined ? 'system definition' : `system file ${system.file}`;
}
