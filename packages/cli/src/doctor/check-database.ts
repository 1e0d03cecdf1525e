import { resolve } from 'node:path';
import type { DoctorContext } from './doctor-context.js';
import type { Evidence, Finding } from './finding.js';
import { findInCode } from './source-file.js';

/**
 * The database URL a service of the shop's convention uses: `FLOTILLA_DATABASE_URL_<SERVICE>`,
 * else `DATABASE_URL`, else SQLite `<dataDir>/<service>.db`.
 */
export function serviceDatabase(
  service: string,
  env: Readonly<Record<string, string>>,
  dataDir: string,
): { readonly url: string; readonly variable: string | undefined } {
  const variable = `FLOTILLA_DATABASE_URL_${service.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
  const own = env[variable];
  if (own !== undefined) return { url: own, variable };
  if (env.DATABASE_URL !== undefined) return { url: env.DATABASE_URL, variable: 'DATABASE_URL' };
  return { url: `sqlite:${resolve(dataDir, `${service}.db`)}`, variable: undefined };
}

let inMemory = 0;

/**
 * What identifies a database: host, port, database and schema for PostgreSQL (user and password
 * do not make another database), the absolute file for SQLite.
 */
export function databaseKey(url: string, dataDir: string): string {
  if (/^postgres(?:ql)?:\/\//.test(url)) {
    try {
      const u = new URL(url);
      const host = u.hostname === 'localhost' ? '127.0.0.1' : u.hostname.toLowerCase();
      const db =
        decodeURIComponent(u.pathname.replace(/^\//, '')) || decodeURIComponent(u.username) || 'postgres';
      const options = u.searchParams.get('options') ?? '';
      const schema =
        u.searchParams.get('schema') ??
        u.searchParams.get('currentSchema') ??
        /search_path=([\w,]+)/.exec(options)?.[1] ??
        'public';
      return `postgres://${host}:${u.port || '5432'}/${db}#${schema}`;
    } catch {
      return url;
    }
  }
  const file = url.replace(/^sqlite:(?:\/\/)?/, '').replace(/^file:(?:\/\/)?/, '');
  // An in-memory database is never shared: every connection has its own.
  if (file === ':memory:' || file === '') return `${url}#${++inMemory}`;
  return `sqlite:${resolve(dataDir, file)}`;
}

/** Hides a password in a URL shown as evidence. */
function redact(url: string): string {
  return url.replace(/(\/\/[^:/@]+:)[^@/]+@/, '$1***@');
}

/** Two services on one database (per profile), code importing another service's folder or tables. */
export function checkDatabases(ctx: DoctorContext): Finding[] {
  return [...sharedDatabases(ctx), ...crossServiceImports(ctx), ...foreignTables(ctx)];
}

function sharedDatabases(ctx: DoctorContext): Finding[] {
  const findings: Finding[] = [];
  const seen = new Set<string>();
  const gateway = ctx.system.gateway;
  for (const profile of [undefined, ...ctx.system.profiles]) {
    const byKey = new Map<string, { service: string; url: string; variable: string | undefined }[]>();
    for (const service of ctx.system.plan(profile).services) {
      if (service.name === gateway && ctx.gateway !== undefined) continue;
      for (const instance of service.instances) {
        const db = serviceDatabase(service.name, instance.env, ctx.system.dataDir);
        const key = databaseKey(db.url, ctx.system.dataDir);
        const users = byKey.get(key) ?? [];
        if (!users.some((u) => u.service === service.name)) users.push({ service: service.name, ...db });
        byKey.set(key, users);
      }
    }
    for (const [key, users] of byKey) {
      if (users.length < 2) continue;
      const services = users.map((u) => u.service).sort();
      const id = `${services.join(',')}@${key}`;
      if (seen.has(id)) continue;
      seen.add(id);
      findings.push({
        id: 'shared-database',
        severity: 'error',
        services,
        message: `${services.join(', ')} use one database (${redact(users[0]!.url)})${profile === undefined ? '' : ` in profile ${profile}`}`,
        evidence: users.map(
          (u): Evidence => ({
            ...(ctx.system.file === undefined ? {} : { file: ctx.rel(ctx.system.file) }),
            service: u.service,
            detail: `${u.variable ?? 'default'} = ${redact(u.url)}${profile === undefined ? '' : ` (profile ${profile})`}`,
          }),
        ),
        fix: 'Give every service a database (or at least a schema) of its own and let the others reach its data only through its API or its events.',
      });
    }
  }
  return findings;
}

function crossServiceImports(ctx: DoctorContext): Finding[] {
  return ctx.sources.flatMap((s) => {
    const byTarget = new Map<string, Evidence[]>();
    for (const f of s.foreignImports) {
      const list = byTarget.get(f.target) ?? [];
      list.push({ file: ctx.rel(f.file), line: f.line, service: s.service, detail: f.snippet });
      byTarget.set(f.target, list);
    }
    return [...byTarget].map(
      ([target, evidence]): Finding => ({
        id: 'cross-service-import',
        severity: 'error',
        services: [s.service, target],
        message: `${s.service} imports code from ${target}'s folder`,
        evidence,
        fix: `Call ${target} through its API (a contract in a shared contracts module) instead of importing its code; its database and internals are its own.`,
      }),
    );
  });
}

const CREATE_TABLE = /\bcreateTable\(\s*['"]([\w]+)['"]|\bCREATE TABLE (?:IF NOT EXISTS )?"?(\w+)/;
const USE_TABLE =
  /\b(?:selectFrom|insertInto|updateTable|deleteFrom|replaceInto|mergeInto)\(\s*['"](\w+)|\b(?:FROM|JOIN|INTO|UPDATE)\s+"?(\w+)"?/;

/** Tables a service's own code creates. */
function ownedTables(ctx: DoctorContext): Map<string, Set<string>> {
  const owned = new Map<string, Set<string>>();
  for (const s of ctx.sources) {
    const tables = new Set<string>();
    for (const file of s.own)
      for (const m of findInCode(file, CREATE_TABLE)) tables.add((m.match[1] ?? m.match[2])!);
    owned.set(s.service, tables);
  }
  return owned;
}

function foreignTables(ctx: DoctorContext): Finding[] {
  const owned = ownedTables(ctx);
  const findings: Finding[] = [];
  for (const s of ctx.sources) {
    const mine = owned.get(s.service) ?? new Set<string>();
    const byOwner = new Map<string, Evidence[]>();
    for (const file of s.own)
      for (const m of findInCode(file, USE_TABLE)) {
        const table = (m.match[1] ?? m.match[2])!;
        if (mine.has(table)) continue;
        const owner = [...owned].find(([other, tables]) => other !== s.service && tables.has(table))?.[0];
        if (owner === undefined) continue;
        const list = byOwner.get(owner) ?? [];
        list.push({
          file: ctx.rel(file.path),
          line: m.line,
          service: s.service,
          detail: `table ${table}: ${m.snippet}`,
        });
        byOwner.set(owner, list);
      }
    for (const [owner, evidence] of byOwner)
      findings.push({
        id: 'foreign-table',
        severity: 'error',
        services: [s.service, owner],
        message: `${s.service} names tables that ${owner} creates`,
        evidence,
        fix: `Read ${owner}'s data through its API, or keep a local copy fed by its events; never query its tables.`,
      });
  }
  return findings;
}
