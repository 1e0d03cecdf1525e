// Small pieces the pages share.
import type { ComponentChildren } from 'preact';
import { json } from './format.js';
import type { Action } from './hooks.js';

/** A coloured label, e.g. a breaker state or an instance state. */
export function Badge(props: { tone: string; children: ComponentChildren; testId?: string; title?: string }) {
  return (
    <span class={`badge tone-${props.tone}`} data-testid={props.testId} title={props.title}>
      {props.children}
    </span>
  );
}

/** The outcome of an action beside its button. */
export function ActionStatus(props: { action: Action; testId?: string }) {
  const { pending, result } = props.action;
  if (pending) return <span class="action-status pending">working…</span>;
  if (result === null) return null;
  return (
    <span class={`action-status ${result.ok ? 'ok' : 'error'}`} data-testid={props.testId} role="status">
      {result.message}
    </span>
  );
}

/** An error message box. */
export function ErrorBox(props: { message: string | null; testId?: string }) {
  if (props.message === null) return null;
  return (
    <div class="error-box" data-testid={props.testId} role="alert">
      {props.message}
    </div>
  );
}

/** A pretty-printed JSON value. */
export function JsonBlock(props: { value: unknown; testId?: string }) {
  return (
    <pre class="json" data-testid={props.testId}>
      {json(props.value)}
    </pre>
  );
}

/** A titled panel. */
export function Panel(props: {
  title: ComponentChildren;
  children: ComponentChildren;
  testId?: string;
  actions?: ComponentChildren;
}) {
  return (
    <section class="panel" data-testid={props.testId}>
      <header class="panel-head">
        <h2>{props.title}</h2>
        {props.actions}
      </header>
      {props.children}
    </section>
  );
}

/** What a page shows before the first snapshot arrives. */
export function Waiting() {
  return <p class="muted">Waiting for the first snapshot from the system…</p>;
}
