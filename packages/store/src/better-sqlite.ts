import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** The Node.js major version from which the Node-API build of better-sqlite3 (13) is used. */
export const NAPI_SQLITE_FROM_NODE = 22;

/**
 * Loads better-sqlite3 for the running Node.js. Major 12 is the one that works on Node 20 (13
 * crashes there), but 12's native objects abort the process on Node 24 when they are collected
 * (its `ObjectWrap` removes an environment cleanup hook without an entered context); 13 is
 * built on Node-API, ships prebuilt binaries and works on 22, 24 and 26. Both are installed
 * (13 under the alias `better-sqlite3-napi`) and the right one is chosen here, once.
 * Returns the module's `Database` constructor; callers type it with the subset they use.
 */
export function loadBetterSqlite3(): unknown {
  const major = Number(process.versions.node.split('.')[0]);
  return require(major >= NAPI_SQLITE_FROM_NODE ? 'better-sqlite3-napi' : 'better-sqlite3');
}
