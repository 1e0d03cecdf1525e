// The console's shell: the token, the live stream, the header, the nav bar and the pages.
import { useEffect, useRef, useState } from 'preact/hooks';
import type { ConsoleSnapshot, ConsoleSupervisorEvent } from '../../src/contract.js';
import { API_BASE, bearer, configureApi } from './api.js';
import { forgetToken, saveToken, takeToken } from './auth.js';
import { ChaosPage } from './pages/chaos.js';
import { EventsPage } from './pages/events.js';
import { MigrationPage } from './pages/migration.js';
import { ResiliencePage } from './pages/resilience.js';
import { SagasPage } from './pages/sagas.js';
import { TopologyPage } from './pages/topology.js';
import { TracesPage } from './pages/traces.js';
import { href, PAGES, parseRoute, type Route } from './route.js';
import { openStream, type StreamState } from './sse.js';

/** A supervisor event as received, with when it arrived. */
export interface ReceivedEvent {
  /** Arrival order, a key for lists. */
  readonly seq: number;
  readonly at: number;
  readonly event: ConsoleSupervisorEvent;
}

/** Supervisor events kept for the topology page's log. */
const KEEP_EVENTS = 100;

/** The whole app: asks for the token when it has none (or it was refused), else shows the console. */
export function App() {
  const [token, setToken] = useState<string | null>(() => takeToken(window));
  const [refused, setRefused] = useState<string | null>(null);
  const tokenRef = useRef(token);
  tokenRef.current = token;

  const refuse = (message: string): void => {
    forgetToken(window);
    setRefused(message);
    setToken(null);
  };
  configureApi({ token: () => tokenRef.current, unauthorized: refuse });

  // A URL with a new `#token=` pasted into this tab replaces the kept token.
  useEffect(() => {
    const onHash = (): void => {
      if (!window.location.hash.includes('token=')) return;
      const next = takeToken(window);
      if (next !== null && next !== tokenRef.current) {
        setRefused(null);
        setToken(next);
      }
    };
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);

  if (token === null) {
    return (
      <TokenForm
        refused={refused}
        onToken={(t) => {
          saveToken(window, t);
          setRefused(null);
          setToken(t);
        }}
      />
    );
  }
  return <Console token={token} onUnauthorized={refuse} />;
}

/** The form asking for the admin token. */
function TokenForm(props: { refused: string | null; onToken: (token: string) => void }) {
  const [value, setValue] = useState('');
  return (
    <main class="token-page">
      <form
        class="token-form"
        data-testid="token-form"
        onSubmit={(e) => {
          e.preventDefault();
          const t = value.trim();
          if (t !== '') props.onToken(t);
        }}
      >
        <h1>Flotilla console</h1>
        <p>
          The console needs the system's admin token. <code>npm start</code> prints the console's address with
          it; open that address, or paste the token here.
        </p>
        {props.refused !== null && (
          <p class="error-box" data-testid="token-refused" role="alert">
            {props.refused}
          </p>
        )}
        <label>
          Admin token
          <input
            type="password"
            autocomplete="off"
            data-testid="token-input"
            value={value}
            onInput={(e) => setValue(e.currentTarget.value)}
          />
        </label>
        <button type="submit" data-testid="token-submit">
          Open the console
        </button>
      </form>
    </main>
  );
}

/** The console once it has a token: the stream, the header and the routed page. */
function Console(props: { token: string; onUnauthorized: (message: string) => void }) {
  const [route, setRoute] = useState<Route>(() => parseRoute(window.location.hash));
  const [snapshot, setSnapshot] = useState<ConsoleSnapshot | null>(null);
  const [stream, setStream] = useState<{ state: StreamState; detail?: string }>({ state: 'connecting' });
  const [events, setEvents] = useState<readonly ReceivedEvent[]>([]);
  const seq = useRef(0);
  const unauthorized = useRef(props.onUnauthorized);
  unauthorized.current = props.onUnauthorized;

  useEffect(() => {
    const onHash = (): void => setRoute(parseRoute(window.location.hash));
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);

  useEffect(() => {
    const handle = openStream({
      url: `${API_BASE}/stream`,
      headers: () => bearer(props.token),
      onState: (state, detail) => {
        if (state === 'unauthorized') unauthorized.current(detail ?? 'the console refused the token');
        setStream(detail === undefined ? { state } : { state, detail });
      },
      onEvent: (event) => {
        if (event.event === 'snapshot') setSnapshot(JSON.parse(event.data) as ConsoleSnapshot);
        else if (event.event === 'supervisor') {
          const parsed = JSON.parse(event.data) as ConsoleSupervisorEvent;
          const received = { seq: seq.current++, at: Date.now(), event: parsed };
          setEvents((list) => [received, ...list].slice(0, KEEP_EVENTS));
        }
      },
    });
    return () => handle.close();
  }, [props.token]);

  const now = snapshot?.at ?? Date.now();
  return (
    <div class="console">
      <Header snapshot={snapshot} stream={stream} />
      <nav class="nav" data-testid="nav">
        {PAGES.map((p) => (
          <a
            key={p.id}
            href={href(p.id)}
            class={route.page === p.id ? 'active' : ''}
            data-testid={`nav-${p.id}`}
            aria-current={route.page === p.id ? 'page' : undefined}
          >
            {p.title}
          </a>
        ))}
      </nav>
      <main class="page" data-testid={`page-${route.page}`}>
        {route.page === 'topology' && <TopologyPage snapshot={snapshot} events={events} />}
        {route.page === 'resilience' && <ResiliencePage snapshot={snapshot} />}
        {route.page === 'sagas' && <SagasPage snapshot={snapshot} params={route.params} now={now} />}
        {route.page === 'traces' && <TracesPage params={route.params} />}
        {route.page === 'events' && <EventsPage snapshot={snapshot} />}
        {route.page === 'migration' && <MigrationPage snapshot={snapshot} />}
        {route.page === 'chaos' && <ChaosPage snapshot={snapshot} />}
      </main>
    </div>
  );
}

const STREAM_LABEL: Record<StreamState, string> = {
  connecting: 'connecting',
  live: 'live',
  reconnecting: 'reconnecting',
  unauthorized: 'token refused',
};

/** System name and profile, connection state and the snapshot's problems. */
function Header(props: {
  snapshot: ConsoleSnapshot | null;
  stream: { state: StreamState; detail?: string };
}) {
  const { snapshot, stream } = props;
  const problems = snapshot?.problems ?? [];
  return (
    <header class="header" data-testid="header">
      <h1>
        <span data-testid="system-name">{snapshot?.system.name ?? 'Flotilla'}</span>
        {snapshot?.system.profile != null && (
          <span class="profile" data-testid="system-profile">
            {snapshot.system.profile}
          </span>
        )}
      </h1>
      <span
        class={`connection conn-${stream.state}`}
        data-testid="connection"
        data-state={stream.state}
        title={stream.detail}
      >
        <i />
        {STREAM_LABEL[stream.state]}
      </span>
      {problems.length === 0 ? (
        <span class="problems none" data-testid="problems" data-count="0">
          no problems
        </span>
      ) : (
        <details class="problems" data-testid="problems" data-count={problems.length}>
          <summary>
            {problems.length} problem{problems.length === 1 ? '' : 's'}
          </summary>
          <ul>
            {problems.map((p) => (
              <li key={`${p.source}:${p.message}`}>
                <strong>{p.source}</strong>: {p.message}
              </li>
            ))}
          </ul>
        </details>
      )}
    </header>
  );
}
