import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSystemDefinitionError, type SystemProblem } from './errors.js';
import { fixturesDir } from './fixtures/harness.js';
import { isSystem, validateSystem } from './validate-system.js';

const base = {
  name: 'demo',
  services: [
    { name: 'catalog', entry: 'services/catalog.ts', port: 7101 },
    { name: 'pricing', entry: 'services/pricing.ts', port: 7102, dependsOn: ['catalog'] },
  ],
};

/** The problems `validateSystem` reports for `input` (fails the test when it accepts it). */
function problems(input: unknown): SystemProblem[] {
  try {
    validateSystem(input, { baseDir: fixturesDir });
  } catch (err) {
    assert.ok(isSystemDefinitionError(err), String(err));
    return [...err.problems];
  }
  return assert.fail('the definition was accepted');
}

function withService(change: Record<string, unknown>, index = 1) {
  return { ...base, services: base.services.map((s, i) => (i === index ? { ...s, ...change } : s)) };
}

describe('validateSystem', () => {
  it('applies defaults and resolves paths against the base directory', () => {
    const system = validateSystem(base, { baseDir: fixturesDir });
    assert.ok(isSystem(system));
    assert.equal(system.dataDir, `${fixturesDir}/.flotilla/data`);
    assert.equal(system.controlPort, 7100);
    assert.equal(system.readyTimeoutMs, 60_000);
    assert.equal(system.stopTimeoutMs, 15_000);
    assert.deepEqual(system.restart, {
      initialDelayMs: 500,
      maxDelayMs: 30_000,
      resetAfterMs: 30_000,
      maxStartFailures: 5,
    });
    assert.deepEqual(system.secrets, ['FLOTILLA_SERVICE_KEY', 'FLOTILLA_ADMIN_TOKEN']);
    const [catalog, pricing] = system.plan().services;
    assert.equal(catalog?.entry, `${fixturesDir}/services/catalog.ts`);
    assert.equal(catalog?.critical, true);
    assert.deepEqual(pricing?.instances, [
      {
        service: 'pricing',
        index: 0,
        port: 7102,
        host: '127.0.0.1',
        netns: undefined,
        url: 'http://127.0.0.1:7102',
        env: {},
      },
    ]);
  });

  it('orders services so dependencies start first', () => {
    const system = validateSystem(
      {
        name: 'order',
        services: [
          { name: 'front', entry: 'services/storefront.ts', port: 7103, dependsOn: ['pricing'] },
          { name: 'pricing', entry: 'services/pricing.ts', port: 7102, dependsOn: ['catalog'] },
          { name: 'catalog', entry: 'services/catalog.ts', port: 7101 },
        ],
      },
      { baseDir: fixturesDir },
    );
    assert.deepEqual(
      system.plan().services.map((s) => s.name),
      ['catalog', 'pricing', 'front'],
    );
  });

  it('merges variables (system, service, profile, instance) and expands placeholders', () => {
    const system = validateSystem(
      {
        ...base,
        dataDir: '/var/flotilla',
        env: { LEVEL: 'system', SHARED: 'system' },
        services: [
          {
            name: 'catalog',
            entry: 'services/catalog.ts',
            instances: [{ port: 7101 }, { port: 7111, env: { ONLY: 'second' } }],
            env: {
              // biome-ignore lint/suspicious/noTemplateCurlyInString: a placeholder the supervisor expands
              DATABASE: 'sqlite:${dataDir}/${name}-${instance}.db',
              // biome-ignore lint/suspicious/noTemplateCurlyInString: a placeholder the supervisor expands
              SELF: 'http://127.0.0.1:${port} costs $$5',
              LEVEL: 'service',
              WORKERS: 4,
            },
          },
        ],
        profiles: { distributed: { env: { LEVEL: 'profile' } } },
      },
      { baseDir: fixturesDir },
    );
    const [first, second] = system.plan().services[0]!.instances;
    assert.deepEqual(first?.env, {
      LEVEL: 'service',
      SHARED: 'system',
      DATABASE: 'sqlite:/var/flotilla/catalog-0.db',
      SELF: 'http://127.0.0.1:7101 costs $5',
      WORKERS: '4',
    });
    assert.equal(second?.env.DATABASE, 'sqlite:/var/flotilla/catalog-1.db');
    assert.equal(second?.env.ONLY, 'second');
    assert.equal(system.plan('distributed').services[0]!.instances[0]?.env.LEVEL, 'profile');
  });

  it('applies a profile: more instances, other variables, a service switched off', () => {
    const system = validateSystem(
      {
        ...base,
        services: [...base.services, { name: 'legacy', entry: 'services/catalog.ts', port: 7103 }],
        profiles: {
          distributed: {
            services: {
              pricing: { instances: [{ port: 7102 }, { port: 7112 }], env: { MODE: 'nats' } },
              legacy: { enabled: false },
            },
          },
        },
      },
      { baseDir: fixturesDir },
    );
    assert.deepEqual(system.profiles, ['distributed']);
    const plan = system.plan('distributed');
    assert.equal(plan.profile, 'distributed');
    assert.deepEqual(
      plan.services.map((s) => `${s.name}:${s.instances.map((i) => i.port).join('+')}`),
      ['catalog:7101', 'pricing:7102+7112'],
    );
    assert.equal(plan.services[1]?.instances[1]?.env.MODE, 'nats');
    assert.equal(system.plan().services.length, 3);
  });

  it('names an unknown profile and lists the known ones', () => {
    const system = validateSystem({ ...base, profiles: { distributed: {} } }, { baseDir: fixturesDir });
    assert.throws(() => system.plan('nope'), /profiles: no profile "nope" \(profiles: distributed\)/);
  });

  it('names the key of a wrong value, with the value', () => {
    assert.deepEqual(problems(withService({ port: 0 })), [
      { path: 'services[1].port', message: 'must be an integer from 1 to 65535, got 0' },
    ]);
    assert.deepEqual(problems({ ...base, controlPort: 'x' }), [
      { path: 'controlPort', message: 'must be an integer from 0 to 65535, got "x"' },
    ]);
    assert.deepEqual(problems(withService({ name: 'Pricing' })), [
      {
        path: 'services[1].name',
        message:
          'must be lowercase letters, digits and dashes, starting with a letter (at most 63), got "Pricing"',
      },
    ]);
  });

  it('names a misspelt key and suggests the right one', () => {
    assert.deepEqual(problems(withService({ dependOn: ['catalog'] })), [
      {
        path: 'services[1].dependOn',
        message:
          'unknown key (did you mean "dependsOn"?); expected one of name, entry, port, instances, env, dependsOn, critical, enabled, host, netns',
      },
    ]);
  });

  it('requires a port or instances, not both', () => {
    const { port: _port, ...noPort } = base.services[1]!;
    assert.deepEqual(problems({ ...base, services: [base.services[0], noPort] }), [
      { path: 'services[1]', message: 'needs a port or instances' },
    ]);
    assert.deepEqual(problems(withService({ instances: [{ port: 7112 }] })), [
      { path: 'services[1]', message: 'give either port or instances, not both' },
    ]);
  });

  it('reports unknown dependencies and dependency cycles', () => {
    assert.deepEqual(problems(withService({ dependsOn: ['catalgo'] })), [
      { path: 'services[1].dependsOn[0]', message: 'unknown service "catalgo" (services: catalog, pricing)' },
    ]);
    assert.deepEqual(problems(withService({ dependsOn: ['pricing'] }, 0)), [
      { path: 'services[0].dependsOn', message: 'dependency cycle catalog -> pricing -> catalog' },
    ]);
  });

  it('reports a cycle or a disabled dependency that only a profile introduces, naming the profile', () => {
    assert.deepEqual(
      problems({ ...base, profiles: { loop: { services: { catalog: { dependsOn: ['pricing'] } } } } }),
      [
        {
          path: 'profiles.loop.services.catalog.dependsOn',
          message: 'dependency cycle catalog -> pricing -> catalog (profile loop)',
        },
      ],
    );
    assert.deepEqual(
      problems({ ...base, profiles: { lite: { services: { catalog: { enabled: false } } } } }),
      [{ path: 'services[1].dependsOn[0]', message: '"catalog" is disabled (profile lite)' }],
    );
  });

  it('reports duplicate names and ports used twice', () => {
    assert.deepEqual(problems(withService({ name: 'catalog', dependsOn: [] })), [
      { path: 'services[1].name', message: 'duplicate service "catalog" (also services[0])' },
    ]);
    assert.deepEqual(problems(withService({ port: 7101 })), [
      { path: 'services[1].port', message: 'port 7101 is already used by catalog' },
    ]);
    assert.deepEqual(problems({ ...base, controlPort: 7102 }), [
      { path: 'services[1].port', message: 'port 7102 is already used by the control API (controlPort)' },
    ]);
  });

  it('reports entries that do not exist or are not JavaScript or TypeScript', () => {
    assert.deepEqual(problems(withService({ entry: 'services/nope.ts' })), [
      { path: 'services[1].entry', message: `file not found: ${fixturesDir}/services/nope.ts` },
    ]);
    assert.deepEqual(problems(withService({ entry: 'services/run.sh' })), [
      {
        path: 'services[1].entry',
        message: 'must be a .js, .mjs, .cjs, .ts, .mts or .cts file, got "services/run.sh"',
      },
    ]);
  });

  it('rejects unknown placeholders and variables the supervisor sets', () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the misspelt placeholder under test
    const misspelt = '${datadir}/x';
    const message =
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the message lists placeholders
      'unknown placeholder ${datadir} (known: ${dataDir}, ${port}, ${name}, ${instance}, ${host})';
    assert.deepEqual(
      problems(withService({ env: { DB: misspelt, FLOTILLA_PORT: '1', FLOTILLA_CATALOG_URL: 'http://x' } })),
      [
        { path: 'services[1].env.DB', message },
        { path: 'services[1].env.FLOTILLA_PORT', message: 'FLOTILLA_PORT is set by the supervisor' },
        {
          path: 'services[1].env.FLOTILLA_CATALOG_URL',
          message:
            'FLOTILLA_CATALOG_URL would override the topology file the supervisor writes for this service',
        },
      ],
    );
    assert.deepEqual(problems({ ...base, secrets: ['JWT_SECRET'], env: { JWT_SECRET: 'x' } }), [
      {
        path: 'env.JWT_SECRET',
        message: 'JWT_SECRET is a generated secret; the supervisor passes it to every service',
      },
    ]);
  });

  it('reports profile overrides of services that do not exist', () => {
    assert.deepEqual(problems({ ...base, profiles: { big: { services: { payment: { port: 7200 } } } } }), [
      {
        path: 'profiles.big.services.payment',
        message: 'unknown service "payment" (services: catalog, pricing)',
      },
    ]);
  });

  it('names every problem at once, with the source in the message', () => {
    try {
      validateSystem({ name: '', services: [], extra: 1 }, { file: '/x/flotilla.system.ts' });
      assert.fail('accepted');
    } catch (err) {
      assert.ok(isSystemDefinitionError(err));
      assert.equal(
        err.message,
        [
          'system file /x/flotilla.system.ts is invalid:',
          '  name: must be a non-empty string, got ""',
          '  services: must list at least one service',
          '  extra: unknown key; expected one of name, services, dataDir, controlPort, gateway, env, secrets, profiles, readyTimeoutMs, stopTimeoutMs, restart, banner, load',
        ].join('\n'),
      );
    }
  });

  it('places instances on their host and namespace: URL, placeholders, service and instance values', () => {
    const system = validateSystem(
      {
        ...base,
        services: [
          { name: 'catalog', entry: 'services/catalog.ts', port: 7101 },
          {
            name: 'pricing',
            entry: 'services/pricing.ts',
            host: '10.9.8.11',
            netns: 'lab-h1',
            instances: [{ port: 7102 }, { port: 7102, host: '10.9.8.12', netns: 'lab-h2' }],
            // biome-ignore lint/suspicious/noTemplateCurlyInString: a placeholder the supervisor expands
            env: { SELF: 'http://${host}:${port}' },
          },
        ],
        profiles: { near: { services: { pricing: { host: '192.0.2.2', netns: 'near' } } } },
      },
      { baseDir: fixturesDir },
    );
    const place = (profile?: string) =>
      system
        .plan(profile)
        .services.flatMap((s) => s.instances.map((i) => [i.service, i.host, i.netns, i.url, i.env.SELF]));
    assert.deepEqual(place(), [
      ['catalog', '127.0.0.1', undefined, 'http://127.0.0.1:7101', undefined],
      ['pricing', '10.9.8.11', 'lab-h1', 'http://10.9.8.11:7102', 'http://10.9.8.11:7102'],
      // The same port on another host is no conflict.
      ['pricing', '10.9.8.12', 'lab-h2', 'http://10.9.8.12:7102', 'http://10.9.8.12:7102'],
    ]);
    // A profile's host and netns apply to the instances that do not give their own.
    assert.deepEqual(
      place('near').map((p) => p.slice(1, 3)),
      [
        ['127.0.0.1', undefined],
        ['192.0.2.2', 'near'],
        ['10.9.8.12', 'lab-h2'],
      ],
    );
  });

  it('checks host and netns: their form, loopback in a namespace, and dependencies a namespace cannot reach', () => {
    assert.deepEqual(problems(withService({ host: 'localhost', netns: 'a/b' })), [
      { path: 'services[1].host', message: 'must be an IPv4 address like 10.0.0.2, got "localhost"' },
      {
        path: 'services[1].netns',
        message:
          'must be a network namespace name (letters, digits, _ . -; at most 64, not starting with . or -), got "a/b"',
      },
    ]);
    assert.deepEqual(problems(withService({ host: '0.0.0.0' })), [
      {
        path: 'services[1].host',
        message:
          'must be the address the instance is reached at, not 0.0.0.0 or a broadcast address, got "0.0.0.0"',
      },
    ]);
    assert.deepEqual(problems(withService({ netns: 'h1' })), [
      {
        path: 'services[1].netns',
        message:
          'pricing runs in network namespace "h1" but on 127.0.0.1: a loopback address there is the namespace\'s own, which the supervisor cannot reach; give it a host address of the namespace',
      },
      {
        path: 'services[1].dependsOn[0]',
        message:
          'pricing runs in network namespace "h1" and cannot reach "catalog" on 127.0.0.1, the loopback of another namespace; give catalog a host address the namespace reaches',
      },
    ]);
    // On a namespace's own address, with its dependency on an address every namespace reaches: fine.
    const spread = {
      ...base,
      services: [
        { ...base.services[0], host: '10.9.8.1' },
        { ...base.services[1], netns: 'h1', host: '10.9.8.11' },
      ],
    };
    assert.equal(
      validateSystem(spread, { baseDir: fixturesDir }).plan().services[1]?.instances[0]?.netns,
      'h1',
    );
    // The same port twice on one host of one namespace is still a conflict.
    assert.deepEqual(
      problems({
        ...spread,
        services: [
          ...spread.services,
          { name: 'more', entry: 'services/catalog.ts', port: 7102, netns: 'h1', host: '10.9.8.11' },
        ],
      }),
      [
        {
          path: 'services[2].port',
          message: 'port 7102 of 10.9.8.11 in network namespace h1 is already used by pricing',
        },
      ],
    );
  });

  it('checks that banner and load are functions', () => {
    assert.deepEqual(problems({ ...base, banner: 'hello' }), [
      { path: 'banner', message: 'must be a function, got "hello"' },
    ]);
  });
});
