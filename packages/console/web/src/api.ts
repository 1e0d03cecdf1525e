// Calls to the console API (`/console/api/*`, same origin), with the admin token as a bearer.
import type { ConsoleError } from '../../src/contract.js';

/** Where the console API lives. */
export const API_BASE = '/console/api';

/** A failed API call: the HTTP status (0 when the request itself failed) and the server's code and message. */
export class ApiError extends Error {
  /** HTTP status, 0 for a network failure. */
  readonly status: number;
  /** The machine-readable code of the error body, or `http_<status>` / `network` without one. */
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

/** How the API client finds the token and reports a refused one. */
export interface ApiAuth {
  /** The token to send. */
  token(): string | null;
  /** Called when the API answers 401: the token is missing, wrong or expired. */
  unauthorized(message: string): void;
}

let auth: ApiAuth = { token: () => null, unauthorized: () => {} };

/** Sets how API calls get their token and report a refused one. */
export function configureApi(next: ApiAuth): void {
  auth = next;
}

/** The `Authorization` header value for `token`. */
export function bearer(token: string | null): Record<string, string> {
  return token === null ? {} : { authorization: `Bearer ${token}` };
}

/** The message of an error body, when `body` is one (`{ error: { code, message } }`). */
export function errorOf(body: unknown): ConsoleError['error'] | null {
  if (typeof body !== 'object' || body === null || !('error' in body)) return null;
  const error = (body as { error: unknown }).error;
  if (typeof error !== 'object' || error === null) return null;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof message !== 'string') return null;
  return { code: typeof code === 'string' ? code : 'error', message };
}

/**
 * Calls `method path` (path under {@link API_BASE}) with an optional JSON body and returns the
 * parsed JSON answer (`undefined` for an empty one). Throws {@link ApiError} with the server's
 * message on a non-2xx status or a network failure.
 */
export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', ...bearer(auth.token()) };
  const init: RequestInit = { method, headers };
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response: Response;
  try {
    response = await fetch(`${API_BASE}${path}`, init);
  } catch (error) {
    throw new ApiError(0, 'network', `cannot reach the console API: ${(error as Error).message}`);
  }
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (!response.ok) {
    const error = errorOf(parsed);
    const apiError = new ApiError(
      response.status,
      error?.code ?? `http_${response.status}`,
      error?.message ?? `${method} ${path}: HTTP ${response.status}`,
    );
    if (response.status === 401) auth.unauthorized(apiError.message);
    throw apiError;
  }
  return parsed as T;
}

/** Encodes one path segment. */
export const seg = (value: string | number): string => encodeURIComponent(String(value));
