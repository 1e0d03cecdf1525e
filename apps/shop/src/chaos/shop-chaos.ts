// The shop's chaos experiment, exported by flotilla.system.ts for `flotilla chaos`.
import type { ChaosDefinition } from 'flotilla';
import { shopChecker } from './checker.js';
import { type ShopChaosHistory, shopWorkload } from './workload.js';

/**
 * Demo customers ordering through the gateway while services are killed and frozen, then the
 * shop's invariants (docs/chaos.md).
 */
export const shopChaos: ChaosDefinition<ShopChaosHistory> = {
  workload: shopWorkload,
  check: shopChecker,
  defaultFaults: 'kill:random@every=10s,freeze:random@every=15s,for=3s',
};
