import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { findInCode, readSourceFile, type SourceFile } from './source-file.js';

/** The source of one service: its own folder's files and the app modules they import. */
export interface ServiceSources {
  readonly service: string;
  /** The source entry (a `dist/…js` entry is mapped back to its `src/…ts` when that exists). */
  readonly entry: string;
  /**
   * The service's own folder, or `undefined` when its entry's folder holds other services'
   * entries too (then only the entry and what it imports count as the service's code).
   */
  readonly dir: string | undefined;
  /** Files in the service's folder (or reached from its entry), tests excluded. */
  readonly own: readonly SourceFile[];
  /** Modules of the app outside every service folder that `own` imports, transitively. */
  readonly shared: readonly SourceFile[];
  /** Relative imports of `own` files that land in another service's folder. */
  readonly foreignImports: readonly ForeignImport[];
}

/** An import of one service's code from another service's folder. */
export interface ForeignImport {
  readonly file: string;
  readonly line: number;
  readonly snippet: string;
  readonly specifier: string;
  /** The service whose folder it reaches into. */
  readonly target: string;
}

const SOURCE = /\.(?:[cm]?ts|[cm]?js)$/;
const TEST = /\.test(?:-helpers)?\.[cm]?[jt]s$|\.d\.[cm]?ts$/;
const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)(['"])(\.{1,2}\/[^'"]+)\1/;

/** Maps a built entry (`…/dist/x.js`) to its source (`…/src/x.ts`) when that file exists. */
export function sourceEntry(entry: string): string {
  const parts = entry.split(sep);
  const at = parts.lastIndexOf('dist');
  if (at === -1) return entry;
  const candidate = [...parts.slice(0, at), 'src', ...parts.slice(at + 1)]
    .join(sep)
    .replace(/\.([cm]?)js$/, '.$1ts');
  return existsSync(candidate) ? candidate : entry;
}

/**
 * Reads the source of every service: the folder of its entry (when no other service's entry is
 * there), plus the modules of the app (under `appDir`) they import by relative path.
 */
export function readServiceSources(
  services: readonly { readonly name: string; readonly entry: string }[],
  appDir: string,
): ServiceSources[] {
  const entries = services.map((s) => ({ name: s.name, entry: sourceEntry(s.entry) }));
  const dirCount = new Map<string, number>();
  for (const e of entries) dirCount.set(dirname(e.entry), (dirCount.get(dirname(e.entry)) ?? 0) + 1);
  const dirs = new Map<string, string>();
  for (const e of entries) if (dirCount.get(dirname(e.entry)) === 1) dirs.set(e.name, dirname(e.entry));
  const cache = new Map<string, SourceFile>();
  const read = (path: string): SourceFile => {
    let file = cache.get(path);
    if (file === undefined) {
      file = readSourceFile(path);
      cache.set(path, file);
    }
    return file;
  };
  const ownerOf = (path: string): string | undefined => {
    for (const [name, dir] of dirs) if (path.startsWith(dir + sep)) return name;
    return undefined;
  };
  return entries.map(({ name, entry }) => {
    const dir = dirs.get(name);
    const own = new Map<string, SourceFile>();
    const shared = new Map<string, SourceFile>();
    const foreignImports: ForeignImport[] = [];
    const queue: string[] = [];
    if (dir === undefined) queue.push(entry);
    else for (const path of listSources(dir)) queue.push(path);
    if (!queue.includes(entry) && existsSync(entry)) queue.push(entry);
    while (queue.length > 0) {
      const path = queue.shift()!;
      if (own.has(path) || shared.has(path) || !existsSync(path)) continue;
      const file = read(path);
      const mine = dir === undefined ? path === entry : ownerOf(path) === name;
      (mine ? own : shared).set(path, file);
      for (const m of findInCode(file, IMPORT)) {
        const specifier = m.match[2]!;
        const target = resolveImport(path, specifier);
        if (target === undefined || !target.startsWith(appDir + sep)) continue;
        const owner = ownerOf(target);
        if (owner !== undefined && owner !== name) {
          foreignImports.push({ file: path, line: m.line, snippet: m.snippet, specifier, target: owner });
          continue;
        }
        queue.push(target);
      }
    }
    return {
      service: name,
      entry,
      dir,
      own: [...own.values()],
      shared: [...shared.values()],
      foreignImports,
    };
  });
}

function listSources(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (name === 'node_modules' || name === 'fixtures' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...listSources(path));
    else if (SOURCE.test(name) && !TEST.test(name)) out.push(path);
  }
  return out;
}

/** Resolves a relative import as TypeScript does for ESM: `./x.js` may be `./x.ts`. */
function resolveImport(from: string, specifier: string): string | undefined {
  const base = resolve(dirname(from), specifier);
  const candidates = [
    base,
    base.replace(/\.([cm]?)js$/, '.$1ts'),
    `${base}.ts`,
    `${base}.js`,
    join(base, 'index.ts'),
    join(base, 'index.js'),
  ];
  return candidates.find((c) => existsSync(c) && statSync(c).isFile());
}
