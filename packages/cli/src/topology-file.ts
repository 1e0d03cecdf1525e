import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { TopologyFile } from '@flotilla/service';
import { writeFileAtomic } from './atomic-write.js';
import type { SystemPlan } from './validate-system.js';

/** The name of the topology file, in the `topology` folder of the data directory. */
export const TOPOLOGY_FILE = 'topology.json';

/**
 * The path of the topology file of a data directory: `<dataDir>/topology/topology.json`. It has
 * a folder of its own because every service watches the folder (to see the file replaced): in
 * the data directory itself, each write of every SQLite database there would wake all services.
 */
export function topologyPath(dataDir: string): string {
  return join(dataDir, 'topology', TOPOLOGY_FILE);
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
  mkdirSync(dirname(file), { recursive: true });
  writeFileAtomic(file, `${JSON.stringify(topologyOf(plan), null, 2)}\n`);
  return file;
}
