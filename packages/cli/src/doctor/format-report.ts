import { paint } from '../ansi.js';
import { type Evidence, SEVERITIES } from './finding.js';
import type { DoctorReport } from './run-doctor.js';

const COLOUR = { error: 'red', warn: 'yellow', info: 'gray' } as const;

function where(e: Evidence): string {
  const place = e.file === undefined ? '' : `${e.file}${e.line === undefined ? '' : `:${e.line}`}`;
  const tags = [
    e.service === undefined ? '' : `[${e.service}]`,
    e.traceId === undefined ? '' : `trace ${e.traceId}`,
  ]
    .filter((t) => t !== '')
    .join(' ');
  return [place, tags].filter((t) => t !== '').join(' ');
}

/** The report as text: findings grouped by severity, each with its evidence and fix. */
export function formatDoctorReport(report: DoctorReport, colour = false): string {
  const lines: string[] = [
    `flotilla doctor: ${report.system}${report.file === undefined ? '' : ` (${report.file})`}`,
    `${report.counts.error} error${report.counts.error === 1 ? '' : 's'}, ${report.counts.warn} warning${report.counts.warn === 1 ? '' : 's'}, ${report.counts.info} note${report.counts.info === 1 ? '' : 's'}`,
  ];
  for (const severity of SEVERITIES) {
    const findings = report.findings.filter((f) => f.severity === severity);
    if (findings.length === 0) continue;
    lines.push('', paint(COLOUR[severity], severity.toUpperCase(), colour));
    for (const f of findings) {
      lines.push(`  ${paint(COLOUR[severity], f.id, colour)}  ${f.message}`);
      for (const e of f.evidence) {
        const at = where(e);
        lines.push(`      ${at === '' ? '' : `${at}  `}${e.detail}`);
      }
      lines.push(`      fix: ${f.fix}`);
    }
  }
  if (report.findings.length === 0) lines.push('', 'No findings.');
  return lines.join('\n');
}
