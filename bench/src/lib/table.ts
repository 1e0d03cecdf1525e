import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { machineLine } from './env.js';

/** A benchmark's result: a title, the command that produced it, notes, and one Markdown table. */
export interface BenchReport {
  readonly name: string;
  readonly title: string;
  readonly command: string;
  readonly header: readonly string[];
  readonly rows: ReadonlyArray<readonly string[]>;
  readonly notes?: readonly string[];
}

const resultsDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'results');

/** Renders the report as Markdown. */
export function renderReport(report: BenchReport): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  const out = [
    `## ${report.title}`,
    '',
    `Machine: ${machineLine()}`,
    '',
    `Command: \`${report.command}\``,
    '',
    line(report.header),
    line(report.header.map(() => '---')),
    ...report.rows.map(line),
  ];
  if (report.notes !== undefined && report.notes.length > 0)
    out.push('', ...report.notes.map((n) => `- ${n}`));
  return `${out.join('\n')}\n`;
}

/** Prints the report and writes it to bench/results/<name>.md. */
export function publish(report: BenchReport): string {
  const md = renderReport(report);
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, `${report.name}.md`), md);
  process.stdout.write(`\n${md}`);
  return md;
}
