import { allFiles, type DoctorContext } from './doctor-context.js';
import type { Evidence, Finding } from './finding.js';
import { findInCode } from './source-file.js';

/** Calls that bypass the sanctioned client, with what each one is. */
const RAW_CALLS: readonly { readonly pattern: RegExp; readonly what: string }[] = [
  { pattern: /(?<![\w$])fetch\s*\(/, what: 'fetch()' },
  { pattern: /\bfrom\s*['"]undici['"]|\b(?:import|require)\s*\(\s*['"]undici['"]/, what: 'undici import' },
  { pattern: /\bundici\s*\.\s*(?:request|fetch|stream)\s*\(/, what: 'undici call' },
  { pattern: /\bhttps?\s*\.\s*(?:request|get)\s*\(/, what: 'node:http request' },
  {
    pattern: /\bimport\s*\{[^}]*\b(?:request|get)\b[^}]*\}\s*from\s*['"](?:node:)?https?['"]/,
    what: 'node:http request import',
  },
];

/**
 * Outgoing HTTP that bypasses ServiceClient (no timeout, retry budget, circuit breaker, deadline
 * or trace propagation): `fetch(`, undici, `http.request`/`http.get`, in service code (tests
 * excluded). A shared module is reported once, for every service that imports it.
 */
export function checkRawHttp(ctx: DoctorContext): Finding[] {
  const byFile = new Map<string, { services: Set<string>; evidence: Evidence[] }>();
  for (const s of ctx.sources) {
    for (const file of allFiles(s)) {
      let entry = byFile.get(file.path);
      if (entry === undefined) {
        const evidence: Evidence[] = [];
        for (const { pattern, what } of RAW_CALLS)
          for (const m of findInCode(file, pattern))
            evidence.push({ file: ctx.rel(file.path), line: m.line, detail: `${what}: ${m.snippet}` });
        // `request(` alone is only undici's when the file imports it from there.
        if (/\bimport\s*\{[^}]*\brequest\b[^}]*\}\s*from\s*['"]undici['"]/.test(file.code))
          for (const m of findInCode(file, /(?<![\w$.])request\s*\(/))
            evidence.push({
              file: ctx.rel(file.path),
              line: m.line,
              detail: `undici request(): ${m.snippet}`,
            });
        evidence.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
        entry = { services: new Set(), evidence };
        byFile.set(file.path, entry);
      }
      entry.services.add(s.service);
    }
  }
  const byService = new Map<string, Evidence[]>();
  for (const { services, evidence } of byFile.values()) {
    if (evidence.length === 0) continue;
    const key = [...services].sort().join(', ');
    byService.set(key, [...(byService.get(key) ?? []), ...evidence]);
  }
  return [...byService].map(
    ([key, evidence]): Finding => ({
      id: 'raw-http',
      severity: 'warn',
      services: key.split(', '),
      message: `${key} make${key.includes(',') ? '' : 's'} HTTP calls outside ServiceClient (${evidence.length} place${evidence.length === 1 ? '' : 's'})`,
      evidence,
      fix: "Call other services through ctx.client('name') / ctx.clients.get('name') (ServiceClient from @flotilla/service): it bounds each attempt with a timeout, retries within a budget, opens a circuit breaker and propagates the deadline and trace.",
    }),
  );
}
