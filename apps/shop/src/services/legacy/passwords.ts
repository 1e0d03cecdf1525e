// Password hashing for the monolith's customers: scrypt from node:crypto, with the parameters
// stored in the hash so they can be raised later without invalidating old hashes.
import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto';

/** scrypt cost parameters: N = 2^14, r = 8, p = 1 (OWASP's minimum for scrypt), a 32-byte key. */
const PARAMS = { N: 16_384, r: 8, p: 1 } as const;
const KEY_BYTES = 32;

function derive(password: string, salt: Buffer, params: ScryptOptions, keyBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFKC'), salt, keyBytes, { ...params, maxmem: 64 * 1024 * 1024 }, (err, key) =>
      err === null ? resolve(key) : reject(err),
    );
  });
}

/** Hashes a password with a fresh random salt: `scrypt$N$r$p$<salt>$<key>` (base64). */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, PARAMS, KEY_BYTES);
  return `scrypt$${PARAMS.N}$${PARAMS.r}$${PARAMS.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/**
 * Whether `password` matches `hash`, comparing in constant time. A malformed hash never
 * matches (it still costs one scrypt, so its timing tells nothing).
 */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  const parts = hash.split('$');
  const [scheme, n, r, p, salt, key] = parts;
  const wellFormed =
    parts.length === 6 && scheme === 'scrypt' && salt !== undefined && key !== undefined && n !== undefined;
  const expected = wellFormed ? Buffer.from(key, 'base64') : Buffer.alloc(KEY_BYTES);
  const params = wellFormed ? { N: Number(n), r: Number(r), p: Number(p) } : PARAMS;
  const actual = await derive(
    password,
    wellFormed ? Buffer.from(salt, 'base64') : Buffer.alloc(16),
    params,
    expected.length === 0 ? KEY_BYTES : expected.length,
  );
  return wellFormed && actual.length === expected.length && timingSafeEqual(actual, expected);
}
