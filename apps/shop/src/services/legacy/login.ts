// Customer login: checks the password and mints the end-user JWT that the gateway verifies.
import { ServiceError } from '@flotilla/service';
import type { Store } from '@flotilla/store';
import { SignJWT } from 'jose';
import type { LegacyDb } from './db.js';
import { hashPassword, verifyPassword } from './passwords.js';

/** The issuer of end-user tokens (the gateway checks it). */
export const TOKEN_ISSUER = 'flotilla-shop';

/** What a successful login returns. */
export interface LoginResult {
  readonly token: string;
  readonly tokenType: 'Bearer';
  readonly expiresInSeconds: number;
}

/** Options of {@link createLogin}. */
export interface LoginOptions {
  readonly store: Store<LegacyDb>;
  /** The HS256 secret shared with the gateway (at least 32 bytes). */
  readonly secret: string;
  /** Lifetime of a token, in seconds. @default 3600 */
  readonly ttlSeconds?: number;
  /** Wall clock, epoch ms. @default Date.now */
  readonly now?: () => number;
}

/** Logs customers in. */
export interface Login {
  /** A token for the customer, or 401 `INVALID_CREDENTIALS` (the same for an unknown email and a wrong password). */
  login(email: string, password: string): Promise<LoginResult>;
}

const invalid = (): ServiceError =>
  new ServiceError(401, 'INVALID_CREDENTIALS', 'email or password is wrong', { retryable: false });

/** Creates the login of the monolith. */
export async function createLogin(options: LoginOptions): Promise<Login> {
  const { store, ttlSeconds = 3600, now = Date.now } = options;
  const key = new TextEncoder().encode(options.secret);
  // An unknown email still pays for one scrypt against this hash, so response time does not
  // reveal which emails are customers.
  const decoyHash = await hashPassword('decoy-password-never-matches');

  return {
    async login(email, password) {
      const customer = await store.db
        .selectFrom('customers')
        .select(['id', 'password_hash', 'scopes'])
        .where('email', '=', email.trim().toLowerCase())
        .executeTakeFirst();
      const ok = await verifyPassword(password, customer?.password_hash ?? decoyHash);
      if (customer === undefined || !ok) throw invalid();
      const iat = Math.floor(now() / 1000);
      const token = await new SignJWT({ scope: customer.scopes })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setIssuer(TOKEN_ISSUER)
        .setSubject(customer.id)
        .setIssuedAt(iat)
        .setExpirationTime(iat + ttlSeconds)
        .sign(key);
      return { token, tokenType: 'Bearer', expiresInSeconds: ttlSeconds };
    },
  };
}
