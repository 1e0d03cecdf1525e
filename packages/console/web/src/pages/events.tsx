// Events: throughput per event type, consumer groups with lag, outbox backlogs, and the dead
// letters with inspect, replay and discard.
import { useEffect, useRef, useState } from 'preact/hooks';
import type { ConsoleDeadLetter, ConsoleDeadLetterList, ConsoleSnapshot } from '../../../src/contract.js';
import { api, seg } from '../api.js';
import { ActionStatus, Badge, ErrorBox, JsonBlock, Panel, Waiting } from '../components.js';
import { count, dateTime, ms, rate } from '../format.js';
import { useAction, usePoll } from '../hooks.js';

/** The events page. */
export function EventsPage(props: { snapshot: ConsoleSnapshot | null }) {
  const { snapshot } = props;
  if (snapshot === null) return <Waiting />;
  const { events } = snapshot;
  const maxRate = Math.max(1, ...events.types.flatMap((t) => [t.publishedPerSec, t.consumedPerSec]));
  return (
    <div class="events">
      <div class="columns">
        <Panel title={`Throughput per event type (last ${ms(snapshot.windowMs)})`} testId="event-types">
          {events.types.length === 0 ? (
            <p class="muted">No events in the window.</p>
          ) : (
            <table>
              <thead>
                <tr>
                  <th>type</th>
                  <th class="num">published/s</th>
                  <th class="num">consumed/s</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {[...events.types]
                  .sort((a, b) => a.type.localeCompare(b.type))
                  .map((t) => (
                    <tr key={t.type} data-testid={`event-type-${t.type}`}>
                      <td>{t.type}</td>
                      <td class="num">{rate(t.publishedPerSec)}</td>
                      <td class="num">{rate(t.consumedPerSec)}</td>
                      <td class="bars">
                        <span class="hbar pub" style={{ width: `${(t.publishedPerSec / maxRate) * 100}%` }} />
                        <span class="hbar con" style={{ width: `${(t.consumedPerSec / maxRate) * 100}%` }} />
                      </td>
                    </tr>
                  ))}
              </tbody>
            </table>
          )}
        </Panel>
        <Panel title="Outboxes" testId="outboxes">
          {events.outboxes.length === 0 ? (
            <p class="muted">No service reports an outbox.</p>
          ) : (
            <table>
              <thead>
                <tr>
                  <th>service</th>
                  <th class="num">backlog</th>
                  <th class="num">oldest</th>
                </tr>
              </thead>
              <tbody>
                {events.outboxes.map((o) => (
                  <tr key={o.service} data-testid={`outbox-${o.service}`} data-backlog={o.backlog}>
                    <td>{o.service}</td>
                    <td class={`num ${o.backlog > 0 ? 'warn-text' : ''}`}>{count(o.backlog)}</td>
                    <td class="num">{ms(o.oldestAgeMs)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Panel>
      </div>
      <Panel title="Consumer groups" testId="event-groups">
        {events.groups.length === 0 ? (
          <p class="muted">No consumer groups reported.</p>
        ) : (
          <table>
            <thead>
              <tr>
                <th>service</th>
                <th>group</th>
                <th class="num">handled</th>
                <th class="num">failed</th>
                <th class="num">duplicates</th>
                <th class="num">dead-lettered</th>
                <th class="num">lag</th>
                <th class="num">p99</th>
              </tr>
            </thead>
            <tbody>
              {events.groups.map((g) => (
                <tr
                  key={`${g.service}/${g.group}`}
                  data-testid="group-row"
                  data-service={g.service}
                  data-group={g.group}
                  data-lag={g.lag ?? ''}
                >
                  <td>{g.service}</td>
                  <td>{g.group}</td>
                  <td class="num">{count(g.handled)}</td>
                  <td class={`num ${g.failed > 0 ? 'bad-text' : ''}`}>{count(g.failed)}</td>
                  <td class="num">{count(g.duplicates)}</td>
                  <td class={`num ${g.deadLettered > 0 ? 'bad-text' : ''}`}>{count(g.deadLettered)}</td>
                  <td class={`num ${(g.lag ?? 0) > 0 ? 'warn-text' : ''}`}>
                    {g.lag === null ? 'n/a' : count(g.lag)}
                  </td>
                  <td class="num">{ms(g.p99Ms)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Panel>
      <DeadLetters waiting={events.deadLetters} />
    </div>
  );
}

const letterKey = (d: ConsoleDeadLetter): string => `${d.service}/${d.id}`;

/** The dead letters: listed when their count changes (and every 10 s), inspected one at a time. */
function DeadLetters(props: { waiting: number }) {
  const list = usePoll<ConsoleDeadLetterList>('/dead-letters', 10_000);
  const [inspected, setInspected] = useState<ConsoleDeadLetter | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  const action = useAction();
  const { reload } = list;

  // The snapshot's count moved: read the list again.
  const seen = useRef(props.waiting);
  useEffect(() => {
    if (seen.current === props.waiting) return;
    seen.current = props.waiting;
    reload();
  }, [props.waiting, reload]);

  const act = (d: ConsoleDeadLetter, verb: 'replay' | 'discard'): void => {
    setConfirming(null);
    void action.run(async () => {
      await api('POST', `/dead-letters/${seg(d.service)}/${seg(d.id)}/${verb}`);
      if (inspected !== null && letterKey(inspected) === letterKey(d)) setInspected(null);
      reload();
      return `${verb === 'replay' ? 'replayed' : 'discarded'} ${d.eventType} ${d.id}`;
    });
  };

  return (
    <Panel
      title={
        <>
          Dead letters <Badge tone={props.waiting > 0 ? 'bad' : 'ok'}>{props.waiting}</Badge>
        </>
      }
      testId="dead-letters"
      actions={<ActionStatus action={action} testId="dead-letter-status" />}
    >
      <ErrorBox message={list.error} testId="dead-letters-error" />
      {inspected !== null && <Inspect letter={inspected} onClose={() => setInspected(null)} />}
      {list.data !== null && list.data.items.length === 0 && <p class="muted">No dead letters.</p>}
      {list.data !== null && list.data.items.length > 0 && (
        <table>
          <thead>
            <tr>
              <th>service</th>
              <th>event</th>
              <th>group</th>
              <th>reason</th>
              <th class="num">attempts</th>
              <th>error</th>
              <th class="num">dead-lettered</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {list.data.items.map((d) => (
              <tr key={letterKey(d)} data-testid="dead-letter-row" data-id={d.id} data-service={d.service}>
                <td>{d.service}</td>
                <td>
                  {d.eventType} <span class="muted small">{d.subject}</span>
                </td>
                <td>{d.group}</td>
                <td>{d.reason}</td>
                <td class="num">{d.attempts}</td>
                <td class="error-text">{d.error === null ? '' : `${d.error.name}: ${d.error.message}`}</td>
                <td>{dateTime(d.deadLetteredAt)}</td>
                <td class="row-actions">
                  <button type="button" data-testid={`inspect-${d.id}`} onClick={() => setInspected(d)}>
                    Inspect
                  </button>
                  <button
                    type="button"
                    data-testid={`replay-${d.id}`}
                    disabled={action.pending}
                    onClick={() => act(d, 'replay')}
                  >
                    Replay
                  </button>
                  {confirming === letterKey(d) ? (
                    <button
                      type="button"
                      class="danger"
                      data-testid={`confirm-discard-${d.id}`}
                      disabled={action.pending}
                      onClick={() => act(d, 'discard')}
                    >
                      Discard for good?
                    </button>
                  ) : (
                    <button
                      type="button"
                      data-testid={`discard-${d.id}`}
                      onClick={() => setConfirming(letterKey(d))}
                    >
                      Discard
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Panel>
  );
}

/** One dead letter with its payload, read from the API. */
function Inspect(props: { letter: ConsoleDeadLetter; onClose: () => void }) {
  const { letter } = props;
  const details = usePoll<ConsoleDeadLetter>(`/dead-letters/${seg(letter.service)}/${seg(letter.id)}`, 0);
  return (
    <div class="inspect" data-testid="dead-letter-details">
      <header class="panel-head">
        <h3>
          {letter.eventType} <code>{letter.eventId}</code> <span class="muted">on {letter.service}</span>
        </h3>
        <button type="button" onClick={props.onClose} data-testid="dead-letter-close">
          Close
        </button>
      </header>
      <ErrorBox message={details.error} />
      <div class="columns">
        <div>
          <h4>error</h4>
          <JsonBlock value={(details.data ?? letter).error ?? 'none recorded'} testId="dead-letter-error" />
          <p class="small">
            reason {letter.reason} · {letter.attempts} attempts · group {letter.group} · subject{' '}
            {letter.subject}
          </p>
        </div>
        <div>
          <h4>payload</h4>
          {details.data === null ? (
            <p class="muted">loading…</p>
          ) : (
            <JsonBlock value={details.data.payload} testId="dead-letter-payload" />
          )}
        </div>
      </div>
    </div>
  );
}
