import { join } from 'node:path';
import type { TopologyFile } from '@flotilla/service';
import { writeFileAtomic } from './atomic-write.js';
import type { SystemPlan } from './validate-system.js';

/** The name of the topology file inside the data directory. */
export const TOPOLOGY_FILE = 'topology.json';

/** The path of the topology file of a data directory. */
export function topologyPath(dataDir: string): string {
  return join(dataDir, TOPOLOGY_FILE);
}

/** The topology of a plan: every instance's URL, by service. */
export function topologyOf(plan: SystemPlan): TopologyFile {
  const services: Record<string, { urls: string[] }> = {};
  for (const s of plan.services) services[s.name] = { urls: s.instances.map((i) => i.url) };
  return { services };
}

/**
 * Writes the topology file every service reads through `FLOTILLA_TOPOLOGY`. It is replaced
 * atomically because services watch it and re-read it on every change.
 */
export function writeTopology(dataDir: string, plan: SystemPlan): string {
  const file = topologyPath(dataDir);
  writeFileAtomic(file, `${JSON.stringify(topologyOf(plan), null, 2)}\n`);
  return file;
}
