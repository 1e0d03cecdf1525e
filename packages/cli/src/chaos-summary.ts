import { paint } from './ansi.js';
import type { FaultRecord } from './nemesis.js';
import type { ChaosReport } from './run-chaos.js';

/** Counter-examples printed per invariant; the JSON report has all of them. */
const SHOWN_VIOLATIONS = 10;

/**
 * One fault record as a line: `  +12.3s  freeze  inventory[0]`, with what it did when it says
 * (`  +20.1s  pg-kill  order  (4 connections to 127.0.0.1:5432/shop_order)`).
 */
export function formatFaultRecord(r: FaultRecord, colour: boolean): string {
  const at = `+${(r.atMs / 1000).toFixed(1)}s`.padStart(8);
  const line = `${at}  ${r.action.padEnd(6)}  ${r.target}`;
  if (r.outcome === 'applied') {
    const notes = [r.detail, r.fault === 'heal' ? 'heal' : undefined].filter((n) => n !== undefined);
    return notes.length === 0 ? line : `${line}  (${notes.join('; ')})`;
  }
  return paint(r.outcome === 'failed' ? 'red' : 'gray', `${line}  ${r.outcome}: ${r.detail ?? ''}`, colour);
}

/** The human summary of a chaos run: operations, faults with times, and every invariant's verdict. */
export function formatChaosSummary(report: ChaosReport, colour: boolean): string {
  const lines: string[] = [];
  const applied = report.nemesis.filter((r) => r.outcome === 'applied' && r.fault !== 'heal');
  const byAction = new Map<string, number>();
  for (const r of applied) byAction.set(r.action, (byAction.get(r.action) ?? 0) + 1);
  lines.push(
    paint(
      'bold',
      `chaos run of ${report.system}${report.profile === null ? '' : ` (profile ${report.profile})`}`,
      colour,
    ),
    `  seed        ${report.seed} · duration ${(report.durationMs / 1000).toFixed(0)} s · concurrency ${report.concurrency} · wall time ${(report.elapsedMs / 1000).toFixed(1)} s`,
    `  faults      ${report.faults.join('  ')}`,
    ...infrastructureLine(report),
    `  applied     ${
      applied.length === 0 ? 'none' : [...byAction].map(([action, n]) => `${action} ×${n}`).join(', ')
    }${report.nemesis.some((r) => r.outcome !== 'applied') ? ` (${report.nemesis.filter((r) => r.outcome !== 'applied').length} skipped or refused)` : ''}`,
  );
  const outcomes = Object.entries(report.workload.outcomes).sort((a, b) => b[1] - a[1]);
  lines.push(
    `  operations  ${report.workload.operations}${outcomes.length === 0 ? '' : `: ${outcomes.map(([k, v]) => `${k} ${v}`).join(', ')}`}`,
  );
  if (report.workload.error !== undefined)
    lines.push(paint('red', `  workload failed: ${report.workload.error}`, colour));
  if (report.notHealed.length > 0)
    lines.push(paint('red', `  not healed  ${report.notHealed.join(', ')}`, colour));
  if (report.cancelled) lines.push(paint('yellow', '  cancelled before the check', colour));

  const { check } = report;
  if (check.attempts > 0) {
    lines.push(
      '',
      check.passed
        ? `invariants (held ${((check.settledAfterMs ?? 0) / 1000).toFixed(1)} s after the faults ended, check ${check.attempts}):`
        : `invariants (still violated when the quiescence time ran out, after ${check.attempts} checks):`,
    );
    const width = Math.max(0, ...check.invariants.map((i) => i.name.length));
    for (const inv of check.invariants) {
      const ok = inv.violations.length === 0;
      lines.push(
        `  ${paint(ok ? 'green' : 'red', ok ? 'PASS' : 'FAIL', colour)}  ${inv.name.padEnd(width)}  ${inv.description} (${inv.checked} checked${ok ? '' : `, ${inv.violations.length} violated`})`,
      );
      for (const v of inv.violations.slice(0, SHOWN_VIOLATIONS)) lines.push(`          - ${v.message}`);
      if (inv.violations.length > SHOWN_VIOLATIONS)
        lines.push(`          … and ${inv.violations.length - SHOWN_VIOLATIONS} more (see the report)`);
    }
    if (check.error !== undefined) lines.push(paint('red', `  the checker failed: ${check.error}`, colour));
  }
  const violations = check.invariants.reduce((n, i) => n + i.violations.length, 0);
  lines.push(
    '',
    report.passed
      ? paint('green', 'PASSED: every invariant held', colour)
      : paint(
          'red',
          `FAILED: ${
            report.cancelled
              ? 'cancelled'
              : report.workload.error !== undefined
                ? 'the workload failed'
                : violations > 0
                  ? `${violations} violation${violations === 1 ? '' : 's'}`
                  : 'the checker could not read the system'
          }`,
          colour,
        ),
  );
  return lines.join('\n');
}

/** The `infra` line of the summary, when the run had a NATS server of its own or databases. */
function infrastructureLine(report: ChaosReport): string[] {
  const { natsServer, databases } = report.infrastructure;
  const parts = [
    natsServer === null ? undefined : `NATS ${natsServer} (the run's own)`,
    databases.length === 0
      ? undefined
      : `PostgreSQL ${databases.length} database${databases.length === 1 ? '' : 's'}`,
  ].filter((p) => p !== undefined);
  return parts.length === 0 ? [] : [`  infra       ${parts.join(' · ')}`];
}
