// The checks of the deployment artefacts against the code. Each returns the problems it finds
// (empty when the artefacts agree), so a test can also prove that a broken copy is caught.
import {
  callGraph,
  distributedEnv,
  distributedInstances,
  entrySource,
  gatewayName,
  listenPort,
  servedHealthPaths,
  systemServices,
  unreadVariable,
} from './code-facts.js';
import {
  type ComposeFile,
  type ComposeService,
  type Container,
  containerEnv,
  type K8sObject,
  type Probe,
  selects,
} from './manifests.js';
import { admits, canConnect, type Pod, podOf, reachableFromOutside } from './network-policy.js';

const names = () => systemServices().map((s) => s.name);
const deploymentOf = (objects: readonly K8sObject[], name: string) =>
  objects.find((o) => o.kind === 'Deployment' && o.metadata.name === name);
const onlyContainer = (d: K8sObject): Container | undefined => d.spec?.template?.spec.containers[0];

/** Each service's Deployment: probes on served paths and on the port it listens on, resources. */
export function checkDeployments(objects: readonly K8sObject[]): string[] {
  const problems: string[] = [];
  for (const name of names()) {
    const deployment = deploymentOf(objects, name);
    const container = deployment === undefined ? undefined : onlyContainer(deployment);
    if (deployment === undefined || container === undefined) {
      problems.push(`${name}: no Deployment with a container`);
      continue;
    }
    const env = containerEnv(container, objects);
    const port = listenPort(name, env);
    if (port === undefined) {
      problems.push(`${name}: the environment sets no FLOTILLA_PORT, so it listens on a random port`);
      continue;
    }
    const http = container.ports?.find((p) => p.name === 'http');
    if (http?.containerPort !== port)
      problems.push(
        `${name}: containerPort "http" is ${http?.containerPort}, the service listens on ${port}`,
      );
    const served = servedHealthPaths(name);
    const wanted: [string, Probe | undefined, string][] = [
      ['livenessProbe', container.livenessProbe, '/health/live'],
      ['readinessProbe', container.readinessProbe, '/health/ready'],
      [
        'startupProbe',
        container.startupProbe,
        served.has('/health/startup') ? '/health/startup' : '/health/live',
      ],
    ];
    for (const [kind, probe, path] of wanted) {
      const get = probe?.httpGet;
      if (get === undefined) {
        problems.push(`${name}: no HTTP ${kind}`);
        continue;
      }
      if (!served.has(get.path))
        problems.push(`${name}: ${kind} ${get.path} is not served (serves ${[...served]})`);
      else if (get.path !== path) problems.push(`${name}: ${kind} should use ${path}, uses ${get.path}`);
      const probed =
        typeof get.port === 'number'
          ? get.port
          : container.ports?.find((p) => p.name === get.port)?.containerPort;
      if (probed !== port)
        problems.push(`${name}: ${kind} probes port ${get.port}, the service listens on ${port}`);
    }
    for (const key of ['requests', 'limits'] as const)
      if (!container.resources?.[key]?.cpu || !container.resources[key]?.memory)
        problems.push(`${name}: resources.${key} needs cpu and memory`);
    const service = objects.find(
      (o) =>
        o.kind === 'Service' && selects({ matchLabels: o.spec?.selector ?? {} }, podOf(deployment).labels),
    );
    const target = service?.spec?.ports?.[0]?.targetPort;
    const targetPort =
      typeof target === 'string' ? container.ports?.find((p) => p.name === target)?.containerPort : target;
    if (service === undefined) problems.push(`${name}: no Service selects its pods`);
    else if (targetPort !== port)
      problems.push(`${name}: Service ${service.metadata.name} targets ${target}, not ${port}`);
    if (
      !objects.some(
        (o) => o.kind === 'PodDisruptionBudget' && selects(o.spec?.selector, podOf(deployment).labels),
      )
    )
      problems.push(`${name}: no PodDisruptionBudget`);
  }
  return problems;
}

/** Only the gateway is exposed: compose `ports`, Kubernetes LoadBalancer/NodePort Services, Ingresses. */
export function checkExposure(objects: readonly K8sObject[], compose: ComposeFile): string[] {
  const problems: string[] = [];
  for (const [key, s] of Object.entries(compose.services))
    if (s.ports !== undefined && s.ports.length > 0 && composeServiceName(s) !== gatewayName)
      problems.push(`compose: ${key} publishes ports`);
  for (const o of objects) {
    if (o.kind === 'Ingress')
      problems.push(`k8s: Ingress ${o.metadata.name} (the gateway's Service is the entrance)`);
    if (o.kind === 'Service' && (o.spec?.type === 'LoadBalancer' || o.spec?.type === 'NodePort')) {
      const gateway = deploymentOf(objects, gatewayName);
      if (gateway === undefined || !selects({ matchLabels: o.spec.selector ?? {} }, podOf(gateway).labels))
        problems.push(`k8s: Service ${o.metadata.name} is ${o.spec.type} but does not select the gateway`);
    }
  }
  if (!objects.some((o) => o.kind === 'Service' && o.spec?.type === 'LoadBalancer'))
    problems.push('k8s: the gateway has no LoadBalancer Service');
  const gateway = Object.values(compose.services).find((s) => composeServiceName(s) === gatewayName);
  const published = (gateway?.ports ?? []).map((p) =>
    typeof p === 'string' ? Number(p.split(':').at(-1)) : p.target,
  );
  const port = gateway === undefined ? undefined : listenPort(gatewayName, composeEnv(gateway));
  if (published.length !== 1 || published[0] !== port)
    problems.push(`compose: the gateway publishes ${published}, it listens on ${port}`);
  return problems;
}

/** The shop service a compose service runs (its Dockerfile SERVICE argument). */
export function composeServiceName(s: ComposeService): string | undefined {
  return s.build?.args?.SERVICE;
}

function composeEnv(s: ComposeService): Map<string, string> {
  return new Map(Object.entries(s.environment ?? {}).map(([k, v]) => [k, String(v)]));
}

/**
 * Every service has a compose entry built from the Dockerfile, as many as the distributed
 * profile runs (one gateway), and each FLOTILLA_<SERVICE>_URL names every compose service that
 * runs that service, on the port it listens on, and nothing else.
 */
export function checkCompose(compose: ComposeFile): string[] {
  const problems: string[] = [];
  const entries = Object.entries(compose.services);
  for (const name of names()) {
    const mine = entries.filter(([, s]) => composeServiceName(s) === name);
    if (mine.length === 0) problems.push(`compose: no service builds ${name}`);
    // One gateway: it alone publishes a port, and a second one would need a port of its own.
    const wanted = name === gatewayName ? 1 : distributedInstances(name);
    if (mine.length > 0 && mine.length !== wanted)
      problems.push(
        name === gatewayName
          ? `compose: ${mine.length} gateways, compose runs one (the published port)`
          : `compose: ${mine.length} instances of ${name}, the distributed profile runs ${wanted}`,
      );
    for (const [key, s] of mine) {
      if (s.build?.dockerfile !== 'deploy/docker/Dockerfile' || s.build.context !== '..')
        problems.push(
          `compose: ${key} is not built from deploy/docker/Dockerfile with the repository as context`,
        );
      if (listenPort(name, composeEnv(s)) === undefined)
        problems.push(`compose: ${key} sets no FLOTILLA_PORT`);
    }
  }
  for (const [key, s] of entries) {
    const name = composeServiceName(s);
    if (name === undefined) continue;
    for (const [variable, value] of composeEnv(s)) {
      const target = /^FLOTILLA_([A-Z0-9_]+)_URL$/.exec(variable)?.[1]?.toLowerCase();
      if (target === undefined || variable.startsWith('FLOTILLA_DATABASE_URL')) continue;
      const listed = new Set<string>();
      for (const url of value.split(',')) {
        const { hostname, port } = new URL(url);
        listed.add(hostname);
        const host = compose.services[hostname];
        if (host === undefined || composeServiceName(host) !== target)
          problems.push(`compose: ${key} ${variable} names ${hostname}, which does not run ${target}`);
        else if (Number(port) !== listenPort(target, composeEnv(host)))
          problems.push(`compose: ${key} ${variable} uses port ${port}, ${hostname} listens elsewhere`);
      }
      const missing = entries
        .filter(([k, s]) => composeServiceName(s) === target && !listed.has(k))
        .map(([k]) => k);
      if (missing.length > 0) problems.push(`compose: ${key} ${variable} leaves out ${missing.join(', ')}`);
    }
  }
  return problems;
}

/** Kubernetes discovery URLs point at the Service of their service, on its port. */
export function checkDiscovery(objects: readonly K8sObject[]): string[] {
  const problems: string[] = [];
  for (const name of names()) {
    const deployment = deploymentOf(objects, name);
    const container = deployment === undefined ? undefined : onlyContainer(deployment);
    if (container === undefined) continue;
    for (const [variable, value] of containerEnv(container, objects)) {
      const target = /^FLOTILLA_([A-Z0-9_]+)_URL$/.exec(variable)?.[1]?.toLowerCase();
      if (target === undefined || variable.startsWith('FLOTILLA_DATABASE_URL')) continue;
      const targetDeployment = deploymentOf(objects, target);
      for (const url of (value ?? '').split(',')) {
        const parsed = URL.canParse(url) ? new URL(url) : undefined;
        const service = objects.find((o) => o.kind === 'Service' && o.metadata.name === parsed?.hostname);
        const ok =
          parsed !== undefined &&
          service !== undefined &&
          targetDeployment !== undefined &&
          selects({ matchLabels: service.spec?.selector ?? {} }, podOf(targetDeployment).labels) &&
          service.spec?.ports?.some((p) => p.port === Number(parsed.port || 80));
        if (!ok)
          problems.push(`k8s: ${name} ${variable}=${value} is not the Service of ${target} on its port`);
      }
    }
  }
  return problems;
}

/**
 * The environment names only variables the process reads, and the URL variables a process gets
 * are exactly those of the services it calls.
 */
export function checkEnvironment(objects: readonly K8sObject[], compose: ComposeFile): string[] {
  const problems: string[] = [];
  const graph = callGraph();
  const check = (where: string, name: string, variables: Iterable<string>) => {
    const urls = new Set<string>();
    for (const variable of variables) {
      const reason = unreadVariable(name, variable);
      if (reason !== undefined) problems.push(`${where}: ${reason}`);
      const target = /^FLOTILLA_([A-Z0-9_]+)_URL$/.exec(variable)?.[1];
      if (target !== undefined && !variable.startsWith('FLOTILLA_DATABASE_URL'))
        urls.add(target.toLowerCase());
    }
    const wanted = [...(graph.get(name) ?? [])].sort().join(',');
    if ([...urls].sort().join(',') !== wanted)
      problems.push(`${where}: has URLs of [${[...urls].sort()}], calls [${wanted}]`);
  };
  for (const name of names()) {
    const deployment = deploymentOf(objects, name);
    const container = deployment === undefined ? undefined : onlyContainer(deployment);
    if (container !== undefined) check(`k8s ${name}`, name, containerEnv(container, objects).keys());
  }
  for (const [key, s] of Object.entries(compose.services)) {
    const name = composeServiceName(s);
    if (name !== undefined) check(`compose ${key}`, name, Object.keys(s.environment ?? {}));
  }
  return problems;
}

/**
 * The network policies allow exactly the derived HTTP call graph between the shop's workloads,
 * admit outside traffic only to the gateway, let every service reach NATS and PostgreSQL, and
 * let the gateway, and nothing else, reach the Redis of its rate limits (which reaches no one).
 */
export function checkNetworkPolicies(objects: readonly K8sObject[]): string[] {
  const problems: string[] = [];
  const policies = objects.filter((o) => o.kind === 'NetworkPolicy');
  const pods = new Map<string, Pod>();
  for (const name of names()) {
    const d = deploymentOf(objects, name);
    if (d !== undefined) pods.set(name, podOf(d));
  }
  const statefulPod = (name: string) => {
    const s = objects.find((o) => o.kind === 'StatefulSet' && o.metadata.name === name);
    return s === undefined ? undefined : podOf(s);
  };
  const graph = callGraph();
  for (const [from, fromPod] of pods)
    for (const [to, toPod] of pods) {
      if (from === to) continue;
      const port = toPod.namedPorts.http ?? 0;
      const allowed = canConnect(policies, fromPod, toPod, port);
      const called = graph.get(from)?.has(to) ?? false;
      if (allowed !== called)
        problems.push(
          `network: ${from} → ${to} is ${allowed ? 'allowed' : 'denied'} but ${from} ${called ? 'calls' : 'never calls'} ${to}`,
        );
    }
  for (const [name, pod] of pods) {
    const open = reachableFromOutside(policies, pod, pod.namedPorts.http ?? 0);
    if (open !== (name === gatewayName))
      problems.push(`network: ${name} is ${open ? '' : 'not '}reachable from outside the namespace`);
  }
  const nats = statefulPod('nats');
  const postgres = statefulPod('postgres');
  if (nats === undefined || postgres === undefined) problems.push('network: no nats or postgres StatefulSet');
  else {
    for (const [name, pod] of pods) {
      if (name === gatewayName) continue;
      if (!canConnect(policies, pod, nats, 4222)) problems.push(`network: ${name} cannot reach NATS`);
      if (!canConnect(policies, pod, postgres, 5432))
        problems.push(`network: ${name} cannot reach PostgreSQL`);
    }
    if (!canConnect(policies, nats, nats, 6222))
      problems.push('network: NATS nodes cannot route to each other');
    if (reachableFromOutside(policies, nats, 4222) || reachableFromOutside(policies, postgres, 5432))
      problems.push('network: NATS or PostgreSQL is reachable from outside');
  }
  const store = rateLimitStore(objects);
  const gatewayPod = pods.get(gatewayName);
  if (store.problem !== undefined || gatewayPod === undefined)
    problems.push('network: no Redis of the gateway to check (see the rate-limit checks)');
  else {
    const redis = podOf(store.workload);
    if (!canConnect(policies, gatewayPod, redis, store.podPort))
      problems.push(`network: the gateway cannot reach Redis on ${store.podPort}`);
    // Every other workload, and a pod no manifest runs: only the gateway is let in.
    const others = objects
      .filter(
        (o) =>
          (o.kind === 'Deployment' || o.kind === 'StatefulSet') &&
          o.metadata.name !== gatewayName &&
          o !== store.workload,
      )
      .map((o) => [o.metadata.name, podOf(o)] as const);
    for (const [name, pod] of [
      ...others,
      ['a pod no manifest runs', { labels: {}, namedPorts: {} }] as const,
    ])
      if (admits(policies, redis, pod, store.podPort))
        problems.push(`network: Redis admits ${name}, only the gateway uses it`);
    if (reachableFromOutside(policies, redis, store.podPort))
      problems.push('network: Redis is reachable from outside');
    for (const [name, pod] of [[gatewayName, gatewayPod] as const, ...others])
      for (const port of Object.values(pod.namedPorts))
        if (canConnect(policies, redis, pod, port))
          problems.push(`network: Redis can connect to ${name} on ${port}`);
  }
  return problems;
}

/** The port redis-server listens on given its command line: `--port`, else Redis's default 6379. */
function redisPort(commandLine: readonly string[]): number {
  const i = commandLine.indexOf('--port');
  return i >= 0 ? Number(commandLine[i + 1]) : 6379;
}

/** Whether a redis-server command line turns off both RDB snapshots and the append-only file. */
function withoutPersistence(commandLine: readonly string[]): boolean {
  const after = (flag: string) => commandLine[commandLine.indexOf(flag) + 1];
  return (
    commandLine.includes('--save') &&
    after('--save') === '' &&
    commandLine.includes('--appendonly') &&
    after('--appendonly') === 'no'
  );
}

/** The Redis the gateway's FLOTILLA_RATE_LIMIT_REDIS reaches on Kubernetes, or why there is none. */
type RateLimitStore =
  | { problem: string; workload?: undefined }
  | {
      problem?: undefined;
      /** The Deployment or StatefulSet the named Service selects. */
      workload: K8sObject;
      /** Its Redis container. */
      container: Container;
      /** The container port the Service sends the URL's port to, which Redis listens on. */
      podPort: number;
      /** The gateway's environment. */
      env: Map<string, string | undefined>;
    };

/** Follows the gateway's FLOTILLA_RATE_LIMIT_REDIS to the Service, the workload and the port behind it. */
function rateLimitStore(objects: readonly K8sObject[]): RateLimitStore {
  const gateway = deploymentOf(objects, gatewayName);
  const container = gateway === undefined ? undefined : onlyContainer(gateway);
  if (container === undefined) return { problem: 'k8s: no gateway Deployment with a container' };
  const env = containerEnv(container, objects);
  const value = env.get('FLOTILLA_RATE_LIMIT_REDIS');
  if (value === undefined || value === '')
    return {
      problem: `k8s: the gateway sets no FLOTILLA_RATE_LIMIT_REDIS, so each of its replicas limits on its own`,
    };
  const url = URL.canParse(value) ? new URL(value) : undefined;
  const host = /^([a-z0-9-]+)(\.flotilla-shop(\.svc(\.cluster\.local)?)?)?$/.exec(url?.hostname ?? '')?.[1];
  if (url === undefined || url.protocol !== 'redis:' || host === undefined)
    return { problem: `k8s: FLOTILLA_RATE_LIMIT_REDIS=${value} is not a redis:// URL of a Service` };
  const port = Number(url.port || 6379);
  const service = objects.find((o) => o.kind === 'Service' && o.metadata.name === host);
  const servicePort = service?.spec?.ports?.find((p) => p.port === port);
  if (servicePort === undefined)
    return { problem: `k8s: FLOTILLA_RATE_LIMIT_REDIS=${value}: no Service ${host} with port ${port}` };
  const workload = objects.find(
    (o) =>
      (o.kind === 'Deployment' || o.kind === 'StatefulSet') &&
      selects({ matchLabels: service?.spec?.selector ?? {} }, podOf(o).labels),
  );
  const redis = workload?.spec?.template?.spec.containers.find((c) => c.image.startsWith('redis:'));
  if (workload === undefined || redis === undefined)
    return { problem: `k8s: Service ${host} selects no workload running a redis image` };
  const target = servicePort.targetPort ?? port;
  const podPort =
    typeof target === 'number' ? target : redis.ports?.find((p) => p.name === target)?.containerPort;
  const listens = redisPort([...(redis.command ?? []), ...(redis.args ?? [])]);
  if (podPort !== listens)
    return { problem: `k8s: Service ${host} sends ${port} to ${target}, Redis listens on ${listens}` };
  return { workload, container: redis, podPort, env };
}

/**
 * Where the gateway keeps its rate limits. On Kubernetes its FLOTILLA_RATE_LIMIT_REDIS names a
 * Service that sends the URL's port to the port a single, unpersisted, probed, non-root Redis
 * listens on. In compose the URL comes from deploy/.env (empty: memory), and the value
 * .env.example suggests names the compose Redis on its port. Both use the distributed profile's
 * key prefix. `envExample` is deploy/.env.example's variables (see `loadEnvExample`).
 */
export function checkRateLimitStore(
  objects: readonly K8sObject[],
  compose: ComposeFile,
  envExample: ReadonlyMap<string, string>,
): string[] {
  const problems: string[] = [];
  const prefix = distributedEnv(gatewayName).get('FLOTILLA_RATE_LIMIT_PREFIX');
  const store = rateLimitStore(objects);
  if (store.problem !== undefined) problems.push(store.problem);
  else {
    const { workload, container, podPort, env } = store;
    const name = workload.metadata.name;
    const commandLine = [...(container.command ?? []), ...(container.args ?? [])];
    if ((workload.spec?.replicas ?? 1) !== 1)
      problems.push(
        `k8s: ${name} runs ${workload.spec?.replicas} replicas that share nothing, so the buckets would split`,
      );
    if (!withoutPersistence(commandLine))
      problems.push(`k8s: ${name} persists its data (give it --save "" and --appendonly no)`);
    for (const [kind, probe] of [
      ['livenessProbe', container.livenessProbe],
      ['readinessProbe', container.readinessProbe],
    ] as const) {
      const tcp = probe?.tcpSocket?.port;
      const probed =
        typeof tcp === 'string' ? container.ports?.find((p) => p.name === tcp)?.containerPort : tcp;
      const command = probe?.exec?.command ?? [];
      const pinged = command[0] === 'redis-cli' && command.at(-1) === 'ping';
      const pingPort = command.includes('-p') ? Number(command[command.indexOf('-p') + 1]) : 6379;
      if (!(probed === podPort || (pinged && pingPort === podPort)))
        problems.push(`k8s: ${name} has no ${kind} on port ${podPort} (tcpSocket or redis-cli ping)`);
    }
    for (const key of ['requests', 'limits'] as const)
      if (!container.resources?.[key]?.cpu || !container.resources[key]?.memory)
        problems.push(`k8s: ${name}: resources.${key} needs cpu and memory`);
    const pod = workload.spec?.template?.spec.securityContext;
    const user = container.securityContext?.runAsUser ?? pod?.runAsUser;
    if (
      (container.securityContext?.runAsNonRoot ?? pod?.runAsNonRoot) !== true ||
      user === undefined ||
      user === 0
    )
      problems.push(`k8s: ${name} may run as root (runAsNonRoot and a non-zero runAsUser)`);
    if (container.securityContext?.allowPrivilegeEscalation !== false)
      problems.push(`k8s: ${name} allows privilege escalation`);
    if (env.get('FLOTILLA_RATE_LIMIT_PREFIX') !== prefix)
      problems.push(
        `k8s: the gateway's FLOTILLA_RATE_LIMIT_PREFIX is ${env.get('FLOTILLA_RATE_LIMIT_PREFIX')}, the distributed profile uses ${prefix}`,
      );
  }
  const gateway = Object.values(compose.services).find((s) => composeServiceName(s) === gatewayName);
  const env = gateway === undefined ? new Map<string, string>() : composeEnv(gateway);
  const url = env.get('FLOTILLA_RATE_LIMIT_REDIS');
  if (url === undefined || !/^\$\{FLOTILLA_RATE_LIMIT_REDIS:?-\}$/.test(url))
    problems.push(
      `compose: the gateway's FLOTILLA_RATE_LIMIT_REDIS is ${url}, not \${FLOTILLA_RATE_LIMIT_REDIS:-} (deploy/.env's value, memory when unset)`,
    );
  if (env.get('FLOTILLA_RATE_LIMIT_PREFIX') !== prefix)
    problems.push(
      `compose: the gateway's FLOTILLA_RATE_LIMIT_PREFIX is ${env.get('FLOTILLA_RATE_LIMIT_PREFIX')}, the distributed profile uses ${prefix}`,
    );
  const suggested = envExample.get('FLOTILLA_RATE_LIMIT_REDIS');
  const parsed = suggested !== undefined && URL.canParse(suggested) ? new URL(suggested) : undefined;
  const redis = parsed === undefined ? undefined : compose.services[parsed.hostname];
  if (parsed === undefined || redis === undefined || !redis.image?.startsWith('redis:'))
    problems.push(
      `.env.example: FLOTILLA_RATE_LIMIT_REDIS=${suggested} does not name the compose service that runs Redis`,
    );
  else if (Number(parsed.port || 6379) !== redisPort(redis.command ?? []))
    problems.push(
      `.env.example: FLOTILLA_RATE_LIMIT_REDIS=${suggested} uses port ${parsed.port || 6379}, ${parsed.hostname} listens on ${redisPort(redis.command ?? [])}`,
    );
  return problems;
}

/**
 * The Dockerfile: the entry it derives from SERVICE is the system file's entry of that service
 * and exists in apps/shop/src (dist/ mirrors it after a build); it listens where it exposes,
 * on 0.0.0.0, as a non-root user, with production dependencies only and a served health check.
 */
export function checkDockerfile(dockerfile: string): string[] {
  const problems: string[] = [];
  const special = new Map(
    [...dockerfile.matchAll(/^\s*([a-z*-]+)\) entry=([\w/${}.-]+) ;;/gm)].map((m) => [m[1], m[2]] as const),
  );
  const fallback = special.get('*');
  const env = new Map(
    [...dockerfile.matchAll(/\b(FLOTILLA_[A-Z_]+|NODE_ENV)=(\S+)/g)].map((m) => [m[1] as string, m[2]]),
  );
  for (const { name, entry } of systemServices()) {
    const template = special.get(name) ?? fallback;
    const derived = template?.replaceAll(/\$\{SERVICE\}/g, name).replace(/\.js$/, '');
    if (derived !== entry)
      problems.push(`Dockerfile: SERVICE=${name} runs ${derived}, the system file runs ${entry}`);
    else if (entrySource(entry) === undefined)
      problems.push(`Dockerfile: apps/shop/src/${entry}.ts does not exist`);
  }
  const exposed = Number(/^EXPOSE (\d+)$/m.exec(dockerfile)?.[1]);
  if (exposed !== Number(env.get('FLOTILLA_PORT')))
    problems.push(`Dockerfile: EXPOSE ${exposed} but FLOTILLA_PORT=${env.get('FLOTILLA_PORT')}`);
  if (env.get('FLOTILLA_HOST') !== '0.0.0.0') problems.push('Dockerfile: FLOTILLA_HOST is not 0.0.0.0');
  const user = /^USER (\S+)$/m.exec(dockerfile)?.[1];
  if (user === undefined || user === 'root' || user === '0') problems.push('Dockerfile: runs as root');
  if (!/npm ci --omit=dev/.test(dockerfile))
    problems.push('Dockerfile: runtime dependencies are not production-only');
  const health = /HEALTHCHECK[\s\S]*?(\/health\/[a-z]+)/.exec(dockerfile)?.[1];
  for (const name of names())
    if (health === undefined || !servedHealthPaths(name).has(health))
      problems.push(`Dockerfile: HEALTHCHECK ${health} is not served by ${name}`);
  return problems;
}
