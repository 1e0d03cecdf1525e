import type { DoctorContext } from './doctor-context.js';
import type { Finding } from './finding.js';
import { type SagaStep, sagaSteps, type TypeScriptModule } from './saga-steps.js';

/** A step action that changes state somewhere: a write call, a table write, an event. */
const CHANGES_STATE =
  /\.(?:post|put|patch|delete)\s*\(|\b(?:insertInto|updateTable|deleteFrom|replaceInto)\s*\(|\.publish\s*\(|\bINSERT\b|\bUPDATE\b|\bDELETE\b/;

/** The saga steps of every service (empty without TypeScript). */
export function readSagaSteps(
  ctx: DoctorContext,
  ts: TypeScriptModule | undefined,
): Map<string, readonly SagaStep[]> {
  const out = new Map<string, readonly SagaStep[]>();
  if (ts === undefined) return out;
  for (const s of ctx.sources)
    out.set(
      s.service,
      s.own.flatMap((f) => sagaSteps(ts, f)),
    );
  return out;
}

/**
 * Saga steps that leave state behind when a later step fails. Statically visible: a step that
 * changes state and whose compensation only logs (or does nothing); and the orderings
 * `@flotilla/saga` refuses when the service starts (a compensatable step without compensation, or
 * after the pivot or a retriable step; a retriable step before the pivot), caught before deploying.
 */
export function checkSagas(
  ctx: DoctorContext,
  steps: ReadonlyMap<string, readonly SagaStep[]>,
  ts: TypeScriptModule | undefined,
): Finding[] {
  if (ts === undefined)
    return [
      {
        id: 'saga-check-skipped',
        severity: 'info',
        services: [],
        message: 'saga steps were not checked: the typescript package is not installed',
        evidence: [{ detail: 'import("typescript") failed' }],
        fix: 'Install typescript (npm install --save-dev typescript) where flotilla doctor runs.',
      },
    ];
  const findings: Finding[] = [];
  for (const [service, list] of steps) {
    const bySaga = new Map<string, SagaStep[]>();
    for (const step of list)
      bySaga.set(`${step.file}#${step.saga}`, [...(bySaga.get(`${step.file}#${step.saga}`) ?? []), step]);
    for (const sagaSteps of bySaga.values())
      sagaSteps.forEach((step, i) => {
        const at = { file: ctx.rel(step.file), line: step.line, service };
        const label = `saga ${step.saga}, step ${step.name}`;
        const earlier = sagaSteps.slice(0, i);
        const pivotOrRetriable = earlier.find((s) => s.kind === 'pivot' || s.kind === 'retriable');
        if (step.kind === 'compensatable' && step.compensate === undefined)
          findings.push({
            id: 'saga-missing-compensation',
            severity: 'error',
            services: [service],
            message: `${label} is compensatable but has no compensate`,
            evidence: [{ ...at, detail: step.actionText.split('\n')[0] ?? '' }],
            fix: "Give the step a compensate that undoes its action, or declare kind: 'pivot' (the point of no return) or 'retriable' (after the pivot).",
          });
        else if (step.kind === 'compensatable' && pivotOrRetriable !== undefined)
          findings.push({
            id: 'saga-step-order',
            severity: 'error',
            services: [service],
            message: `${label} is compensatable but comes after the ${pivotOrRetriable.kind} step ${pivotOrRetriable.name}: it can never be compensated`,
            evidence: [
              {
                file: ctx.rel(pivotOrRetriable.file),
                line: pivotOrRetriable.line,
                service,
                detail: `${pivotOrRetriable.kind} step ${pivotOrRetriable.name}`,
              },
              { ...at, detail: `compensatable step ${step.name}` },
            ],
            fix: 'Put every compensatable step before the pivot, and only retriable steps after it.',
          });
        else if (
          step.kind === 'retriable' &&
          !earlier.some((s) => s.kind === 'pivot') &&
          earlier.some((s) => s.kind === 'compensatable')
        )
          findings.push({
            id: 'saga-step-order',
            severity: 'error',
            services: [service],
            message: `${label} is retriable but comes before the pivot: a failure before it is compensated, after it never`,
            evidence: [{ ...at, detail: `retriable step ${step.name}` }],
            fix: "Mark the point of no return with kind: 'pivot' and put retriable steps after it.",
          });
        if (step.compensate?.onlyLogs === true && CHANGES_STATE.test(step.actionText))
          findings.push({
            id: 'saga-noop-compensation',
            severity: 'warn',
            services: [service, ...step.calls.filter((c) => c !== service)],
            message: `${label} changes state, but its compensation only logs: a later failure leaves the change in place`,
            evidence: [
              { ...at, detail: `action: ${CHANGES_STATE.exec(step.actionText)?.[0] ?? ''}` },
              {
                file: ctx.rel(step.file),
                line: step.compensate.line,
                service,
                detail: 'compensate: logging only',
              },
            ],
            fix: 'Make the compensation undo the action (release, refund, delete — idempotently, with the step key), or make the step the pivot when it cannot be undone.',
          });
      });
  }
  return findings;
}
