import { createServer } from 'node:net';

/**
 * Resolves true when nothing listens on `port` of `host` (checked by briefly listening on it).
 * `up` checks every port first, so a taken port is reported by name instead of surfacing as a
 * crash loop of the service that cannot bind it.
 */
export function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => {
      server.close(() => resolve(true));
    });
  });
}
