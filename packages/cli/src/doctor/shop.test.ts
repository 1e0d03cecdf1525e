import assert from 'node:assert/strict';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadSystem } from '../load-system.js';
import { runDoctor } from './run-doctor.js';

const shop = fileURLToPath(new URL('../../../../apps/shop/flotilla.system.ts', import.meta.url));

it('finds no error in the shop, and the known warnings only', async () => {
  const report = await runDoctor(await loadSystem(shop));
  assert.deepEqual(
    report.findings.filter((f) => f.severity === 'error'),
    [],
  );
  // Both are dependsOn lists of three or more critical services (start order, see docs/doctor.md).
  assert.deepEqual(
    report.findings.filter((f) => f.severity === 'warn').map((f) => `${f.id} ${f.services[0]}`),
    ['readiness-fan-in order', 'readiness-fan-in gateway'],
  );
});
