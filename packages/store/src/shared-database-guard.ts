import { SharedDatabaseError } from './errors.js';

interface Claim {
  readonly service: string;
  holders: number;
}

// A registered symbol on globalThis, so two copies of this package in one process (a source
// and a built copy, or two versions) still see each other's claims.
const REGISTRY = Symbol.for('flotilla.store.databaseClaims');

function claims(): Map<string, Claim> {
  const holder = globalThis as { [REGISTRY]?: Map<string, Claim> };
  holder[REGISTRY] ??= new Map();
  return holder[REGISTRY];
}

/** A claim on a database for one service; `release()` gives it up (once). */
export interface DatabaseClaim {
  release(): void;
}

/**
 * Claims `database` for `service` in this process. Claiming it again for the same service
 * is allowed (counted); claiming it for another service throws {@link SharedDatabaseError}.
 */
export function claimDatabase(database: string, service: string): DatabaseClaim {
  const map = claims();
  const existing = map.get(database);
  if (existing !== undefined && existing.service !== service)
    throw new SharedDatabaseError(database, service, existing.service);
  const claim = existing ?? { service, holders: 0 };
  claim.holders++;
  map.set(database, claim);
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      claim.holders--;
      if (claim.holders === 0 && map.get(database) === claim) map.delete(database);
    },
  };
}
