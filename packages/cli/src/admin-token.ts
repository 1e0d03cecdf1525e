import { readSecrets } from './secrets-file.js';

/**
 * The admin token (`FLOTILLA_ADMIN_TOKEN`) to call a running system's admin APIs with:
 * `explicit` (an option such as `--token`), else `FLOTILLA_ADMIN_TOKEN` in `env`, else the one in
 * the system's data directory (`secrets.json`, as `flotilla up` generated it). Undefined when there
 * is none; empty strings count as none. Throws a `DataDirError` only when `secrets.json` exists but
 * cannot be read.
 */
export function findAdminToken(
  system: { readonly dataDir: string },
  explicit: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): string | undefined {
  if (explicit !== undefined && explicit !== '') return explicit;
  const fromEnv = env.FLOTILLA_ADMIN_TOKEN;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  return readSecrets(system.dataDir)?.FLOTILLA_ADMIN_TOKEN;
}
