// Migration: per strangler-fig route, the weight (set and applied here), the traffic split, the
// guards, a rollback notice and the shadow comparisons with sample diffs.
import { useState } from 'preact/hooks';
import type { ConsoleSnapshot, MigrationStatus } from '../../../src/contract.js';
import { api, seg } from '../api.js';
import { ActionStatus, Badge, JsonBlock, Panel, Waiting } from '../components.js';
import { count, inline, ms, percent } from '../format.js';
import { useAction } from '../hooks.js';

/** The migration page. */
export function MigrationPage(props: { snapshot: ConsoleSnapshot | null }) {
  const { snapshot } = props;
  if (snapshot === null) return <Waiting />;
  if (snapshot.migrations.length === 0) return <p class="muted">The gateway has no route migrating.</p>;
  return (
    <div class="migrations">
      {snapshot.migrations.map((m) => (
        <Migration key={m.routeId} migration={m} />
      ))}
    </div>
  );
}

/** A guard's value in its unit: rates as percentages, p99 in ms, breakerOpen as yes/no. */
function guardValue(name: string, value: number | null): string {
  if (value === null) return '–';
  if (name === 'breakerOpen') return value >= 1 ? 'open' : 'closed';
  if (name.toLowerCase().includes('p99') || name.toLowerCase().includes('latency')) return ms(value);
  return percent(value, 2);
}

function Migration(props: { migration: MigrationStatus }) {
  const m = props.migration;
  const [draft, setDraft] = useState<string | null>(null);
  const apply = useAction();
  const value = draft ?? String(m.configuredWeight);
  const parsed = Number(value);
  const valid = value.trim() !== '' && Number.isInteger(parsed) && parsed >= 0 && parsed <= 100;
  const total = m.requests.legacy + m.requests.candidate;
  const candidateShare = total > 0 ? m.requests.candidate / total : 0;
  const id = m.routeId;

  return (
    <Panel
      title={
        <>
          Route <code>{id}</code>{' '}
          {m.rolledBack !== undefined ? (
            <Badge tone="bad">rolled back</Badge>
          ) : (
            <Badge tone="info">{m.weight} % to candidate</Badge>
          )}
        </>
      }
      testId={`migration-${id}`}
    >
      {m.rolledBack !== undefined && (
        <div class="error-box" data-testid={`rollback-${id}`} role="alert">
          Rolled back at {m.rolledBack.at} by the <strong>{m.rolledBack.guard}</strong> guard:{' '}
          {m.rolledBack.detail}. All traffic goes to legacy; applying a weight resumes the migration.
        </div>
      )}
      <div class="columns">
        <div>
          <h3>Weight</h3>
          <p class="small">
            In effect <strong data-testid={`weight-effective-${id}`}>{m.weight}</strong> % · configured{' '}
            {m.configuredWeight} %
          </p>
          <form
            class="weight-form"
            onSubmit={(e) => {
              e.preventDefault();
              if (!valid) return;
              void apply.run(async () => {
                await api('PUT', `/migrations/${seg(id)}/weight`, { weight: parsed });
                setDraft(null);
                return `weight set to ${parsed} %`;
              });
            }}
          >
            <input
              type="range"
              min="0"
              max="100"
              step="1"
              value={valid ? parsed : m.configuredWeight}
              data-testid={`weight-slider-${id}`}
              aria-label={`weight of ${id}`}
              onInput={(e) => setDraft(e.currentTarget.value)}
            />
            <input
              type="number"
              min="0"
              max="100"
              step="1"
              value={value}
              data-testid={`weight-${id}`}
              aria-label={`weight of ${id} in percent`}
              onInput={(e) => setDraft(e.currentTarget.value)}
            />
            <span>%</span>
            <button type="submit" data-testid={`apply-weight-${id}`} disabled={!valid || apply.pending}>
              Apply
            </button>
            <ActionStatus action={apply} testId={`weight-status-${id}`} />
          </form>
          {!valid && <p class="error-text">The weight is a whole number from 0 to 100.</p>}

          <h3>Traffic split</h3>
          <div
            class="split"
            data-testid={`split-${id}`}
            data-legacy={m.requests.legacy}
            data-candidate={m.requests.candidate}
          >
            <span>
              legacy <strong data-testid={`split-legacy-${id}`}>{m.requests.legacy}</strong>
            </span>
            <span>
              candidate <strong data-testid={`split-candidate-${id}`}>{m.requests.candidate}</strong>
            </span>
            <span class="muted">({percent(candidateShare)} candidate)</span>
          </div>
          <div class="split-bar" aria-hidden="true">
            {total > 0 && <i class="legacy" style={{ width: `${(1 - candidateShare) * 100}%` }} />}
            {total > 0 && <i class="candidate" style={{ width: `${candidateShare * 100}%` }} />}
          </div>

          <h3>Guards</h3>
          {m.guards.length === 0 ? (
            <p class="muted">No guards.</p>
          ) : (
            <table>
              <thead>
                <tr>
                  <th>guard</th>
                  <th class="num">value</th>
                  <th class="num">threshold</th>
                  <th class="num">samples</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {m.guards.map((g) => (
                  <tr key={g.name} data-testid={`guard-${id}-${g.name}`} data-tripped={g.tripped}>
                    <td>{g.name}</td>
                    <td class="num">{guardValue(g.name, g.value)}</td>
                    <td class="num">{g.name === 'breakerOpen' ? 'open' : guardValue(g.name, g.threshold)}</td>
                    <td class="num">
                      {g.samples === undefined
                        ? '–'
                        : `${count(g.samples)}${g.minSamples !== undefined ? ` / ${g.minSamples} min` : ''}`}
                    </td>
                    <td>{g.tripped ? <Badge tone="bad">tripped</Badge> : <Badge tone="ok">ok</Badge>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
        <Shadow migration={m} />
      </div>
    </Panel>
  );
}

/** Shadow comparison counters and the latest mismatch samples. */
function Shadow(props: { migration: MigrationStatus }) {
  const { shadow, routeId: id } = props.migration;
  const [open, setOpen] = useState(0);
  if (shadow === undefined) {
    return (
      <div>
        <h3>Shadow traffic</h3>
        <p class="muted">This route mirrors no traffic to the candidate.</p>
      </div>
    );
  }
  const sample = shadow.samples[open] ?? shadow.samples[0];
  return (
    <div data-testid={`shadow-${id}`}>
      <h3>Shadow traffic</h3>
      <div class="facts">
        <span>
          compared <strong data-testid={`shadow-compared-${id}`}>{count(shadow.compared)}</strong>
        </span>
        <span>
          mismatches <strong data-testid={`shadow-mismatches-${id}`}>{count(shadow.mismatches)}</strong>
        </span>
        <span>
          rate <strong>{percent(shadow.mismatchRate, 2)}</strong>
        </span>
      </div>
      {shadow.samples.length === 0 ? (
        <p class="muted">No mismatch sampled.</p>
      ) : (
        <>
          <div class="sample-tabs">
            {shadow.samples.map((s, i) => (
              <button
                type="button"
                key={`${s.at}-${s.method}-${s.path}`}
                class={i === open ? 'active' : ''}
                onClick={() => setOpen(i)}
                data-testid={`shadow-sample-${id}-${i}`}
              >
                {s.method || '?'} {s.path || '(no path)'}
              </button>
            ))}
          </div>
          {sample !== undefined && (
            <div class="sample" data-testid={`shadow-sample-details-${id}`}>
              <p class="small muted">{sample.at}</p>
              <h4>differences</h4>
              <table>
                <thead>
                  <tr>
                    <th>path</th>
                    <th>legacy</th>
                    <th>candidate</th>
                  </tr>
                </thead>
                <tbody>
                  {sample.differences.map((d) => (
                    <tr key={d.path}>
                      <td>
                        <code>{d.path}</code>
                      </td>
                      <td>
                        <code>{inline(d.primary)}</code>
                      </td>
                      <td>
                        <code>{inline(d.candidate)}</code>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <div class="columns">
                <div>
                  <h4>legacy (served) · {sample.primary.status}</h4>
                  <JsonBlock value={sample.primary.body} />
                </div>
                <div>
                  <h4>candidate (shadow) · {sample.candidate.status}</h4>
                  <JsonBlock value={sample.candidate.body} />
                </div>
              </div>
            </div>
          )}
        </>
      )}
    </div>
  );
}
