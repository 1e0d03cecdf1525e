import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Scope } from './context.js';

describe('Scope', () => {
  it('creates no AbortController until the signal is read', () => {
    const child = Scope.root(undefined).child();
    assert.equal(child.aborted, false);
    child.abort(new Error('x'));
    assert.equal(child.aborted, true);
    assert.equal(child.signal.aborted, true);
    assert.equal((child.signal.reason as Error).message, 'x');
  });

  it("aborts a child's signal when the caller's signal aborts, with the caller's reason", () => {
    const caller = new AbortController();
    const child = Scope.root(caller.signal).child();
    const signal = child.signal;
    caller.abort('bye');
    assert.equal(signal.aborted, true);
    assert.equal(signal.reason, 'bye');
    assert.equal(child.reason, 'bye');
  });

  it('does not abort the parent when a child aborts', () => {
    const caller = new AbortController();
    const root = Scope.root(caller.signal);
    const child = root.child();
    child.abort('only me');
    assert.equal(root.aborted, false);
    assert.equal(caller.signal.aborted, false);
  });

  it('stops listening to the parent once disposed', () => {
    const caller = new AbortController();
    const child = Scope.root(caller.signal).child();
    const signal = child.signal;
    child.dispose();
    caller.abort('late');
    assert.equal(signal.aborted, false);
  });

  it('mirrors its parent for another attempt number', () => {
    const caller = new AbortController();
    const root = Scope.root(caller.signal);
    const second = root.withAttempt(2);
    assert.equal(second.attempt, 2);
    assert.equal(second.signal, caller.signal);
    assert.equal(root.withAttempt(1), root);
  });

  it('calls onAbort listeners once, or at once when already aborted', () => {
    const child = Scope.root(undefined).child();
    const reasons: unknown[] = [];
    child.onAbort((r) => reasons.push(r));
    child.abort('first');
    child.abort('second');
    child.onAbort((r) => reasons.push(`late:${String(r)}`));
    assert.deepEqual(reasons, ['first', 'late:first']);
  });

  it('never listens on a parent that cannot abort', () => {
    const root = Scope.root(undefined);
    const children = Array.from({ length: 50 }, () => root.child());
    for (const c of children) assert.equal(c.signal.aborted, false);
    children[0]?.abort('one');
    assert.equal(children[0]?.signal.aborted, true);
    assert.equal(children[1]?.signal.aborted, false);
    assert.notEqual(root.signal, root.signal, 'an uncancellable root hands out a fresh signal per read');
  });

  it('is cancellable only with a caller signal or an abortable ancestor', () => {
    assert.equal(Scope.root(undefined).cancellable, false);
    assert.equal(Scope.root(undefined).withAttempt(2).cancellable, false);
    assert.equal(Scope.root(new AbortController().signal).cancellable, true);
    assert.equal(Scope.root(undefined).child().withAttempt(3).cancellable, true);
  });
});
