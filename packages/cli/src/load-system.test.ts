import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isSystemDefinitionError } from './errors.js';
import { fixtureEntry, fixturesDir, temporaryDirectory } from './fixtures/harness.js';
import { findSystemFile, loadSystem } from './load-system.js';

describe('loadSystem', () => {
  it('loads a TypeScript system file, with its banner and its named load export', async () => {
    const system = await loadSystem(join(fixturesDir, 'fixture.system.ts'));
    assert.equal(system.name, 'fixture');
    assert.equal(system.file, join(fixturesDir, 'fixture.system.ts'));
    assert.equal(system.baseDir, fixturesDir);
    assert.equal(system.gateway, 'storefront');
    assert.equal(typeof system.load, 'function');
    assert.equal(typeof system.banner, 'function');
    assert.deepEqual(
      system.plan().services.map((s) => [s.name, s.instances.length]),
      [
        ['catalog', 1],
        ['pricing', 1],
        ['storefront', 2],
      ],
    );
    assert.equal(system.plan('single').services[2]?.instances.length, 1);
  });

  it('loads JSON, resolving relative paths against the file', async (t) => {
    const tmp = temporaryDirectory();
    t.after(tmp.remove);
    const file = join(tmp.dir, 'flotilla.system.json');
    writeFileSync(
      file,
      JSON.stringify({
        name: 'json',
        dataDir: 'state',
        services: [{ name: 'catalog', entry: fixtureEntry('catalog.ts'), port: 7101 }],
      }),
    );
    const system = await loadSystem(file);
    assert.equal(system.dataDir, join(tmp.dir, 'state'));
    assert.equal(system.load, undefined);
  });

  it('names the file and the bad key of an invalid system file', async (t) => {
    const tmp = temporaryDirectory();
    t.after(tmp.remove);
    const file = join(tmp.dir, 'bad.system.ts');
    writeFileSync(
      file,
      `export default { name: 'bad', services: [{ name: 'catalog', entry: ${JSON.stringify(fixtureEntry('catalog.ts'))}, port: 70000 }] };\n`,
    );
    await assert.rejects(loadSystem(file), (err) => {
      assert.ok(isSystemDefinitionError(err));
      assert.equal(
        err.message,
        `system file ${file} is invalid:\n  services[0].port: must be an integer from 1 to 65535, got 70000`,
      );
      return true;
    });
  });

  it('reports a missing file, broken JSON and a module without a default export', async (t) => {
    const tmp = temporaryDirectory();
    t.after(tmp.remove);
    await assert.rejects(
      loadSystem(join(tmp.dir, 'nope.ts')),
      /nope\.ts is invalid:\n {2}\(file\): not found/,
    );
    writeFileSync(join(tmp.dir, 'broken.json'), '{ "name": ');
    await assert.rejects(loadSystem(join(tmp.dir, 'broken.json')), /\(file\): not valid JSON/);
    writeFileSync(join(tmp.dir, 'nodefault.mjs'), 'export const name = "x";\n');
    await assert.rejects(
      loadSystem(join(tmp.dir, 'nodefault.mjs')),
      /\(default export\): must be the system definition object/,
    );
    writeFileSync(join(tmp.dir, 'throws.mjs'), 'throw new Error("no config");\n');
    await assert.rejects(loadSystem(join(tmp.dir, 'throws.mjs')), /\(file\): cannot be loaded: no config/);
  });
});

describe('findSystemFile', () => {
  it('takes the given path, then FLOTILLA_SYSTEM, then a conventional name in the directory', (t) => {
    const tmp = temporaryDirectory();
    t.after(tmp.remove);
    assert.equal(findSystemFile('a.ts', {}, tmp.dir), join(tmp.dir, 'a.ts'));
    assert.equal(findSystemFile(undefined, { FLOTILLA_SYSTEM: 'b.json' }, tmp.dir), join(tmp.dir, 'b.json'));
    assert.equal(findSystemFile(undefined, {}, tmp.dir), undefined);
    writeFileSync(join(tmp.dir, 'flotilla.system.json'), '{}');
    assert.equal(findSystemFile(undefined, {}, tmp.dir), join(tmp.dir, 'flotilla.system.json'));
  });
});
