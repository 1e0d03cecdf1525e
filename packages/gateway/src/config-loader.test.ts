import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { GatewayConfigError, isGatewayConfigError } from './config-error.js';
import { loadGatewayConfig, validateGatewayConfig } from './config-loader.js';

const dir = mkdtempSync(join(tmpdir(), 'flotilla-gateway-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const plain = {
  id: 'orders',
  match: { path: '/api/orders/:id' },
  auth: 'public',
  upstream: { service: 'order' },
} as const;

function issuesOf(input: unknown, env: Record<string, string> = {}): string[] {
  try {
    validateGatewayConfig(input, { env });
  } catch (err) {
    assert.ok(isGatewayConfigError(err));
    return err.issues.map((i) => `${i.path}: ${i.message}`);
  }
  assert.fail('expected the configuration to be refused');
}

describe('validateGatewayConfig', () => {
  it('applies defaults to a valid configuration', () => {
    const config = validateGatewayConfig({ routes: [plain] });
    assert.equal(config.limits.bodyBytes, 1_048_576);
    assert.equal(config.limits.requestTimeoutMs, 30_000);
    assert.deepEqual(config.upstreams, {});
  });

  it('names every bad key with its path and value', () => {
    const issues = issuesOf({
      colour: 'blue',
      routes: [
        plain,
        { id: 'b', match: { path: 'no-slash', method: 'FETCH' }, auth: 'public', upstream: { service: 'x' } },
        {
          id: 'c',
          match: { path: '/c' },
          auth: 'public',
          split: { legacy: { service: 'l' }, candidate: { service: 'n' }, weight: 150 },
        },
      ],
      upstreams: { Payment: { timeoutMs: 10 } },
    });
    assert.ok(issues.includes('colour: unknown key'), issues.join('\n'));
    assert.ok(
      issues.some(
        (i) => i.startsWith('routes[1].match.path: must start with "/"') && i.endsWith('got "no-slash"'),
      ),
      issues.join('\n'),
    );
    assert.ok(
      issues.some(
        (i) =>
          i.startsWith('routes[1].match.method: expected') &&
          i.includes('"GET"') &&
          i.endsWith('got "FETCH"'),
      ),
      issues.join('\n'),
    );
    assert.ok(
      issues.includes('routes[2].split.weight: too big: expected number to be <=100, got 150'),
      issues.join('\n'),
    );
    assert.ok(
      issues.some((i) => i.startsWith('upstreams.Payment: key "Payment"')),
      issues.join('\n'),
    );
  });

  it('reports a route with neither or several targets', () => {
    const issues = issuesOf({ routes: [{ id: 'x', match: { path: '/x' }, auth: 'public' }] });
    assert.deepEqual(issues, ['routes[0]: a route needs exactly one of upstream, split or aggregate']);
  });

  it('refuses duplicate ids, unreachable duplicate matches and reserved paths', () => {
    const issues = issuesOf({
      routes: [
        plain,
        { ...plain, match: { path: '/api/orders/:orderId' } },
        { ...plain, id: 'admin', match: { path: '/__admin/x' } },
      ],
    });
    assert.ok(issues.includes('routes[1].id: duplicate of routes[0].id ("orders")'), issues.join('\n'));
    assert.ok(
      issues.some((i) => i.startsWith('routes[1].match: matches the same requests as routes[0]')),
      issues.join('\n'),
    );
    assert.ok(
      issues.includes('routes[2].match.path: /__admin is reserved for the gateway itself'),
      issues.join('\n'),
    );
  });

  it('refuses rewrites and aggregate paths using params the route does not capture', () => {
    const issues = issuesOf({
      routes: [
        {
          id: 'a',
          match: { path: '/a/:id' },
          auth: 'public',
          upstream: { service: 'x', rewrite: '/b/:other' },
        },
        {
          id: 'b',
          match: { path: '/b/:id' },
          auth: 'public',
          upstream: { service: 'x', rewrite: '/legacy/*' },
        },
        {
          id: 'c',
          match: { path: '/c/:id' },
          auth: 'public',
          aggregate: { parts: { one: { service: 'x', path: '/one/:nope' } } },
        },
      ],
    });
    assert.ok(
      issues.some((i) => i.startsWith('routes[0].upstream.rewrite: uses :other')),
      issues.join('\n'),
    );
    assert.ok(
      issues.some((i) => i.startsWith('routes[1].upstream.rewrite: ends with "/*"')),
      issues.join('\n'),
    );
    assert.ok(
      issues.some((i) => i.startsWith('routes[2].aggregate.parts.one.path: uses :nope')),
      issues.join('\n'),
    );
  });

  it('needs auth.jwt for routes that are not public, and a usable secret', () => {
    const { auth: _public, ...authenticated } = plain;
    assert.deepEqual(issuesOf({ routes: [authenticated] }), [
      'routes[0].auth: needs a JWT but auth.jwt is not configured: configure auth.jwt or set auth: "public"',
    ]);
    assert.deepEqual(issuesOf({ auth: { jwt: { secret: 'env:JWT_SECRET' } }, routes: [authenticated] }), [
      'auth.jwt.secret: environment variable JWT_SECRET is not set',
    ]);
    assert.deepEqual(issuesOf({ auth: { jwt: { secret: 'short' } }, routes: [authenticated] }), [
      'auth.jwt.secret: must be at least 32 bytes for HS256, got 5',
    ]);
    const ok = validateGatewayConfig(
      { auth: { jwt: { secret: 'env:JWT_SECRET' } }, routes: [authenticated] },
      { env: { JWT_SECRET: 'x'.repeat(32) } },
    );
    assert.equal(ok.auth?.jwt.secret, 'env:JWT_SECRET');
  });

  it('reports what the split controller refuses', () => {
    const issues = issuesOf({
      routes: [
        {
          id: 's',
          match: { path: '/s' },
          auth: 'public',
          split: {
            legacy: { service: 'l' },
            candidate: { service: 'n' },
            weight: 10,
            guards: { mismatchRate: { max: 0.1 } },
          },
        },
      ],
    });
    assert.equal(issues.length, 1);
    assert.ok(issues[0]?.startsWith('routes[0].split: '), issues.join('\n'));
  });
});

describe('loadGatewayConfig', () => {
  it('reads a JSON file', async () => {
    const file = join(dir, 'gateway.json');
    writeFileSync(file, JSON.stringify({ routes: [plain] }));
    const config = await loadGatewayConfig(file);
    assert.equal(config.routes[0]?.id, 'orders');
  });

  it('imports a TypeScript module exporting the configuration as default', async () => {
    const file = join(dir, 'gateway.config.ts');
    writeFileSync(file, `const config = { routes: [${JSON.stringify(plain)}] };\nexport default config;\n`);
    const config = await loadGatewayConfig(file);
    assert.equal(config.routes[0]?.upstream?.service, 'order');
    // A changed module is imported again, not served from the module cache.
    writeFileSync(file, `export default { routes: [${JSON.stringify({ ...plain, id: 'orders-v2' })}] };\n`);
    assert.equal((await loadGatewayConfig(file)).routes[0]?.id, 'orders-v2');
  });

  it('names the file and the problem when it is not JSON or not there', async () => {
    const file = join(dir, 'broken.json');
    writeFileSync(file, '{ "routes": [');
    await assert.rejects(loadGatewayConfig(file), (err: unknown) => {
      assert.ok(err instanceof GatewayConfigError);
      assert.equal(err.source, file);
      assert.match(err.issues[0]?.message ?? '', /^is not valid JSON/);
      return true;
    });
    await assert.rejects(loadGatewayConfig(join(dir, 'missing.json')), /cannot be read/);
    await assert.rejects(loadGatewayConfig(join(dir, 'gateway.yaml')), /unknown extension/);
  });
});
