// Traces: recent traces through the gateway, and one trace as a waterfall (rows = spans indented
// by parent, bars placed by start and duration, coloured by service, errors red).
import { useState } from 'preact/hooks';
import type { ConsoleTrace, ConsoleTraceList } from '../../../src/contract.js';
import { seg } from '../api.js';
import { Badge, ErrorBox, Panel } from '../components.js';
import { dateTime, ms, serviceColour } from '../format.js';
import { usePoll } from '../hooks.js';
import { layoutWaterfall } from '../layout.js';
import { href } from '../route.js';

/** The traces page: `#/traces` lists, `#/traces/<traceId>` shows one waterfall above the list. */
export function TracesPage(props: { params: readonly string[] }) {
  const [follow, setFollow] = useState(true);
  const list = usePoll<ConsoleTraceList>('/traces?limit=50', follow ? 3000 : 0);
  const traceId = props.params[0];
  return (
    <div class="traces">
      {traceId !== undefined && <Waterfall traceId={traceId} />}
      <Panel
        title="Recent traces"
        testId="trace-list"
        actions={
          <div class="filters">
            <label>
              <input
                type="checkbox"
                checked={follow}
                data-testid="trace-follow"
                onChange={(e) => setFollow(e.currentTarget.checked)}
              />{' '}
              refresh every 3 s
            </label>
            <button type="button" onClick={list.reload} data-testid="trace-refresh">
              Refresh
            </button>
          </div>
        }
      >
        <ErrorBox message={list.error} testId="trace-list-error" />
        {list.data !== null && list.data.items.length === 0 && <p class="muted">No traces recorded yet.</p>}
        {list.data !== null && list.data.items.length > 0 && (
          <table>
            <thead>
              <tr>
                <th>started</th>
                <th>request</th>
                <th>duration</th>
                <th>spans</th>
                <th>services</th>
                <th>status</th>
              </tr>
            </thead>
            <tbody>
              {list.data.items.map((t) => (
                <tr
                  key={t.traceId}
                  data-testid="trace-row"
                  data-trace-id={t.traceId}
                  data-status={t.status}
                  class={`clickable ${t.traceId === traceId ? 'selected' : ''}`}
                  onClick={() => {
                    window.location.hash = href('traces', t.traceId);
                  }}
                >
                  <td>{dateTime(t.startTimeMs)}</td>
                  <td>
                    <a href={href('traces', t.traceId)} data-testid={`trace-link-${t.traceId}`}>
                      {t.name}
                    </a>
                  </td>
                  <td>{ms(t.durationMs)}</td>
                  <td>{t.spans}</td>
                  <td>
                    {t.services.map((s) => (
                      <span key={s} class="service-tag" style={{ borderColor: serviceColour(s) }}>
                        {s}
                      </span>
                    ))}
                  </td>
                  <td>
                    <Badge tone={t.status === 'ok' ? 'ok' : 'bad'}>{t.status}</Badge>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Panel>
    </div>
  );
}

type TraceSpan = ConsoleTrace['spans'][number];

/** One trace as a waterfall; a row's attributes on click. */
function Waterfall(props: { traceId: string }) {
  const trace = usePoll<ConsoleTrace>(`/traces/${seg(props.traceId)}`, 0);
  const [open, setOpen] = useState<string | null>(null);
  const layout = layoutWaterfall(trace.data?.spans ?? []);
  const services = [...new Set(layout.rows.map((r) => r.span.service))];
  return (
    <Panel
      title={
        <>
          Trace <code>{props.traceId}</code>
        </>
      }
      testId="trace"
      actions={
        <div class="filters">
          <button type="button" onClick={trace.reload} data-testid="trace-reload">
            Reload
          </button>
          <a href={href('traces')} class="close">
            close
          </a>
        </div>
      }
    >
      <ErrorBox message={trace.error} testId="trace-error" />
      {trace.data !== null && layout.rows.length === 0 && <p class="muted">This trace has no spans (yet).</p>}
      {layout.rows.length > 0 && (
        <>
          <div class="facts">
            <span>{dateTime(layout.startMs)}</span>
            <span>
              <strong>{ms(layout.durationMs)}</strong> total
            </span>
            <span>{layout.rows.length} spans</span>
            {services.map((s) => (
              <span key={s} class="legend">
                <i style={{ background: serviceColour(s) }} />
                {s}
              </span>
            ))}
          </div>
          <div class="waterfall" data-testid="waterfall">
            <div class="wf-row wf-head">
              <div class="wf-name">span</div>
              <div class="wf-track wf-ticks">
                {[0, 0.25, 0.5, 0.75, 1].map((f) => (
                  <span key={f} style={{ left: `${f * 100}%` }}>
                    {ms(layout.durationMs * f)}
                  </span>
                ))}
              </div>
            </div>
            {layout.rows.map(({ span, depth, offset, width }) => (
              <SpanRow
                key={span.spanId}
                span={span}
                depth={depth}
                offset={offset}
                width={width}
                open={open === span.spanId}
                onToggle={() => setOpen(open === span.spanId ? null : span.spanId)}
              />
            ))}
          </div>
        </>
      )}
    </Panel>
  );
}

/** Where a bar's duration goes: after the bar, else before it, else inside its end. */
function durationLabel(offset: number, width: number): { style: Record<string, string>; inside: boolean } {
  const end = offset + width;
  if (end < 0.88) return { style: { left: `calc(${(end * 100).toFixed(3)}% + 4px)` }, inside: false };
  if (offset > 0.12)
    return { style: { right: `calc(${((1 - offset) * 100).toFixed(3)}% + 4px)` }, inside: false };
  return { style: { right: `calc(${((1 - end) * 100).toFixed(3)}% + 4px)` }, inside: true };
}

function SpanRow(props: {
  span: TraceSpan;
  depth: number;
  offset: number;
  width: number;
  open: boolean;
  onToggle: () => void;
}) {
  const { span, depth, offset, width } = props;
  const colour = span.status === 'error' ? '#d62728' : serviceColour(span.service);
  const label = durationLabel(offset, width);
  return (
    <>
      <button
        type="button"
        class={`wf-row ${span.status === 'error' ? 'wf-error' : ''} ${props.open ? 'open' : ''}`}
        data-testid="span-row"
        data-span-id={span.spanId}
        data-status={span.status}
        data-service={span.service}
        data-depth={depth}
        onClick={props.onToggle}
        aria-expanded={props.open}
      >
        <span class="wf-name" style={{ paddingLeft: `${6 + depth * 14}px` }} title={span.name}>
          <span class="service-tag" style={{ borderColor: serviceColour(span.service) }}>
            {span.service}
          </span>{' '}
          {span.name}
        </span>
        <span class="wf-track">
          <span
            class="wf-bar"
            style={{
              left: `${(offset * 100).toFixed(3)}%`,
              width: `max(2px, ${(width * 100).toFixed(3)}%)`,
              background: colour,
            }}
          />
          <span class={`wf-duration ${label.inside ? 'inside' : ''}`} style={label.style}>
            {ms(span.durationMs)}
          </span>
        </span>
      </button>
      {props.open && (
        <div class="wf-attributes" data-testid={`span-attributes-${span.spanId}`}>
          <table>
            <tbody>
              <tr>
                <th>service</th>
                <td>
                  {span.service}[{span.instance}]
                </td>
              </tr>
              <tr>
                <th>kind</th>
                <td>{span.kind}</td>
              </tr>
              <tr>
                <th>status</th>
                <td>{span.status}</td>
              </tr>
              <tr>
                <th>start</th>
                <td>{dateTime(span.startTimeMs)}</td>
              </tr>
              <tr>
                <th>duration</th>
                <td>{ms(span.durationMs)}</td>
              </tr>
              <tr>
                <th>span id</th>
                <td>
                  <code>{span.spanId}</code>
                  {span.parentSpanId !== undefined && (
                    <>
                      {' '}
                      (parent <code>{span.parentSpanId}</code>)
                    </>
                  )}
                </td>
              </tr>
              {Object.entries(span.attributes)
                .sort(([a], [b]) => a.localeCompare(b))
                .map(([k, v]) => (
                  <tr key={k}>
                    <th>{k}</th>
                    <td>
                      <code>{String(v)}</code>
                    </td>
                  </tr>
                ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
