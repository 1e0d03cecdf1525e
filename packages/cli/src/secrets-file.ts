import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from './atomic-write.js';
import { DataDirError } from './errors.js';

/** The name of the secrets file inside the data directory. */
export const SECRETS_FILE = 'secrets.json';

const SecretsFile = z.object({ version: z.literal(1), secrets: z.record(z.string(), z.string().min(1)) });

/**
 * The system's secrets: read from `<dataDir>/secrets.json`, generating (32 random bytes, hex) and
 * saving any of `names` not there yet. The file is only readable by its owner, and kept across
 * runs so tokens and signed data stay valid; `flotilla reset` removes it with the data.
 */
export function loadOrCreateSecrets(dataDir: string, names: readonly string[]): Record<string, string> {
  const existing = readSecrets(dataDir) ?? {};
  const missing = names.filter((n) => existing[n] === undefined);
  if (missing.length === 0) return pick(existing, names);
  const secrets = { ...existing };
  for (const name of missing) secrets[name] = randomBytes(32).toString('hex');
  mkdirSync(dataDir, { recursive: true });
  writeFileAtomic(
    join(dataDir, SECRETS_FILE),
    `${JSON.stringify({ version: 1, secrets }, null, 2)}\n`,
    0o600,
  );
  return pick(secrets, names);
}

/** The secrets saved in `dataDir`, or undefined when there is no secrets file yet. */
export function readSecrets(dataDir: string): Record<string, string> | undefined {
  const file = join(dataDir, SECRETS_FILE);
  if (!existsSync(file)) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new DataDirError(
      `the secrets file ${file} is not valid JSON (${(err as Error).message}); fix it or run flotilla reset`,
      file,
      { cause: err },
    );
  }
  const parsed = SecretsFile.safeParse(json);
  if (!parsed.success)
    throw new DataDirError(
      `the secrets file ${file} is not a flotilla secrets file (expected { "version": 1, "secrets": { NAME: value } }); fix it or run flotilla reset`,
      file,
    );
  return parsed.data.secrets;
}

function pick(all: Readonly<Record<string, string>>, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) out[name] = all[name]!;
  return out;
}
