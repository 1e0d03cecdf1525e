import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  type Discovery,
  discovery,
  isDiscoveryConfigError,
  isUnknownServiceError,
  serviceUrlVariable,
  UnknownServiceError,
} from './discovery.js';

const dir = mkdtempSync(join(tmpdir(), 'flotilla-discovery-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
function topologyFile(content: unknown): string {
  const file = join(dir, `topology-${files++}.json`);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

/** Replaces `file` atomically, as a supervisor does (write a temporary file, rename it over). */
function rewrite(file: string, content: unknown): void {
  const temporary = `${file}.tmp`;
  writeFileSync(temporary, JSON.stringify(content));
  renameSync(temporary, file);
}

/**
 * Resolves with `pending`, holding the event loop open meanwhile: discovery's watcher does not
 * keep a process alive on its own.
 */
async function awaitWatcher<T>(pending: Promise<T>): Promise<T> {
  const keepAlive = setInterval(() => {}, 60_000);
  try {
    return await pending;
  } finally {
    clearInterval(keepAlive);
  }
}

function nextChange(found: Discovery): Promise<readonly string[]> {
  return awaitWatcher(
    new Promise((resolve) => {
      const subscription = found.onChange?.((services) => {
        subscription?.dispose();
        resolve(services);
      });
    }),
  );
}

describe('discovery', () => {
  it('names the variable of a service', () => {
    assert.equal(serviceUrlVariable('payment'), 'FLOTILLA_PAYMENT_URL');
    assert.equal(serviceUrlVariable('legacy-shop.v2'), 'FLOTILLA_LEGACY_SHOP_V2_URL');
  });

  it('reads comma-separated instances from FLOTILLA_<SERVICE>_URL', () => {
    const found = discovery({
      env: { FLOTILLA_LEGACY_SHOP_URL: 'http://127.0.0.1:7101/, http://127.0.0.1:7102' },
    });
    assert.deepEqual(found.resolve('legacy-shop'), ['http://127.0.0.1:7101', 'http://127.0.0.1:7102']);
  });

  it('prefers the environment over the topology file, and the topology over DNS', () => {
    const file = topologyFile({
      services: {
        payment: { urls: ['http://127.0.0.1:7201'] },
        inventory: { urls: ['http://127.0.0.1:7202'] },
      },
    });
    const found = discovery({
      topology: file,
      env: { FLOTILLA_PAYMENT_URL: 'http://10.0.0.5:8080', FLOTILLA_DISCOVERY: 'dns' },
    });
    assert.deepEqual(found.resolve('payment'), ['http://10.0.0.5:8080']);
    assert.deepEqual(found.resolve('inventory'), ['http://127.0.0.1:7202']);
    assert.deepEqual(found.resolve('shipping'), ['http://shipping:8080']);
    found.close?.();
  });

  it('takes the topology file from FLOTILLA_TOPOLOGY', () => {
    const file = topologyFile({ services: { order: { urls: ['http://127.0.0.1:7301'] } } });
    const found = discovery({ env: { FLOTILLA_TOPOLOGY: file } });
    assert.deepEqual(found.resolve('order'), ['http://127.0.0.1:7301']);
    found.close?.();
  });

  it('accepts a topology object', () => {
    const found = discovery({
      topology: { services: { order: { urls: ['https://order.internal'] } } },
      env: {},
    });
    assert.deepEqual(found.resolve('order'), ['https://order.internal']);
  });

  it('uses FLOTILLA_DNS_PORT for DNS names', () => {
    const found = discovery({ env: { FLOTILLA_DISCOVERY: 'dns', FLOTILLA_DNS_PORT: '3000' } });
    assert.deepEqual(found.resolve('payment'), ['http://payment:3000']);
  });

  it('throws UnknownServiceError saying what to set', () => {
    const file = topologyFile({ services: {} });
    const found = discovery({ topology: file, env: {} });
    const err = (() => {
      try {
        found.resolve('payment');
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    assert.ok(err instanceof UnknownServiceError);
    assert.ok(isUnknownServiceError(err));
    assert.equal(err.code, 'UNKNOWN_SERVICE');
    assert.equal(err.service, 'payment');
    assert.match(err.message, /set FLOTILLA_PAYMENT_URL/);
    assert.ok(err.message.includes(`services."payment".urls to the topology file ${file}`));
    assert.match(err.message, /FLOTILLA_DISCOVERY=dns/);
    found.close?.();
  });

  it('suggests FLOTILLA_TOPOLOGY when there is no topology', () => {
    assert.throws(
      () => discovery({ env: {} }).resolve('order'),
      /point FLOTILLA_TOPOLOGY at a topology file/,
    );
  });

  it('names the bad key of an invalid topology', () => {
    const file = topologyFile({
      services: {
        payment: { urls: ['http://127.0.0.1:7201', 'ftp://nope'] },
        order: { urls: [] },
        shipping: { url: 'http://127.0.0.1:7203' },
      },
    });
    assert.throws(
      () => discovery({ topology: file, env: {} }),
      (err: unknown) => {
        assert.ok(isDiscoveryConfigError(err));
        const message = (err as Error).message;
        assert.ok(message.startsWith(`topology file ${file} is invalid:`), message);
        assert.match(
          message,
          /services\.payment\.urls\[1\]: must be an http\(s\) base URL .*, got "ftp:\/\/nope"/,
        );
        assert.match(message, /services\.order\.urls: must list at least one URL/);
        assert.match(message, /services\.shipping: Unrecognized key: "url"/);
        return true;
      },
    );
  });

  it('reports unreadable and malformed topology files', () => {
    assert.throws(
      () => discovery({ env: { FLOTILLA_TOPOLOGY: join(dir, 'missing.json') } }),
      /cannot read the topology file .*missing\.json \(from FLOTILLA_TOPOLOGY\)/,
    );
    const file = topologyFile('{ "services": ');
    assert.throws(() => discovery({ topology: file, env: {} }), /topology file .* is not valid JSON/);
  });

  it('rejects bad variables by name', () => {
    assert.throws(
      () => discovery({ env: { FLOTILLA_PAYMENT_URL: 'localhost:7101' } }).resolve('payment'),
      /FLOTILLA_PAYMENT_URL must be comma-separated http\(s\) base URLs .*, got "localhost:7101"/,
    );
    assert.throws(
      () => discovery({ env: { FLOTILLA_DISCOVERY: 'consul' } }),
      /FLOTILLA_DISCOVERY must be 'dns' or 'static', got "consul"/,
    );
    assert.throws(
      () => discovery({ env: { FLOTILLA_DISCOVERY: 'dns', FLOTILLA_DNS_PORT: '80a' } }),
      /FLOTILLA_DNS_PORT must be an integer in 1..65535, got "80a"/,
    );
  });

  it('re-reads the topology file when a supervisor moves a service', async () => {
    const file = topologyFile({
      services: { payment: { urls: ['http://127.0.0.1:7201'] }, order: { urls: ['http://127.0.0.1:7301'] } },
    });
    const found = discovery({ topology: file, env: {} });
    after(() => found.close?.());
    const changed = nextChange(found);
    rewrite(file, {
      services: {
        payment: { urls: ['http://127.0.0.1:7211', 'http://127.0.0.1:7212'] },
        order: { urls: ['http://127.0.0.1:7301'] },
      },
    });
    assert.deepEqual(await changed, ['payment']);
    assert.deepEqual(found.resolve('payment'), ['http://127.0.0.1:7211', 'http://127.0.0.1:7212']);
    assert.deepEqual(found.resolve('order'), ['http://127.0.0.1:7301']);
  });

  it('keeps the last good topology while the file is invalid', async () => {
    const file = topologyFile({ services: { payment: { urls: ['http://127.0.0.1:7201'] } } });
    let reportError!: (err: unknown) => void;
    const failed = new Promise((resolve) => (reportError = resolve));
    const found = discovery({ topology: file, env: {}, onReloadError: (err) => reportError(err) });
    after(() => found.close?.());
    writeFileSync(file, '{ "services": { "payment": ');
    const err = await awaitWatcher(failed);
    assert.ok(isDiscoveryConfigError(err));
    assert.match((err as Error).message, /is not valid JSON/);
    assert.deepEqual(found.resolve('payment'), ['http://127.0.0.1:7201']);
  });
});
