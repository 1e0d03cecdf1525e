// Sagas: counts by state, a list filterable by state and service, and one saga's step timeline
// (attempts as bars on a time axis) with a link to its trace and a Retry button when stuck.
import { useState } from 'preact/hooks';
import type {
  ConsoleSagaDetails,
  ConsoleSagaList,
  ConsoleSnapshot,
  SagaAttempt,
  SagaState,
} from '../../../src/contract.js';
import { api, seg } from '../api.js';
import { ActionStatus, Badge, ErrorBox, JsonBlock, Panel } from '../components.js';
import { ago, clock, dateTime, ms } from '../format.js';
import { useAction, usePoll } from '../hooks.js';
import { layoutTimeline } from '../layout.js';
import { href } from '../route.js';

/** Every saga state, in the order a saga goes through them. */
const STATES: readonly SagaState[] = [
  'running',
  'waiting',
  'compensating',
  'completed',
  'compensated',
  'stuck',
  'resolved',
];

const STATE_TONE: Record<string, string> = {
  running: 'info',
  waiting: 'info',
  compensating: 'warn',
  completed: 'ok',
  compensated: 'mild',
  stuck: 'bad',
  resolved: 'none',
};

const TERMINAL: ReadonlySet<string> = new Set(['completed', 'compensated', 'resolved']);

/** The sagas page: `#/sagas` lists, `#/sagas/<service>/<id>` shows one saga above the list. */
export function SagasPage(props: {
  snapshot: ConsoleSnapshot | null;
  params: readonly string[];
  now: number;
}) {
  const [state, setState] = useState<string>('');
  const [service, setService] = useState<string>('');
  const totals = new Map<string, number>();
  for (const s of props.snapshot?.sagas ?? []) {
    if (service !== '' && s.service !== service) continue;
    for (const [k, v] of Object.entries(s.counts)) totals.set(k, (totals.get(k) ?? 0) + (v ?? 0));
  }
  const query = new URLSearchParams({ limit: '100' });
  if (state !== '') query.set('state', state);
  if (service !== '') query.set('service', service);
  const list = usePoll<ConsoleSagaList>(`/sagas?${query}`, 3000);
  const [selService, selId] = props.params;

  return (
    <div class="sagas">
      {selService !== undefined && selId !== undefined && (
        <SagaDetails service={selService} id={selId} now={props.now} onChanged={list.reload} />
      )}
      <Panel
        title="Sagas"
        testId="saga-list"
        actions={
          <div class="filters">
            <label>
              state{' '}
              <select
                data-testid="saga-state"
                value={state}
                onChange={(e) => setState(e.currentTarget.value)}
              >
                <option value="">all ({[...totals.values()].reduce((a, b) => a + b, 0)})</option>
                {STATES.map((s) => (
                  <option key={s} value={s}>
                    {s} ({totals.get(s) ?? 0})
                  </option>
                ))}
              </select>
            </label>
            <label>
              service{' '}
              <select
                data-testid="saga-service"
                value={service}
                onChange={(e) => setService(e.currentTarget.value)}
              >
                <option value="">all</option>
                {(props.snapshot?.sagas ?? []).map((s) => (
                  <option key={s.service} value={s.service}>
                    {s.service}
                  </option>
                ))}
              </select>
            </label>
          </div>
        }
      >
        <div class="state-counts" data-testid="saga-counts">
          {STATES.map((s) => (
            <button
              type="button"
              key={s}
              class={`count-chip ${state === s ? 'active' : ''}`}
              data-testid={`saga-count-${s}`}
              data-count={totals.get(s) ?? 0}
              onClick={() => setState(state === s ? '' : s)}
            >
              <Badge tone={STATE_TONE[s] ?? 'none'}>{s}</Badge> {totals.get(s) ?? 0}
            </button>
          ))}
        </div>
        <ErrorBox message={list.error} testId="saga-list-error" />
        {list.data !== null && list.data.items.length === 0 && <p class="muted">No sagas match.</p>}
        {list.data !== null && list.data.items.length > 0 && (
          <table class="saga-table">
            <thead>
              <tr>
                <th>service</th>
                <th>saga</th>
                <th>id</th>
                <th>state</th>
                <th>step</th>
                <th>attempt</th>
                <th>created</th>
                <th>updated</th>
                <th>last error</th>
              </tr>
            </thead>
            <tbody>
              {list.data.items.map((s) => (
                <tr
                  key={`${s.service}/${s.id}`}
                  data-testid="saga-row"
                  data-id={s.id}
                  data-service={s.service}
                  data-state={s.state}
                  class={`clickable ${selId === s.id ? 'selected' : ''}`}
                  onClick={() => {
                    window.location.hash = href('sagas', s.service, s.id);
                  }}
                >
                  <td>{s.service}</td>
                  <td>
                    {s.name} <span class="muted">v{s.version}</span>
                  </td>
                  <td>
                    <a href={href('sagas', s.service, s.id)} data-testid={`saga-link-${s.id}`} title={s.id}>
                      <code>{s.id.length > 13 ? `${s.id.slice(0, 12)}…` : s.id}</code>
                    </a>
                  </td>
                  <td>
                    <Badge tone={STATE_TONE[s.state] ?? 'none'}>{s.state}</Badge>
                  </td>
                  <td>
                    {s.step ?? '–'}
                    {s.direction === 'backward' && <span class="muted"> (compensating)</span>}
                  </td>
                  <td>{s.attempt}</td>
                  <td>{ago(s.createdAt, props.now)}</td>
                  <td>{ago(s.updatedAt, props.now)}</td>
                  <td class="error-text">{s.lastError ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Panel>
    </div>
  );
}

/** One saga: summary, the step timeline, its trace link and Retry when stuck. */
function SagaDetails(props: { service: string; id: string; now: number; onChanged: () => void }) {
  const path = `/sagas/${seg(props.service)}/${seg(props.id)}`;
  const saga = usePoll<ConsoleSagaDetails>(path, 2000);
  const retry = useAction();
  const s = saga.data;
  return (
    <Panel
      title={
        <>
          Saga <code>{props.id}</code> <span class="muted">on {props.service}</span>
        </>
      }
      testId="saga-details"
      actions={
        <a href={href('sagas')} class="close">
          close
        </a>
      }
    >
      <ErrorBox message={saga.error} testId="saga-error" />
      {s !== null && (
        <>
          <div class="facts" data-testid="saga-summary" data-state={s.state}>
            <span>
              <strong>{s.name}</strong> v{s.version}
            </span>
            <Badge tone={STATE_TONE[s.state] ?? 'none'} testId="saga-state-badge">
              {s.state}
            </Badge>
            <span>
              step <strong>{s.step ?? '–'}</strong> ({s.direction}, attempt {s.attempt})
            </span>
            <span>created {dateTime(s.createdAt)}</span>
            <span>updated {ago(s.updatedAt, props.now)}</span>
            {s.deadlineAt !== null && <span>deadline {dateTime(s.deadlineAt)}</span>}
            {!s.matched && <Badge tone="warn">no matching definition</Badge>}
            {s.traceId !== null ? (
              <a href={href('traces', s.traceId)} data-testid="saga-trace-link">
                trace {s.traceId.slice(0, 12)}…
              </a>
            ) : (
              <span class="muted">no trace</span>
            )}
            {s.state === 'stuck' && (
              <>
                <button
                  type="button"
                  data-testid="saga-retry"
                  disabled={retry.pending}
                  onClick={() =>
                    void retry.run(async () => {
                      await api('POST', `${path}/retry`);
                      saga.reload();
                      props.onChanged();
                      return 'retry requested';
                    })
                  }
                >
                  Retry
                </button>
                <ActionStatus action={retry} testId="saga-retry-status" />
              </>
            )}
          </div>
          {s.lastError !== null && <p class="error-text">last error: {s.lastError}</p>}
          {s.note !== null && <p>note: {s.note}</p>}
          <Timeline attempts={s.timeline} now={props.now} running={!TERMINAL.has(s.state)} />
          <details>
            <summary>context</summary>
            <JsonBlock value={s.context} testId="saga-context" />
          </details>
        </>
      )}
    </Panel>
  );
}

const OUTCOME_TONE: Record<string, string> = {
  ok: 'ok',
  error: 'bad',
  timeout: 'timeout',
  started: 'info',
  waiting: 'info',
};

/** Attempts as bars on a shared time axis, one row each: actions solid, compensations striped. */
function Timeline(props: { attempts: readonly SagaAttempt[]; now: number; running: boolean }) {
  const { bars, startMs, durationMs } = layoutTimeline(props.attempts, props.now);
  if (bars.length === 0) return <p class="muted">No attempts recorded.</p>;
  return (
    <div class="timeline" data-testid="saga-timeline">
      <div class="timeline-axis">
        <span>{clock(startMs)}</span>
        <span>
          {ms(durationMs)}
          {props.running ? ' so far' : ''}
        </span>
        <span>{clock(startMs + durationMs)}</span>
      </div>
      {bars.map(({ attempt: a, offset, width }, i) => (
        <div
          key={i}
          class={`timeline-row phase-${a.phase}`}
          data-testid={`saga-attempt-${i}`}
          data-step={a.step}
          data-phase={a.phase}
          data-outcome={a.outcome}
        >
          <div class="timeline-label">
            <span class="phase-mark">{a.phase === 'compensation' ? '↩' : '→'}</span> {a.step}{' '}
            <span class="muted">
              {a.phase === 'compensation' ? 'compensate' : 'action'} #{a.attempt}
            </span>
          </div>
          <div class="timeline-track">
            <div
              class={`timeline-bar tone-${OUTCOME_TONE[a.outcome] ?? 'none'} ${a.phase === 'compensation' ? 'striped' : ''}`}
              style={{
                left: `${(offset * 100).toFixed(2)}%`,
                width: `max(3px, ${(width * 100).toFixed(2)}%)`,
              }}
              title={`${a.step} ${a.phase} #${a.attempt}: ${a.outcome}`}
            />
          </div>
          <div class="timeline-info" title={a.error ?? undefined}>
            <Badge tone={OUTCOME_TONE[a.outcome] ?? 'none'}>{a.outcome}</Badge> {ms(a.durationMs)}
            {a.error !== null && <span class="error-text"> {a.error}</span>}
          </div>
        </div>
      ))}
    </div>
  );
}
