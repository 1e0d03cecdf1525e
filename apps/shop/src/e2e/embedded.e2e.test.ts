// The whole shop end to end in its single-machine mode (SQLite files, the embedded event log),
// started from flotilla.system.ts as `npm start` runs it: the order flow, the payment service
// down, and bad input at every public route. One shop serves every test of this file; the
// scenarios do not depend on each other's order.
import { after, before, describe } from 'node:test';
import { badInputScenarios } from './bad-input-scenarios.js';
import { FAILURE_ENV, paymentOutageScenarios } from './failure-scenarios.js';
import { orderScenarios } from './order-scenarios.js';
import { type Shop, startShop } from './shop-harness.js';

describe('the shop, embedded', () => {
  let shop: Shop | undefined;
  const current = (): Shop => {
    if (shop === undefined) throw new Error('the shop did not start');
    return shop;
  };

  before(async () => {
    shop = await startShop({ mode: 'embedded', env: FAILURE_ENV });
  });
  after(async () => {
    await shop?.close();
  });

  describe('orders', () => orderScenarios(current));
  describe('failures', () => paymentOutageScenarios(current));
  describe('bad input', () => badInputScenarios(current));
});
