import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { privateStream, requireNats } from './testing/nats-helpers.js';
import { transportFromUrl } from './transport-from-url.js';

const natsSkip = await requireNats();

describe('transportFromUrl', () => {
  it('opens the memory transport for memory:', async () => {
    const transport = await transportFromUrl('memory:');
    assert.equal(transport.kind, 'memory');
    await transport.close();
  });

  it('opens the embedded log at the path of embedded:<path>', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'flotilla-url-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'data', 'bus.db');
    const transport = await transportFromUrl(`embedded:${path}`);
    t.after(() => transport.close());
    assert.equal(transport.kind, 'embedded');
    assert.ok(existsSync(path));
  });

  it('puts the embedded log at .flotilla/data/bus.db when embedded: names no path', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'flotilla-url-'));
    const cwd = process.cwd();
    process.chdir(dir);
    t.after(() => {
      process.chdir(cwd);
      rmSync(dir, { recursive: true, force: true });
    });
    const transport = await transportFromUrl('embedded:');
    await transport.close();
    assert.ok(existsSync(join(dir, '.flotilla', 'data', 'bus.db')));
  });

  it('connects to NATS for nats://host:port', { skip: natsSkip }, async (t) => {
    const stream = privateStream();
    t.after(() => stream.remove());
    const transport = await transportFromUrl(stream.servers, {
      nats: { stream: stream.stream, subjectPrefix: stream.subjectPrefix },
    });
    t.after(() => transport.close());
    assert.equal(transport.kind, 'nats');
    await transport.check(AbortSignal.timeout(5000));
  });

  it('rejects an unknown scheme, naming the accepted ones', async () => {
    await assert.rejects(
      transportFromUrl('kafka://127.0.0.1:9092'),
      /unknown transport URL "kafka:\/\/127.0.0.1:9092"; use memory:, embedded:<path> or nats:\/\/host:port/,
    );
    await assert.rejects(transportFromUrl('bus.db'), /unknown transport URL/);
  });

  it('rejects a malformed NATS URL and anything after memory:', async () => {
    await assert.rejects(transportFromUrl('nats://a b'), /is not a NATS server URL/);
    await assert.rejects(transportFromUrl('memory:x'), /memory: takes nothing after the colon/);
  });
});
