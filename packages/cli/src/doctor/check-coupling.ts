import type { DoctorContext } from './doctor-context.js';
import type { Evidence, Finding } from './finding.js';
import { findInCode } from './source-file.js';

/** Services a readiness may wait on before it counts as a distributed monolith signal. */
export const READINESS_FAN_IN = 3;

const EXPORTED_SCHEMA =
  /\bexport\s+const\s+(\w+)\s*(?::[^=]+)?=\s*(?:z\s*\.|defineEvent\s*\(\s*['"](\w+)['"])/;

/** Readiness that waits on many services, and app modules holding several services' domain types. */
export function checkCoupling(ctx: DoctorContext): Finding[] {
  return [...readinessFanIn(ctx), ...sharedDomainModules(ctx)];
}

function readinessFanIn(ctx: DoctorContext): Finding[] {
  const critical = new Map(ctx.system.plan().services.map((s) => [s.name, s.critical]));
  return ctx.system
    .plan()
    .services.filter((s) => s.dependsOn.length >= READINESS_FAN_IN)
    .map((s): Finding => {
      const hard = s.dependsOn.filter((d) => critical.get(d) !== false);
      return {
        id: 'readiness-fan-in',
        severity: hard.length >= READINESS_FAN_IN ? 'warn' : 'info',
        services: [s.name, ...s.dependsOn],
        message: `${s.name} waits on ${s.dependsOn.length} services (${s.dependsOn.join(', ')}) before it is ready: when one of them is down, ${s.name} cannot start`,
        evidence: [
          {
            ...(ctx.system.file === undefined ? {} : { file: ctx.rel(ctx.system.file) }),
            service: s.name,
            detail: `dependsOn: [${s.dependsOn.join(', ')}]${hard.length < s.dependsOn.length ? ` (critical: ${hard.join(', ') || 'none'})` : ''}`,
          },
        ],
        fix: `Let ${s.name} start and serve without them (circuit breakers, fallbacks, queued work); keep in dependsOn only what it truly cannot run without.`,
      };
    });
}

/** The service a schema name belongs to, by its prefix (`OrderLine` → order), if any. */
function domainOf(name: string, services: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  return [...services]
    .sort((a, b) => b.length - a.length)
    .find((s) => lower.startsWith(s.toLowerCase().replace(/[^a-z0-9]/g, '')));
}

function sharedDomainModules(ctx: DoctorContext): Finding[] {
  const services = ctx.sources.map((s) => s.service);
  const importers = new Map<
    string,
    { file: (typeof ctx.sources)[number]['shared'][number]; services: Set<string> }
  >();
  for (const s of ctx.sources)
    for (const file of s.shared) {
      const entry = importers.get(file.path) ?? { file, services: new Set<string>() };
      entry.services.add(s.service);
      importers.set(file.path, entry);
    }
  const findings: Finding[] = [];
  for (const { file, services: users } of importers.values()) {
    if (users.size < 2) continue;
    const domains = new Map<string, Evidence[]>();
    for (const m of findInCode(file, EXPORTED_SCHEMA)) {
      const name = m.match[2] ?? m.match[1]!;
      const domain = domainOf(name, services) ?? domainOf(m.match[1]!, services);
      if (domain === undefined) continue;
      domains.set(domain, [
        ...(domains.get(domain) ?? []),
        { file: ctx.rel(file.path), line: m.line, service: domain, detail: `${m.match[1]} (${domain})` },
      ]);
    }
    if (domains.size < 2) continue;
    findings.push({
      id: 'shared-domain-module',
      severity: 'warn',
      services: [...users].sort(),
      message: `${ctx.rel(file.path)} holds domain types of ${[...domains.keys()].join(', ')} and is imported by ${[...users].sort().join(', ')}: a change for one service redeploys the others`,
      evidence: [...domains.values()].flatMap((list) => list.slice(0, 3)),
      fix: 'Split it into one contract module per owning service (its API and its events), so each service changes its own published language.',
    });
  }
  return findings;
}
