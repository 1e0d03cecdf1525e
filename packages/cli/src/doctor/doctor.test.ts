import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runCli } from '../fixtures/harness.js';
import { loadSystem } from '../load-system.js';
import { atLeast, type Finding } from './finding.js';
import { type DoctorOptions, runDoctor } from './run-doctor.js';
import { parseTraces } from './trace-file.js';

const fixture = (name: string) =>
  fileURLToPath(new URL(`./fixtures/${name}/flotilla.system.ts`, import.meta.url));
const tracesFile = fileURLToPath(new URL('./fixtures/traces/spans.json', import.meta.url));

async function doctor(name: string, options: DoctorOptions = {}): Promise<readonly Finding[]> {
  return (await runDoctor(await loadSystem(fixture(name)), options)).findings;
}

function only(findings: readonly Finding[], id: string): Finding {
  const matching = findings.filter((f) => f.id === id);
  assert.equal(matching.length, 1, `one ${id} finding, got ${JSON.stringify(findings, null, 2)}`);
  return matching[0]!;
}

const places = (f: Finding) => f.evidence.map((e) => `${e.file}:${e.line}`);

describe('flotilla doctor', () => {
  it('finds nothing at warn or above in a clean system', async () => {
    const findings = await doctor('clean');
    assert.deepEqual(
      findings.filter((f) => atLeast(f.severity, 'warn')),
      [],
    );
  });

  it('reports two services on one database, with the variables of the profile', async () => {
    const f = only(await doctor('shared-database'), 'shared-database');
    assert.equal(f.severity, 'error');
    assert.deepEqual(f.services, ['order', 'payment']);
    assert.match(f.message, /profile pg/);
    assert.deepEqual(
      f.evidence.map((e) => e.detail.split(' = ')[0]),
      ['FLOTILLA_DATABASE_URL_PAYMENT', 'FLOTILLA_DATABASE_URL_ORDER'],
    );
    assert.doesNotMatch(JSON.stringify(f), /secret/, 'passwords are not shown');
  });

  it("reports a service importing another service's folder and naming its tables", async () => {
    const findings = await doctor('shared-database');
    const imported = only(findings, 'cross-service-import');
    assert.deepEqual(imported.services, ['order', 'payment']);
    assert.deepEqual(places(imported), ['services/order/main.js:2']);
    const table = only(findings, 'foreign-table');
    assert.deepEqual(places(table), ['services/order/main.js:8']);
    assert.match(table.evidence[0]!.detail, /table payments/);
  });

  it('reports fetch, undici and node:http calls with file and line, not commented ones', async () => {
    const f = only(await doctor('raw-http'), 'raw-http');
    assert.equal(f.severity, 'warn');
    assert.deepEqual(places(f), [
      'services/mailer/main.js:3',
      'services/mailer/main.js:7',
      'services/mailer/main.js:12',
      'services/mailer/main.js:17',
    ]);
  });

  it('reports a compensation that only logs and a compensatable step after the pivot', async () => {
    const findings = await doctor('saga');
    const noop = only(findings, 'saga-noop-compensation');
    assert.match(noop.message, /step charge/);
    assert.deepEqual(places(noop), ['services/order/main.js:5', 'services/order/main.js:7']);
    const order = only(findings, 'saga-step-order');
    assert.equal(order.severity, 'error');
    assert.match(order.message, /step reserve .* after the pivot step confirm/);
  });

  it('says the saga check was skipped without TypeScript', async () => {
    const findings = await doctor('saga', { typescript: null });
    assert.equal(only(findings, 'saga-check-skipped').severity, 'info');
    assert.equal(
      findings.some((f) => f.id.startsWith('saga-') && f.id !== 'saga-check-skipped'),
      false,
    );
  });

  it('reports a call cycle and an event cycle', async () => {
    const findings = await doctor('cycles');
    const calls = only(findings, 'call-cycle');
    assert.match(calls.message, /a → b → a/);
    assert.deepEqual(places(calls), ['services/a/main.js:1', 'services/b/main.js:1']);
    const events = only(findings, 'event-cycle');
    assert.match(events.message, /c → d → c/);
    assert.match(events.evidence.map((e) => e.detail).join('\n'), /InvoiceSent[\s\S]*PaymentReceived/);
  });

  it('multiplies gateway, client and saga step attempts along the worst path', async () => {
    const f = only(await doctor('retries'), 'retry-amplification');
    assert.equal(f.severity, 'warn');
    assert.match(f.message, /gateway → front → middle → back can make 108 attempts .*\(3 × 3 × 12\)/);
    assert.deepEqual(
      f.evidence.map((e) => e.file),
      ['gateway/config.js', 'services/front/main.js', 'services/middle/main.js'],
    );
    const relaxed = only(await doctor('retries', { retryThreshold: 200 }), 'retry-amplification');
    assert.equal(relaxed.severity, 'info');
  });

  it('reports readiness fan-in and a module holding two services’ domain types', async () => {
    const findings = await doctor('coupling');
    const fanIn = only(findings, 'readiness-fan-in');
    assert.deepEqual(fanIn.services, ['report', 'order', 'payment', 'shipping']);
    const shared = only(findings, 'shared-domain-module');
    assert.deepEqual(shared.services, ['order', 'payment']);
    assert.deepEqual(places(shared), ['shared/domain.js:4', 'shared/domain.js:6']);
  });

  it('reports long synchronous chains and chatty calls from recorded spans', async () => {
    const spans = parseTraces(JSON.parse(readFileSync(tracesFile, 'utf8')));
    const findings = await doctor('clean', { traces: { file: 'spans.json', spans }, chatty: 5 });
    const chain = only(findings, 'long-sync-chain');
    assert.match(chain.message, /4 hops: gateway → front → middle → back → tax/);
    assert.equal(chain.evidence[0]!.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
    const chatty = only(findings, 'chatty-calls');
    assert.match(chatty.message, /front → middle: up to 7 calls/);
    assert.equal(chatty.evidence[0]!.traceId, '0af7651916cd43dd8448eb211c80319c');
    const lenient = await doctor('clean', { traces: { file: 'spans.json', spans }, chatty: 7 });
    assert.equal(
      lenient.some((f) => f.id === 'chatty-calls'),
      false,
    );
  });

  it('exits 1 only for findings at or above --fail-on, and prints JSON with --json', async () => {
    const run = (...args: string[]) => runCli(['doctor', ...args]);
    const warnOnly = fixture('raw-http');
    assert.equal((await run(warnOnly)).code, 0);
    const strict = await run(warnOnly, '--fail-on', 'warn', '--json');
    assert.equal(strict.code, 1);
    assert.equal(JSON.parse(strict.out).findings[0].id, 'raw-http');
    assert.equal((await run(fixture('shared-database'))).code, 1);
    const bad = await run(warnOnly, '--fail-on', 'info');
    assert.equal(bad.code, 2);
    assert.match(bad.err, /--fail-on must be warn or error/);
  });
});
