// The deployment artefacts agree with the code: probes, ports, services, exposure, network
// policies, Dockerfile entries and environment variables. Nothing is built or started here (no
// container engine is needed); docs/deploy.md says what this does not cover.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  checkCompose,
  checkDeployments,
  checkDiscovery,
  checkDockerfile,
  checkEnvironment,
  checkExposure,
  checkNetworkPolicies,
  checkRateLimitStore,
} from './validate/checks.js';
import {
  callGraph,
  distributedEnv,
  distributedInstances,
  gatewayName,
  servedHealthPaths,
  systemServices,
} from './validate/code-facts.js';
import {
  deployDir,
  type K8sObject,
  kustomizationResources,
  loadCompose,
  loadDockerfile,
  loadEnvExample,
  loadKubernetes,
} from './validate/manifests.js';

const objects = loadKubernetes();
const compose = loadCompose();
const envExample = loadEnvExample();

/** A deep copy of the manifests with one object changed by `edit`. */
function mutated(
  kind: string,
  name: string,
  edit: (o: { spec: Record<string, unknown> }) => void,
): K8sObject[] {
  const copy = structuredClone(objects);
  const target = copy.find((o) => o.kind === kind && o.metadata.name === name);
  assert.ok(target, `${kind} ${name} exists`);
  edit(target as unknown as { spec: Record<string, unknown> });
  return copy;
}

describe('the code facts the checks rely on', () => {
  it('finds the health routes of services and the gateway', () => {
    assert.deepEqual([...servedHealthPaths('order')].sort(), [
      '/health/live',
      '/health/ready',
      '/health/startup',
    ]);
    assert.deepEqual([...servedHealthPaths(gatewayName)].sort(), [
      '/health/live',
      '/health/ready',
      '/health/startup',
    ]);
  });

  it('derives the HTTP call graph from the gateway routes and the services clients', () => {
    const graph = Object.fromEntries([...callGraph()].map(([k, v]) => [k, [...v].sort()]));
    assert.deepEqual(graph, {
      gateway: ['catalog', 'inventory', 'legacy', 'notification', 'order', 'payment', 'shipping'],
      order: ['inventory', 'legacy', 'payment'],
    });
  });

  it('reads the instances and the gateway environment of the distributed profile', () => {
    const instances = Object.fromEntries(systemServices().map((s) => [s.name, distributedInstances(s.name)]));
    assert.deepEqual(instances, {
      legacy: 1,
      catalog: 1,
      inventory: 2,
      payment: 2,
      order: 2,
      shipping: 1,
      notification: 1,
      gateway: 2,
    });
    assert.equal(distributedEnv(gatewayName).get('FLOTILLA_RATE_LIMIT_PREFIX'), 'flotilla:shop:rl:');
  });
});

describe('kubernetes manifests', () => {
  it('parses every file and lists each in the kustomization', () => {
    const files = new Set(objects.map((o) => o.file));
    assert.deepEqual([...files].sort(), kustomizationResources().sort());
    for (const o of objects)
      assert.equal(o.metadata.namespace ?? 'flotilla-shop', 'flotilla-shop', o.metadata.name);
  });

  it('gives every service a Deployment probed on served paths at its listening port, a Service and a PDB', () => {
    assert.deepEqual(checkDeployments(objects), []);
  });

  it('reports a probe on a port the service does not listen on', () => {
    const broken = mutated('Deployment', 'order', (d) => {
      const template = d.spec.template as {
        spec: { containers: { readinessProbe: { httpGet: { port: unknown } } }[] };
      };
      const container = template.spec.containers[0];
      assert.ok(container);
      container.readinessProbe.httpGet.port = 9999;
    });
    assert.deepEqual(checkDeployments(broken), [
      'order: readinessProbe probes port 9999, the service listens on 8080',
    ]);
  });

  it('reports a gateway startup probe on a path the gateway does not serve', () => {
    const broken = mutated('Deployment', gatewayName, (d) => {
      const template = d.spec.template as {
        spec: { containers: { startupProbe: { httpGet: { path: string } } }[] };
      };
      const container = template.spec.containers[0];
      assert.ok(container);
      container.startupProbe.httpGet.path = '/health/started';
    });
    assert.equal(checkDeployments(broken).length, 1);
  });

  it('points every discovery URL at the Service of its service', () => {
    assert.deepEqual(checkDiscovery(objects), []);
  });

  it('allows exactly the derived call graph, outside traffic only to the gateway, NATS and PostgreSQL to services', () => {
    assert.deepEqual(checkNetworkPolicies(objects), []);
  });

  it('reports a network policy that no longer lets order call payment', () => {
    const broken = mutated('NetworkPolicy', 'order-calls', (p) => {
      p.spec.egress = [
        {
          to: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'legacy' } } }],
          ports: [{ protocol: 'TCP', port: 'http' }],
        },
      ];
    });
    assert.deepEqual(checkNetworkPolicies(broken), [
      'network: order → inventory is denied but order calls inventory',
      'network: order → payment is denied but order calls payment',
    ]);
  });

  it('reports a network policy that lets a service be called by one that never calls it', () => {
    const broken = mutated('NetworkPolicy', 'order-calls', (p) => {
      p.spec.egress = [{ to: [{ podSelector: {} }], ports: [{ protocol: 'TCP', port: 'http' }] }];
    });
    const withIngress = broken.map((o) =>
      o.kind === 'NetworkPolicy' && o.metadata.name === 'shipping-callers'
        ? { ...o, spec: { ...o.spec, ingress: [{ from: [{ podSelector: {} }] }] } }
        : o,
    );
    assert.deepEqual(checkNetworkPolicies(withIngress), [
      'network: order → shipping is allowed but order never calls shipping',
      // The gateway admits everyone, so an egress rule to every pod reaches it too.
      'network: order → gateway is allowed but order never calls gateway',
    ]);
  });

  it('lets the gateway, and nothing else, reach its Redis; Redis reaches no one', () => {
    assert.ok(objects.some((o) => o.kind === 'Deployment' && o.metadata.name === 'redis'));
    // The positive case is part of checkNetworkPolicies above; here the policies are broken.
    const withoutEgress = objects.filter((o) => o.metadata.name !== 'gateway-to-redis');
    assert.deepEqual(checkNetworkPolicies(withoutEgress), [
      'network: the gateway cannot reach Redis on 6379',
    ]);
    const open = mutated('NetworkPolicy', 'redis-from-gateway', (p) => {
      p.spec.ingress = [{ ports: [{ protocol: 'TCP', port: 6379 }] }];
    });
    assert.deepEqual(checkNetworkPolicies(open), [
      ...[
        'catalog',
        'inventory',
        'legacy',
        'nats',
        'notification',
        'order',
        'payment',
        'postgres',
        'shipping',
      ].map((name) => `network: Redis admits ${name}, only the gateway uses it`),
      'network: Redis admits a pod no manifest runs, only the gateway uses it',
      'network: Redis is reachable from outside',
    ]);
    const talking = [
      ...objects,
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'redis-calls-out', namespace: 'flotilla-shop' },
        spec: {
          podSelector: { matchLabels: { 'app.kubernetes.io/name': 'redis' } },
          policyTypes: ['Egress'],
          egress: [{ to: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'gateway' } } }] }],
        },
      },
    ];
    assert.deepEqual(checkNetworkPolicies(talking), ['network: Redis can connect to gateway on 8080']);
  });

  it("keeps the gateway's rate limits in one unpersisted Redis behind the Service its URL names", () => {
    assert.deepEqual(checkRateLimitStore(objects, compose, envExample), []);
  });

  it('reports a Redis URL on a port its Service does not have, and a Redis that would split the buckets', () => {
    const wrongPort = mutated('Service', 'redis', (s) => {
      s.spec.ports = [{ name: 'redis', port: 6380, targetPort: 'redis' }];
    });
    assert.deepEqual(checkRateLimitStore(wrongPort, compose, envExample), [
      'k8s: FLOTILLA_RATE_LIMIT_REDIS=redis://redis:6379: no Service redis with port 6379',
    ]);
    const split = mutated('Deployment', 'redis', (d) => {
      d.spec.replicas = 2;
      const template = d.spec.template as { spec: { containers: { args: string[] }[] } };
      const container = template.spec.containers[0];
      assert.ok(container);
      container.args = ['redis-server'];
    });
    assert.deepEqual(checkRateLimitStore(split, compose, envExample), [
      'k8s: redis runs 2 replicas that share nothing, so the buckets would split',
      'k8s: redis persists its data (give it --save "" and --appendonly no)',
    ]);
  });

  it('reports a compose gateway with a fixed Redis URL and a suggested URL on the wrong port', () => {
    const broken = structuredClone(compose);
    const env = broken.services.gateway?.environment as Record<string, string>;
    env.FLOTILLA_RATE_LIMIT_REDIS = 'redis://redis:6379';
    env.FLOTILLA_RATE_LIMIT_PREFIX = 'shop:';
    const example = new Map([['FLOTILLA_RATE_LIMIT_REDIS', 'redis://redis:6380']]);
    assert.deepEqual(checkRateLimitStore(objects, broken, example), [
      `compose: the gateway's FLOTILLA_RATE_LIMIT_REDIS is redis://redis:6379, not \${FLOTILLA_RATE_LIMIT_REDIS:-} (deploy/.env's value, memory when unset)`,
      "compose: the gateway's FLOTILLA_RATE_LIMIT_PREFIX is shop:, the distributed profile uses flotilla:shop:rl:",
      '.env.example: FLOTILLA_RATE_LIMIT_REDIS=redis://redis:6380 uses port 6380, redis listens on 6379',
    ]);
  });

  it('runs NATS as a three-node StatefulSet and marks every secret value as a placeholder', () => {
    assert.equal(
      objects.find((o) => o.kind === 'StatefulSet' && o.metadata.name === 'nats')?.spec?.replicas,
      3,
    );
    const secrets = objects.filter((o) => o.kind === 'Secret');
    assert.ok(secrets.length > 0);
    for (const s of secrets)
      for (const [key, value] of Object.entries(s.stringData ?? {}))
        assert.match(value, /REPLACE-ME/, `${s.metadata.name}.${key}`);
  });
});

describe('compose file', () => {
  it('builds every service of the system from the Dockerfile with working discovery URLs', () => {
    assert.deepEqual(checkCompose(compose), []);
    const built = new Set(
      Object.values(compose.services)
        .map((s) => s.build?.args?.SERVICE)
        .filter((s) => s !== undefined),
    );
    assert.deepEqual(
      [...built].sort(),
      systemServices()
        .map((s) => s.name)
        .sort(),
    );
  });

  it('runs a three-node NATS cluster with JetStream, PostgreSQL and Redis', () => {
    const nats = Object.entries(compose.services).filter(([k]) => /^nats-\d$/.test(k));
    assert.equal(nats.length, 3);
    for (const [, s] of nats) assert.ok((s as { command: string[] }).command.includes('-js'));
    assert.ok(compose.services.postgres && compose.services.redis);
  });

  it('reports a URL that leaves out an instance, and a missing instance', () => {
    const partial = structuredClone(compose);
    const env = partial.services.gateway?.environment as Record<string, string>;
    env.FLOTILLA_PAYMENT_URL = 'http://payment:8080';
    assert.deepEqual(checkCompose(partial), ['compose: gateway FLOTILLA_PAYMENT_URL leaves out payment-2']);
    const { 'payment-2': _, ...services } = compose.services;
    assert.deepEqual(checkCompose({ services }), [
      'compose: 1 instances of payment, the distributed profile runs 2',
      'compose: order FLOTILLA_PAYMENT_URL names payment-2, which does not run payment',
      'compose: order-2 FLOTILLA_PAYMENT_URL names payment-2, which does not run payment',
      'compose: gateway FLOTILLA_PAYMENT_URL names payment-2, which does not run payment',
    ]);
  });
});

describe('exposure and environment', () => {
  it('exposes only the gateway, in compose and on Kubernetes', () => {
    assert.deepEqual(checkExposure(objects, compose), []);
  });

  it('reports a published port on a service other than the gateway', () => {
    const broken = structuredClone(compose);
    (broken.services.order as { ports?: string[] }).ports = ['7102:8080'];
    assert.deepEqual(checkExposure(objects, broken), [
      'compose: order publishes ports',
      'compose: order-2 publishes ports',
    ]);
  });

  it('names only variables the code reads, and exactly the URLs of the services each one calls', () => {
    assert.deepEqual(checkEnvironment(objects, compose), []);
  });

  it('reports a variable nobody reads and a URL of a service that is never called', () => {
    const broken = structuredClone(compose);
    const env = broken.services.payment?.environment as Record<string, string>;
    env.PAYMENT_TIMEOUT_MS = '100';
    env.FLOTILLA_ORDER_URL = 'http://order:8080';
    // payment-2 is the same YAML node as payment, so it is changed too.
    assert.deepEqual(checkEnvironment(objects, broken), [
      'compose payment: payment never reads PAYMENT_TIMEOUT_MS',
      'compose payment: has URLs of [order], calls []',
      'compose payment-2: payment never reads PAYMENT_TIMEOUT_MS',
      'compose payment-2: has URLs of [order], calls []',
    ]);
  });
});

describe('Dockerfile', () => {
  it('runs each service from its system-file entry, exposed where it listens, as non-root', () => {
    assert.deepEqual(checkDockerfile(loadDockerfile()), []);
  });

  it('reports an entry that does not exist', () => {
    const broken = loadDockerfile().replace('entry=gateway/main.js', 'entry=gateway/server.js');
    assert.deepEqual(checkDockerfile(broken), [
      'Dockerfile: SERVICE=gateway runs gateway/server, the system file runs gateway/main',
    ]);
  });

  it('keeps host builds and dependencies out of the build context', () => {
    const ignore = readFileSync(join(deployDir, 'docker', 'Dockerfile.dockerignore'), 'utf8');
    for (const pattern of ['**/node_modules', '**/dist', '**/*.tsbuildinfo'])
      assert.ok(ignore.includes(pattern), pattern);
  });
});
