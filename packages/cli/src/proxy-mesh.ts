import type { TopologyFile } from '@flotilla/service';
import { writeFileAtomic } from './atomic-write.js';
import { seededRandom } from './chaos-schedule.js';
import { type FaultProxy, startFaultProxy } from './fault-proxy.js';
import type { NetworkFaultControl } from './nemesis.js';
import type { SystemPlan } from './validate-system.js';

/** Fault proxies in front of every instance of a running system, and the topology through them. */
export interface ProxyMesh extends NetworkFaultControl {
  /** The proxies of each service, by instance index. */
  readonly proxies: Readonly<Record<string, readonly FaultProxy[]>>;
  /** Ends every fault on every proxy. */
  clearAll(): void;
  /** Closes every proxy (after the system has stopped: callers lose their connections). */
  close(): Promise<void>;
}

/** Options of {@link startProxyMesh}. */
export interface ProxyMeshOptions {
  /** The running system's plan: one proxy per instance of each of its services. */
  readonly plan: SystemPlan;
  /** The topology file the services watch; rewritten to list the proxies' URLs. */
  readonly topologyFile: string;
  /** Seeds every proxy's random numbers (each proxy its own stream). */
  readonly seed: number;
  /**
   * The address the proxies listen on: one every instance reaches (see `proxyListenHost`).
   * @default '127.0.0.1'
   */
  readonly host?: string;
}

/**
 * Starts a fault proxy in front of every instance and rewrites the topology file so that the
 * services' (and the gateway's) calls to one another go through the proxies. Services re-read
 * the file when it changes; the supervisor's probes and the checker keep the direct addresses.
 */
export async function startProxyMesh(options: ProxyMeshOptions): Promise<ProxyMesh> {
  const proxies: Record<string, FaultProxy[]> = {};
  let n = 0;
  try {
    for (const service of options.plan.services) {
      const list: FaultProxy[] = [];
      proxies[service.name] = list;
      for (const inst of service.instances)
        list.push(
          await startFaultProxy({
            upstream: { host: inst.host, port: inst.port },
            ...(options.host === undefined ? {} : { listenHost: options.host }),
            random: seededRandom((options.seed + 0x9e3779b9 * ++n) >>> 0),
          }),
        );
    }
  } catch (err) {
    await Promise.all(Object.values(proxies).flatMap((l) => l.map((p) => p.close())));
    throw err;
  }
  const topology: TopologyFile = {
    services: Object.fromEntries(
      Object.entries(proxies).map(([name, list]) => [name, { urls: list.map((p) => p.url) }]),
    ),
  };
  writeFileAtomic(options.topologyFile, `${JSON.stringify(topology, null, 2)}\n`);

  const targets = (service: string, instance: number | undefined): FaultProxy[] => {
    const list = proxies[service];
    if (list === undefined) throw new Error(`no proxies for service "${service}"`);
    if (instance === undefined) return list;
    const one = list[instance];
    if (one === undefined) throw new Error(`${service} has no instance ${instance}`);
    return [one];
  };
  return {
    proxies,
    services: Object.keys(proxies),
    set(service, instance, faults) {
      for (const p of targets(service, instance)) p.set(faults);
    },
    resetConnections(service, instance) {
      return targets(service, instance).reduce((sum, p) => sum + p.resetConnections(), 0);
    },
    clearAll() {
      for (const list of Object.values(proxies)) for (const p of list) p.clear();
    },
    async close() {
      await Promise.all(Object.values(proxies).flatMap((l) => l.map((p) => p.close())));
    },
  };
}
