// The web console in real Chromium against the running shop: every page renders with live data,
// killing a service from the console turns its node red and its breaker tile open, and changing
// a migration weight changes the split. Needs Debian's chromium (/usr/bin/chromium) and
// playwright-core; skips loudly without them, fails instead under CI.
//
// FLOTILLA_CONSOLE_SCREENSHOTS=<folder> saves a screenshot of each page there (docs/console).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Shop, startShop, until } from './shop-harness.js';

const CHROMIUM = process.env.FLOTILLA_CHROMIUM ?? '/usr/bin/chromium';
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
const webDir = join(root, 'packages/console/dist/web');
const screenshots = process.env.FLOTILLA_CONSOLE_SCREENSHOTS;

type Playwright = typeof import('playwright-core');
type Browser = Awaited<ReturnType<Playwright['chromium']['launch']>>;
type Page = Awaited<ReturnType<Browser['newPage']>>;

async function loadPlaywright(): Promise<Playwright | string> {
  if (!existsSync(CHROMIUM)) return `no Chromium at ${CHROMIUM} (apt-get install chromium)`;
  try {
    return (await import('playwright-core')) as Playwright;
  } catch (err) {
    return `playwright-core cannot be loaded: ${(err as Error).message}`;
  }
}

const playwright = await loadPlaywright();
const skip = typeof playwright === 'string' ? `console browser tests skipped: ${playwright}` : false;
if (skip !== false) {
  if (process.env.CI !== undefined) throw new Error(`${skip} — CI must run them`);
  console.warn(skip);
}

/** The page's globals, for the functions Playwright runs in the browser (this file has no DOM types). */
interface PageGlobals {
  readonly location: { readonly hash: string };
  readonly document: {
    querySelectorAll(selector: string): { readonly length: number };
    querySelector(selector: string): { readonly textContent: string | null } | null;
  };
}

/** Builds the web app when its bundle is missing (a fresh clone). */
function ensureWebBuilt(): void {
  if (existsSync(join(webDir, 'index.html'))) return;
  // Vite's exports map does not expose its bin script; its package.json names it.
  const manifest = createRequire(join(root, 'packages/console/package.json')).resolve('vite/package.json');
  const { bin } = JSON.parse(readFileSync(manifest, 'utf8')) as { bin: { vite: string } };
  const vite = join(dirname(manifest), bin.vite);
  const built = spawnSync(process.execPath, [vite, 'build', 'web', '--logLevel', 'warn'], {
    cwd: join(root, 'packages/console'),
    encoding: 'utf8',
  });
  if (built.status !== 0) throw new Error(`vite build failed:\n${built.stdout}\n${built.stderr}`);
}

describe('the web console in Chromium', { skip }, () => {
  let shop: Shop;
  let browser: Browser;
  let page: Page;
  let consoleUrl: string;
  let token: string;

  const api = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const res = await fetch(`${shop.running.control.url}/console/api${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const answer = (await res.json()) as unknown;
    if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${JSON.stringify(answer)}`);
    return answer;
  };

  const shot = async (name: string): Promise<void> => {
    if (screenshots === undefined) return;
    mkdirSync(screenshots, { recursive: true });
    await page.screenshot({ path: join(screenshots, `${name}.png`) });
  };

  const open = async (hash: string): Promise<void> => {
    await page.goto(`${shop.running.control.url}/console/${hash}`);
  };

  before(async () => {
    ensureWebBuilt();
    shop = await startShop({ mode: 'embedded', faultProxies: true, logLevel: 'warn' });
    token = shop.running.secrets.FLOTILLA_ADMIN_TOKEN!;
    consoleUrl = `${shop.running.control.url}/console/#token=${token}`;
    browser = await (playwright as Playwright).chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.setDefaultTimeout(20_000);
    page.on('dialog', (dialog) => void dialog.accept());
    // Orders flowing through the system, so every page has something to show.
    await api('POST', '/load', { concurrency: 4 });
  });

  after(async () => {
    await api('DELETE', '/load').catch(() => {});
    await browser?.close();
    await shop?.close();
  });

  it('opens with the token from the link, forgets it from the address bar and draws the topology', async () => {
    await page.goto(consoleUrl);
    await page.waitForFunction(
      () => !(globalThis as unknown as PageGlobals).location.hash.includes('token='),
    );
    for (const service of ['gateway', 'order', 'payment', 'inventory', 'shipping', 'notification', 'legacy'])
      await page.waitForSelector(`[data-testid="node-${service}"][data-health="ready"]`);
    // Edges appear once traffic has been observed.
    await page.waitForFunction(
      () =>
        (globalThis as unknown as PageGlobals).document.querySelectorAll('[data-testid^="edge-"]').length >=
        4,
    );
  });

  it('shows a breaker tile per caller and upstream', async () => {
    await open('#/resilience');
    await page.waitForSelector('[data-testid="tile-order-payment"][data-breaker="closed"]');
    await page.waitForSelector('[data-testid="tile-gateway-order"]');
    await shot('resilience');
  });

  it('lists sagas and shows one saga’s step timeline', async () => {
    await open('#/sagas');
    await page.waitForSelector('[data-testid="saga-row"]');
    await page.click('[data-testid="saga-row"]');
    await page.waitForSelector('[data-testid="saga-timeline"]');
    const text = await page.textContent('[data-testid="saga-timeline"]');
    assert.match(text ?? '', /reserve_inventory/);
    await shot('sagas');
  });

  it('draws the waterfall of one order from the gateway through every service', async () => {
    const list = (await api('GET', '/traces?limit=50')) as { items: { traceId: string; name: string }[] };
    const order = list.items.find((t) => t.name === 'POST /api/v2/orders');
    assert.ok(order !== undefined, `no order trace among ${list.items.map((t) => t.name).join(', ')}`);
    await open(`#/traces/${order.traceId}`);
    await page.waitForSelector('[data-testid="waterfall"]');
    await page.waitForFunction(
      () =>
        (globalThis as unknown as PageGlobals).document.querySelectorAll('[data-testid="span-row"]').length >=
        5,
    );
    const text = await page.textContent('[data-testid="waterfall"]');
    for (const service of ['gateway', 'order', 'inventory', 'payment'])
      assert.match(text ?? '', new RegExp(service));
    await shot('traces');
  });

  it('shows event throughput and consumer groups', async () => {
    await open('#/events');
    await page.waitForSelector('[data-testid="event-type-OrderConfirmed"]');
    await page.waitForSelector('[data-testid="group-row"]');
    await shot('events');
  });

  it('changes a migration weight and the split follows', async () => {
    await open('#/migration');
    await page.waitForSelector('[data-testid="weight-product"]');
    const splitOf = async (): Promise<{ legacy: number; candidate: number }> => {
      const snapshot = (await api('GET', '/snapshot')) as {
        migrations: { routeId: string; weight: number; requests: { legacy: number; candidate: number } }[];
      };
      const product = snapshot.migrations.find((m) => m.routeId === 'product')!;
      return { ...product.requests };
    };
    await page.fill('[data-testid="weight-product"]', '100');
    await page.click('[data-testid="apply-weight-product"]');
    await until('the product split at 100', async () => {
      const snapshot = (await api('GET', '/snapshot')) as {
        migrations: { routeId: string; weight: number }[];
      };
      return snapshot.migrations.find((m) => m.routeId === 'product')?.weight === 100 ? true : undefined;
    });
    const before = await splitOf();
    for (let i = 0; i < 20; i++)
      assert.equal((await shop.request('GET', '/api/v2/products/TEA-001')).status, 200);
    const after = await splitOf();
    assert.equal(after.candidate - before.candidate, 20);
    assert.equal(after.legacy, before.legacy);
    // The page shows the new split.
    await page.waitForFunction(
      (n) =>
        (
          (globalThis as unknown as PageGlobals).document.querySelector('[data-testid="split-product"]')
            ?.textContent ?? ''
        ).includes(n),
      String(after.candidate),
    );
    await shot('migration');
  });

  it('kills a service from the console: its node turns red and the breaker to it opens', async () => {
    // By now orders have flowed for a while: every call and event edge is drawn.
    await open('#/topology');
    await page.waitForFunction(
      () =>
        (globalThis as unknown as PageGlobals).document.querySelectorAll('[data-testid^="edge-call-"]')
          .length >= 8,
    );
    await shot('topology');
    await open('#/chaos');
    await page.waitForSelector('[data-testid="kill-payment"]');
    await shot('chaos');
    await page.click('[data-testid="kill-payment"]');
    await open('#/topology');
    await page.waitForSelector('[data-testid="node-payment"][data-health="down"]', { timeout: 15_000 });
    await open('#/resilience');
    await page.waitForSelector('[data-testid="tile-order-payment"][data-breaker="open"]', {
      timeout: 15_000,
    });
    // The supervisor restarts it; the node turns green again.
    await open('#/topology');
    await page.waitForSelector('[data-testid="node-payment"][data-health="ready"]', { timeout: 30_000 });
  });
});
