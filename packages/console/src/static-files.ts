import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.map': 'application/json',
  '.woff2': 'font/woff2',
};

/**
 * Serves the built web app from `root`: `relative` is the path below `/console/`. Unknown paths
 * without an extension get `index.html` (the app routes on the client); hashed assets are cached
 * for a year, `index.html` never. Resolves false when there is nothing to serve.
 */
export async function serveStatic(
  root: string,
  relative: string,
  res: ServerResponse,
  head: boolean,
): Promise<boolean> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(relative);
  } catch {
    return false;
  }
  const path = normalize(join(root, decoded === '' ? 'index.html' : decoded));
  if (path !== root && !path.startsWith(root.endsWith(sep) ? root : root + sep)) return false;
  let file = path;
  let info = await stat(file).catch(() => undefined);
  if (info?.isDirectory() === true) {
    file = join(file, 'index.html');
    info = await stat(file).catch(() => undefined);
  }
  if ((info === undefined || !info.isFile()) && extname(decoded) === '') {
    file = join(root, 'index.html');
    info = await stat(file).catch(() => undefined);
  }
  if (info === undefined || !info.isFile()) return false;
  const isIndex = file.endsWith('index.html');
  res.writeHead(200, {
    'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
    'content-length': info.size,
    'cache-control': isIndex ? 'no-cache' : 'public, max-age=31536000, immutable',
    'x-content-type-options': 'nosniff',
    ...(isIndex
      ? {
          'content-security-policy':
            "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'",
          'referrer-policy': 'no-referrer',
        }
      : {}),
  });
  if (head) {
    res.end();
    return true;
  }
  await new Promise<void>((resolve) => {
    const stream = createReadStream(file);
    stream.on('error', () => {
      res.destroy();
      resolve();
    });
    stream.on('end', resolve);
    stream.pipe(res);
  });
  return true;
}
