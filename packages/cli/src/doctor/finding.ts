/** How bad a finding is. */
export type Severity = 'error' | 'warn' | 'info';

/** Severities from the worst down. */
export const SEVERITIES: readonly Severity[] = ['error', 'warn', 'info'];

/** Where a finding was seen: a file and line, a service, a trace. */
export interface Evidence {
  /** Path relative to the system file's directory. */
  readonly file?: string;
  /** 1-based line in `file`. */
  readonly line?: number;
  readonly service?: string;
  readonly traceId?: string;
  /** What is there, e.g. the line of code or the values compared. */
  readonly detail: string;
}

/** One problem `flotilla doctor` found. */
export interface Finding {
  /** Stable id of the kind of problem, e.g. `shared-database`. */
  readonly id: string;
  readonly severity: Severity;
  /** The services it concerns. */
  readonly services: readonly string[];
  /** One sentence saying what is wrong. */
  readonly message: string;
  readonly evidence: readonly Evidence[];
  /** How to fix it. */
  readonly fix: string;
}

/** True when `severity` is `threshold` or worse. */
export function atLeast(severity: Severity, threshold: Severity): boolean {
  return SEVERITIES.indexOf(severity) <= SEVERITIES.indexOf(threshold);
}
