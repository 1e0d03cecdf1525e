// Resilience: a Hystrix-dashboard-style tile per (caller, upstream): breaker state, rolling
// counts, failure rate, latency percentiles, bulkhead, retry budget and the upstream's instances.
import type { ConsoleResilienceTile, ConsoleSnapshot, PolicySnapshot } from '../../../src/contract.js';
import { Badge, Waiting } from '../components.js';
import { count, ms, percent } from '../format.js';

/** Breaker states from worst to best: a pair's tile shows the worst of its caller instances. */
const SEVERITY = ['open', 'isolated', 'half-open', 'closed'];

const severity = (state: string | null): number => {
  const i = SEVERITY.indexOf(state ?? 'closed');
  return i < 0 ? SEVERITY.length : i;
};

const BREAKER_TONE: Record<string, string> = {
  closed: 'ok',
  'half-open': 'warn',
  open: 'bad',
  isolated: 'isolated',
};

/** The worst breaker state of a pair's tiles (`null` when none has a breaker). */
export function worstBreaker(tiles: readonly ConsoleResilienceTile[]): string | null {
  const states = tiles.map((t) => t.breaker).filter((b): b is string => b !== null);
  if (states.length === 0) return null;
  return states.reduce((worst, s) => (severity(s) < severity(worst) ? s : worst));
}

/** The resilience page: tiles grouped by (caller, upstream), one section per caller instance. */
export function ResiliencePage(props: { snapshot: ConsoleSnapshot | null }) {
  const { snapshot } = props;
  if (snapshot === null) return <Waiting />;
  const pairs = new Map<string, ConsoleResilienceTile[]>();
  for (const t of snapshot.resilience) {
    const k = `${t.caller}\u0000${t.upstream}`;
    pairs.set(k, [...(pairs.get(k) ?? []), t]);
  }
  const sorted = [...pairs.values()].sort(
    (a, b) => a[0]!.caller.localeCompare(b[0]!.caller) || a[0]!.upstream.localeCompare(b[0]!.upstream),
  );
  if (sorted.length === 0) return <p class="muted">No service reports resilience policies yet.</p>;
  return (
    <div class="tiles">
      {sorted.map((tiles) => (
        <PairTile key={`${tiles[0]!.caller}-${tiles[0]!.upstream}`} tiles={tiles} />
      ))}
    </div>
  );
}

function PairTile(props: { tiles: readonly ConsoleResilienceTile[] }) {
  const tiles = [...props.tiles].sort((a, b) => a.callerInstance - b.callerInstance);
  const first = tiles[0]!;
  const breaker = worstBreaker(tiles);
  return (
    <section
      class={`tile breaker-${breaker ?? 'none'}`}
      data-testid={`tile-${first.caller}-${first.upstream}`}
      data-breaker={breaker ?? 'none'}
    >
      <header class="tile-head">
        <h3>
          {first.caller} → {first.upstream}
        </h3>
        <Badge tone={breaker === null ? 'none' : (BREAKER_TONE[breaker] ?? 'none')}>
          {breaker ?? 'no breaker'}
        </Badge>
      </header>
      {tiles.map((t) => (
        <InstanceTile key={t.callerInstance} tile={t} several={tiles.length > 1} />
      ))}
    </section>
  );
}

/** Radius of the Hystrix-style circle: grows with traffic, coloured by failure rate. */
const circleRadius = (calls: number): number => Math.min(22, 6 + Math.sqrt(calls));

function InstanceTile(props: { tile: ConsoleResilienceTile; several: boolean }) {
  const { tile, several } = props;
  const w = tile.window;
  const tone =
    w.failureRate >= 0.5 ? 'bad' : w.failureRate > 0.05 ? 'warn' : w.failureRate > 0 ? 'mild' : 'ok';
  return (
    <div
      class="tile-instance"
      data-testid={`tile-${tile.caller}-${tile.upstream}-${tile.callerInstance}`}
      data-breaker={tile.breaker ?? 'none'}
    >
      {several && (
        <div class="tile-sub">
          {tile.caller}[{tile.callerInstance}]{' '}
          <Badge tone={tile.breaker === null ? 'none' : (BREAKER_TONE[tile.breaker] ?? 'none')}>
            {tile.breaker ?? 'no breaker'}
          </Badge>
        </div>
      )}
      <div class="tile-body">
        <svg class="tile-circle" viewBox="0 0 50 50" aria-hidden="true">
          <circle cx="25" cy="25" r={circleRadius(w.calls)} class={`health-${tone}`} />
        </svg>
        <div class="tile-counts">
          <span class="c-ok" title="successes">
            {count(w.successes)} ok
          </span>
          <span class="c-fail" title="failures">
            {count(w.failures)} failed
          </span>
          <span class="c-rej" title="rejections (open breaker, full bulkhead, …)">
            {count(w.rejections)} rejected
          </span>
        </div>
        <div class="tile-rate">
          <strong>{percent(w.failureRate)}</strong>
          <small>failure rate</small>
        </div>
      </div>
      <dl class="tile-stats">
        <dt>calls</dt>
        <dd>{count(w.calls)}</dd>
        <dt>p50</dt>
        <dd>{ms(w.p50Ms)}</dd>
        <dt>p90</dt>
        <dd>{ms(w.p90Ms)}</dd>
        <dt>p99</dt>
        <dd>{ms(w.p99Ms)}</dd>
      </dl>
      {tile.bulkhead !== null && (
        <Meter
          label="bulkhead"
          used={tile.bulkhead.active}
          limit={tile.bulkhead.limit}
          text={`${tile.bulkhead.active}/${tile.bulkhead.limit} active, ${tile.bulkhead.queued} queued`}
        />
      )}
      {tile.retryBudget !== null && (
        <Meter
          label="retry budget"
          used={tile.retryBudget.spent}
          limit={tile.retryBudget.spent + tile.retryBudget.available}
          text={`${tile.retryBudget.spent} spent, ${tile.retryBudget.available} left`}
        />
      )}
      {tile.instances.length > 0 && (
        <ul class="tile-upstreams">
          {tile.instances.map((i) => (
            <li key={i.url} class={i.ejected ? 'ejected' : ''} data-ejected={i.ejected}>
              <code>{i.url.replace(/^https?:\/\//, '')}</code> {i.outstanding} in flight
              {i.ejected && <Badge tone="bad">ejected</Badge>}
            </li>
          ))}
        </ul>
      )}
      <details class="tile-policy">
        <summary>policies</summary>
        <PolicyTree policy={tile.policy} />
      </details>
    </div>
  );
}

function Meter(props: { label: string; used: number; limit: number; text: string }) {
  const share = props.limit > 0 ? Math.min(1, props.used / props.limit) : 0;
  return (
    <div class="meter">
      <span class="meter-label">{props.label}</span>
      <span class="meter-bar">
        <i
          style={{ width: `${(share * 100).toFixed(1)}%` }}
          class={share >= 1 ? 'full' : share >= 0.8 ? 'high' : ''}
        />
      </span>
      <span class="meter-text">{props.text}</span>
    </div>
  );
}

/** The policy pipeline, outermost first, with each policy's state and details. */
function PolicyTree(props: { policy: PolicySnapshot }) {
  const { policy } = props;
  const details = Object.entries(policy.details ?? {});
  return (
    <ul class="policy-tree">
      <li>
        <strong>{policy.name}</strong>
        {policy.name !== policy.kind && <span class="muted"> ({policy.kind})</span>}
        {policy.state !== undefined && <span> · {policy.state}</span>}
        <span class="muted">
          {' '}
          · window {count(policy.window.calls)} calls, {percent(policy.window.failureRate)} failed,{' '}
          {count(policy.window.rejections)} rejected
        </span>
        {details.length > 0 && (
          <div class="muted small">
            {details.map(([k, v]) => `${k}=${v === null ? '–' : String(v)}`).join(' · ')}
          </div>
        )}
        {policy.policies?.map((p) => (
          <PolicyTree key={`${p.kind}:${p.name}`} policy={p} />
        ))}
      </li>
    </ul>
  );
}
