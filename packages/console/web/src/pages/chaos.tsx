// Chaos: kill, restart, freeze, thaw, stop and start instances; network faults on the calls into a
// service; the load generator; and charts of the last 120 s of gateway traffic to watch the effect.
import { useState } from 'preact/hooks';
import type { ConsoleFault, ConsoleLoad, ConsoleService, ConsoleSnapshot } from '../../../src/contract.js';
import { api, seg } from '../api.js';
import { type ChartSeries, LineChart } from '../charts.js';
import { ActionStatus, Badge, Panel, Waiting } from '../components.js';
import { draftOf, type FaultDraft, faultRequest } from '../fault-form.js';
import { count, ms, percent } from '../format.js';
import { useAction } from '../hooks.js';

/** The actions on instances, as the API names them, with their button labels. */
const ACTIONS = [
  { id: 'kill', label: 'Kill', hint: 'SIGKILL; the supervisor restarts it' },
  { id: 'restart', label: 'Restart', hint: 'stop gracefully and start again' },
  { id: 'freeze', label: 'Freeze', hint: 'SIGSTOP: the process hangs' },
  { id: 'thaw', label: 'Thaw', hint: 'SIGCONT after a freeze' },
  { id: 'stop', label: 'Stop', hint: 'stop and keep it stopped' },
  { id: 'start', label: 'Start', hint: 'start a stopped instance' },
] as const;

const SPAN_MS = 120_000;

/** The chaos page. */
export function ChaosPage(props: { snapshot: ConsoleSnapshot | null }) {
  const { snapshot } = props;
  if (snapshot === null) return <Waiting />;
  return (
    <div class="chaos">
      <Charts snapshot={snapshot} />
      <div class="columns">
        <Faults snapshot={snapshot} />
        <Load load={snapshot.load} now={snapshot.at} />
      </div>
      <Instances services={snapshot.services} />
    </div>
  );
}

function Charts(props: { snapshot: ConsoleSnapshot }) {
  const { series, at } = props.snapshot;
  const times = series.map((p) => p.t);
  const throughput: ChartSeries[] = [
    { name: 'requests/s', colour: '#4e79a7', values: series.map((p) => p.requests) },
    { name: 'errors/s', colour: '#d62728', values: series.map((p) => p.errors) },
  ];
  const latency: ChartSeries[] = [
    { name: 'p50', colour: '#59a14f', values: series.map((p) => p.p50Ms) },
    { name: 'p99', colour: '#f28e2b', values: series.map((p) => p.p99Ms) },
  ];
  const errors: ChartSeries[] = [
    {
      name: 'error rate',
      colour: '#d62728',
      values: series.map((p) => (p.requests > 0 ? (p.errors / p.requests) * 100 : null)),
    },
  ];
  const fmtCount = (v: number): string =>
    v < 10 && v !== Math.round(v) ? v.toFixed(1) : String(Math.round(v));
  return (
    <div class="charts">
      <LineChart
        title="Gateway throughput"
        testId="chart-throughput"
        times={times}
        series={throughput}
        format={fmtCount}
        spanMs={SPAN_MS}
        end={at}
        minTop={5}
      />
      <LineChart
        title="Gateway latency"
        testId="chart-latency"
        times={times}
        series={latency}
        format={(v) => ms(v)}
        spanMs={SPAN_MS}
        end={at}
        minTop={10}
      />
      <LineChart
        title="Gateway error rate"
        testId="chart-errors"
        times={times}
        series={errors}
        format={(v) => `${v < 10 && v !== Math.round(v) ? v.toFixed(1) : Math.round(v)} %`}
        spanMs={SPAN_MS}
        end={at}
        minTop={5}
      />
    </div>
  );
}

const stateTone = (state: string): string =>
  state === 'ready'
    ? 'ok'
    : state === 'starting' || state === 'unready' || state === 'frozen'
      ? 'warn'
      : 'bad';

/** Buttons per service (all instances) and per instance. */
function Instances(props: { services: readonly ConsoleService[] }) {
  const action = useAction();
  const act = (service: string, verb: string, instance?: number): void => {
    void action.run(async () => {
      const query = instance === undefined ? '' : `?instance=${instance}`;
      await api('POST', `/services/${seg(service)}/${seg(verb)}${query}`);
      return `${verb} ${service}${instance === undefined ? '' : `[${instance}]`}: requested`;
    });
  };
  return (
    <Panel
      title="Processes"
      testId="chaos-services"
      actions={<ActionStatus action={action} testId="chaos-status" />}
    >
      <table>
        <thead>
          <tr>
            <th>service</th>
            <th>instances</th>
            <th>all instances</th>
          </tr>
        </thead>
        <tbody>
          {props.services.map((s) => (
            <tr key={s.service} data-testid={`chaos-service-${s.service}`}>
              <td>
                <strong>{s.service}</strong>
                {s.critical && <span class="muted small"> critical</span>}
              </td>
              <td>
                {s.instances.map((i) => (
                  <details key={i.instance} class="instance-actions">
                    <summary data-testid={`instance-menu-${s.service}-${i.instance}`}>
                      [{i.instance}] <Badge tone={stateTone(i.state)}>{i.state}</Badge>
                      {i.restarts > 0 && <span class="muted small"> ↻{i.restarts}</span>}
                    </summary>
                    {ACTIONS.map((a) => (
                      <button
                        type="button"
                        key={a.id}
                        title={a.hint}
                        data-testid={`${a.id}-${s.service}-${i.instance}`}
                        disabled={action.pending}
                        onClick={() => act(s.service, a.id, i.instance)}
                      >
                        {a.label}
                      </button>
                    ))}
                  </details>
                ))}
              </td>
              <td class="row-actions">
                {ACTIONS.map((a) => (
                  <button
                    type="button"
                    key={a.id}
                    title={`${a.hint} (every instance)`}
                    class={a.id === 'kill' || a.id === 'stop' ? 'danger' : ''}
                    data-testid={`${a.id}-${s.service}`}
                    disabled={action.pending}
                    onClick={() => act(s.service, a.id)}
                  >
                    {a.label}
                  </button>
                ))}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </Panel>
  );
}

const describeFault = (f: ConsoleFault): string =>
  [
    f.latencyMs > 0 || f.jitterMs > 0 ? `latency ${f.latencyMs} ± ${f.jitterMs} ms` : '',
    f.errorRate > 0 ? `${percent(f.errorRate)} errors` : '',
    f.resetProbability > 0 ? `${percent(f.resetProbability)} resets` : '',
    f.bandwidthBytesPerSecond > 0 ? `${count(f.bandwidthBytesPerSecond)} B/s` : '',
    f.blackhole ? 'blackhole' : '',
  ]
    .filter((s) => s !== '')
    .join(', ') || 'none';

/** Network faults on the calls into one service. */
function Faults(props: { snapshot: ConsoleSnapshot }) {
  const { faults } = props.snapshot;
  const [service, setService] = useState<string>('');
  const [draft, setDraft] = useState<FaultDraft | null>(null);
  const apply = useAction();
  const clear = useAction();
  const target = service !== '' && faults.services.includes(service) ? service : (faults.services[0] ?? '');
  const current = faults.active.find((f) => f.service === target);
  const form = draft ?? draftOf(current);
  const request = faultRequest(target, form);
  const set = (patch: Partial<FaultDraft>): void => setDraft({ ...form, ...patch });
  const field = (key: keyof Omit<FaultDraft, 'blackhole'>, label: string, unit: string, testId: string) => (
    <label>
      {label}
      <span class="with-unit">
        <input
          type="number"
          min="0"
          value={form[key]}
          data-testid={testId}
          onInput={(e) => set({ [key]: e.currentTarget.value } as Partial<FaultDraft>)}
        />
        {unit}
      </span>
    </label>
  );

  return (
    <Panel title="Network faults" testId="faults">
      {!faults.available && (
        <p class="notice" data-testid="faults-unavailable">
          Network faults need fault proxies in front of the services, and this system runs without them. Start
          it with <code>flotilla up --fault-proxies</code> to inject latency, errors, resets, blackholes or
          bandwidth limits from here.
        </p>
      )}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (typeof request === 'string') return;
          void apply.run(async () => {
            await api('POST', '/faults', request);
            setDraft(null);
            return `faults on ${target} applied`;
          });
        }}
      >
        <fieldset disabled={!faults.available} class="fault-form">
          <label>
            calls into
            <select
              data-testid="fault-service"
              value={target}
              onChange={(e) => {
                setService(e.currentTarget.value);
                setDraft(null);
              }}
            >
              {faults.services.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </label>
          {field('latencyMs', 'latency', 'ms', 'fault-latency')}
          {field('jitterMs', '± jitter', 'ms', 'fault-jitter')}
          {field('errorPercent', 'error responses', '%', 'fault-error-rate')}
          {field('resetPercent', 'connection resets', '%', 'fault-reset')}
          {field('bandwidth', 'bandwidth (0 = unlimited)', 'B/s', 'fault-bandwidth')}
          <label class="check">
            <input
              type="checkbox"
              checked={form.blackhole}
              data-testid="fault-blackhole"
              onChange={(e) => set({ blackhole: e.currentTarget.checked })}
            />{' '}
            blackhole (accept, never answer)
          </label>
          <div class="form-actions">
            <button
              type="submit"
              data-testid="fault-apply"
              disabled={typeof request === 'string' || target === '' || apply.pending}
            >
              Apply
            </button>
            <button
              type="button"
              class="danger"
              data-testid="fault-clear"
              disabled={clear.pending}
              onClick={() =>
                void clear.run(async () => {
                  await api('DELETE', '/faults');
                  setDraft(null);
                  return 'every fault cleared';
                })
              }
            >
              Clear all
            </button>
            <ActionStatus action={apply} testId="fault-status" />
            <ActionStatus action={clear} testId="fault-clear-status" />
          </div>
          {typeof request === 'string' && <p class="error-text">{request}</p>}
        </fieldset>
      </form>
      <h3>Active</h3>
      {faults.active.length === 0 ? (
        <p class="muted" data-testid="faults-none">
          No fault set.
        </p>
      ) : (
        <ul>
          {faults.active.map((f) => (
            <li key={f.service} data-testid={`fault-active-${f.service}`}>
              <strong>{f.service}</strong>: {describeFault(f)}
            </li>
          ))}
        </ul>
      )}
    </Panel>
  );
}

/** The load generator: start with a concurrency, stop, and its counters. */
function Load(props: { load: ConsoleLoad | null; now: number }) {
  const { load, now } = props;
  const [draft, setDraft] = useState<string | null>(null);
  const action = useAction();
  const concurrency = draft ?? String(load?.running ? load.concurrency : 4);
  const n = Number(concurrency);
  const valid = Number.isInteger(n) && n >= 1 && n <= 64;
  if (load === null) {
    return (
      <Panel title="Load" testId="load">
        <p class="notice" data-testid="load-unavailable">
          This system defines no load scenario, so the console cannot generate load.
        </p>
      </Panel>
    );
  }
  const outcomes = Object.entries(load.outcomes).sort(([a], [b]) => a.localeCompare(b));
  return (
    <Panel title="Load" testId="load">
      <form
        class="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          if (!valid) return;
          void action.run(async () => {
            await api('POST', '/load', { concurrency: n });
            setDraft(null);
            return `load started with ${n} customers`;
          });
        }}
      >
        <label>
          simulated customers{' '}
          <input
            type="number"
            min="1"
            max="64"
            value={concurrency}
            data-testid="load-concurrency"
            onInput={(e) => setDraft(e.currentTarget.value)}
          />
        </label>
        <button type="submit" data-testid="load-start" disabled={!valid || action.pending}>
          {load.running ? 'Change' : 'Start'}
        </button>
        <button
          type="button"
          class="danger"
          data-testid="load-stop"
          disabled={!load.running || action.pending}
          onClick={() =>
            void action.run(async () => {
              await api('DELETE', '/load');
              return 'load stopped';
            })
          }
        >
          Stop
        </button>
        <ActionStatus action={action} testId="load-action-status" />
      </form>
      {!valid && <p class="error-text">From 1 to 64 customers.</p>}
      <div class="facts" data-testid="load-status" data-running={load.running}>
        <Badge tone={load.running ? 'info' : 'none'}>
          {load.running ? `running × ${load.concurrency}` : 'stopped'}
        </Badge>
        {load.running && load.startedAt !== null && <span>for {ms(Math.max(0, now - load.startedAt))}</span>}
        <span>
          completed <strong data-testid="load-completed">{count(load.completed)}</strong>
        </span>
        <span>
          failed <strong data-testid="load-failed">{count(load.failed)}</strong>
        </span>
      </div>
      {outcomes.length > 0 && (
        <table class="compact">
          <thead>
            <tr>
              <th>outcome</th>
              <th class="num">count</th>
            </tr>
          </thead>
          <tbody>
            {outcomes.map(([k, v]) => (
              <tr key={k} data-testid={`load-outcome-${k}`}>
                <td>{k}</td>
                <td class="num">{count(v)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Panel>
  );
}
