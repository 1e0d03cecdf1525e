// The checks of the deployment artefacts against the code. Each returns the problems it finds
// (empty when the artefacts agree), so a test can also prove that a broken copy is caught.
import {
  callGraph,
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
import { canConnect, type Pod, podOf, reachableFromOutside } from './network-policy.js';

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
 * Every service has a compose entry built from the Dockerfile, and each FLOTILLA_<SERVICE>_URL
 * names compose services that run that service on the port they listen on.
 */
export function checkCompose(compose: ComposeFile): string[] {
  const problems: string[] = [];
  const entries = Object.entries(compose.services);
  for (const name of names()) {
    const mine = entries.filter(([, s]) => composeServiceName(s) === name);
    if (mine.length === 0) problems.push(`compose: no service builds ${name}`);
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
      for (const url of value.split(',')) {
        const { hostname, port } = new URL(url);
        const host = compose.services[hostname];
        if (host === undefined || composeServiceName(host) !== target)
          problems.push(`compose: ${key} ${variable} names ${hostname}, which does not run ${target}`);
        else if (Number(port) !== listenPort(target, composeEnv(host)))
          problems.push(`compose: ${key} ${variable} uses port ${port}, ${hostname} listens elsewhere`);
      }
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
 * admit outside traffic only to the gateway, and let every service reach NATS and PostgreSQL.
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
