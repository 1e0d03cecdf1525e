// Reads the deployment artefacts (compose file, Kubernetes manifests, Dockerfile) into the few
// shapes the checks need. Only the fields the checks read are typed; YAML anchors and merge keys
// (`<<: *service-env`) are resolved as compose resolves them.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

/** The folder holding compose.yaml, docker/ and k8s/. */
export const deployDir = fileURLToPath(new URL('..', import.meta.url));

/** Labels or a selector's `matchLabels`. */
export type Labels = Readonly<Record<string, string>>;

/** A label selector. */
export interface LabelSelector {
  readonly matchLabels?: Labels;
  readonly matchExpressions?: readonly { key: string; operator: string; values?: readonly string[] }[];
}

/** A probe: an HTTP request, a TCP connection or a command. */
export interface Probe {
  readonly httpGet?: { readonly path: string; readonly port: number | string };
  readonly tcpSocket?: { readonly port: number | string };
  readonly exec?: { readonly command: readonly string[] };
}

/** The security settings of a pod or a container (the fields the checks read). */
export interface SecurityContext {
  readonly runAsNonRoot?: boolean;
  readonly runAsUser?: number;
  readonly allowPrivilegeEscalation?: boolean;
}

/** One variable of a container's `env`. */
export interface EnvVar {
  readonly name: string;
  readonly value?: string;
  readonly valueFrom?: {
    readonly configMapKeyRef?: { readonly name: string; readonly key: string };
    readonly secretKeyRef?: { readonly name: string; readonly key: string };
  };
}

/** A container of a pod template. */
export interface Container {
  readonly name: string;
  readonly image: string;
  readonly command?: readonly string[];
  readonly args?: readonly string[];
  readonly ports?: readonly { name?: string; containerPort: number }[];
  readonly env?: readonly EnvVar[];
  readonly envFrom?: readonly { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  readonly startupProbe?: Probe;
  readonly livenessProbe?: Probe;
  readonly readinessProbe?: Probe;
  readonly resources?: { readonly requests?: Labels; readonly limits?: Labels };
  readonly securityContext?: SecurityContext;
}

/** A network policy peer. */
export interface PolicyPeer {
  readonly podSelector?: LabelSelector;
  readonly namespaceSelector?: LabelSelector;
  readonly ipBlock?: { readonly cidr: string };
}

/** One ingress or egress rule of a network policy. */
export interface PolicyRule {
  readonly from?: readonly PolicyPeer[];
  readonly to?: readonly PolicyPeer[];
  readonly ports?: readonly { protocol?: string; port?: number | string }[];
}

/** A Kubernetes object, with the fields of the kinds the checks read. */
export interface K8sObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly labels?: Labels };
  readonly data?: Labels;
  readonly stringData?: Labels;
  readonly spec?: {
    readonly type?: string;
    readonly replicas?: number;
    readonly selector?: LabelSelector & Labels;
    readonly ports?: readonly { name?: string; port: number; targetPort?: number | string }[];
    readonly template?: {
      metadata: { labels: Labels };
      spec: { containers: readonly Container[]; securityContext?: SecurityContext };
    };
    readonly podSelector?: LabelSelector;
    readonly policyTypes?: readonly string[];
    readonly ingress?: readonly PolicyRule[];
    readonly egress?: readonly PolicyRule[];
  };
}

/** A service of the compose file. */
export interface ComposeService {
  readonly build?: { context: string; dockerfile: string; args?: Labels };
  readonly image?: string;
  readonly command?: readonly string[];
  readonly environment?: Readonly<Record<string, string | number>>;
  readonly ports?: readonly (string | { target: number; published?: string | number })[];
  readonly profiles?: readonly string[];
}

/** The compose file. */
export interface ComposeFile {
  readonly services: Readonly<Record<string, ComposeService>>;
}

/** Parses every YAML document of a text; throws on the first syntax error. */
export function parseYaml(text: string, source: string): unknown[] {
  return parseAllDocuments(text, { merge: true }).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${source}: ${doc.errors.map((e) => e.message).join('; ')}`);
    return doc.toJS({ maxAliasCount: 1000 }) as unknown;
  });
}

/** Every object of every `deploy/k8s/*.yaml` but kustomization.yaml, with the file it came from. */
export function loadKubernetes(dir = join(deployDir, 'k8s')): (K8sObject & { readonly file: string })[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
    .sort()
    .flatMap((file) =>
      parseYaml(readFileSync(join(dir, file), 'utf8'), file)
        .filter((doc) => doc !== null)
        .map((doc) => ({ ...(doc as K8sObject), file })),
    );
}

/** The files kustomization.yaml lists. */
export function kustomizationResources(dir = join(deployDir, 'k8s')): string[] {
  const [doc] = parseYaml(readFileSync(join(dir, 'kustomization.yaml'), 'utf8'), 'kustomization.yaml');
  return (doc as { resources: string[] }).resources;
}

/** deploy/compose.yaml. */
export function loadCompose(file = join(deployDir, 'compose.yaml')): ComposeFile {
  const [doc] = parseYaml(readFileSync(file, 'utf8'), 'compose.yaml');
  return doc as ComposeFile;
}

/** The variables deploy/.env.example sets or suggests (`NAME=value` lines, commented out or not). */
export function loadEnvExample(file = join(deployDir, '.env.example')): Map<string, string> {
  return new Map(
    [...readFileSync(file, 'utf8').matchAll(/^#?\s*([A-Z][A-Z0-9_]*)=(.*)$/gm)].map(
      (m) => [m[1] as string, (m[2] as string).trim()] as const,
    ),
  );
}

/** deploy/docker/Dockerfile. */
export function loadDockerfile(file = join(deployDir, 'docker', 'Dockerfile')): string {
  return readFileSync(file, 'utf8');
}

/** True when `labels` satisfy `selector` (matchLabels and the In/NotIn/Exists operators). */
export function selects(selector: LabelSelector | undefined, labels: Labels): boolean {
  if (selector === undefined) return false;
  for (const [key, value] of Object.entries(selector.matchLabels ?? {}))
    if (labels[key] !== value) return false;
  for (const e of selector.matchExpressions ?? []) {
    const value = labels[e.key];
    const ok =
      e.operator === 'In'
        ? value !== undefined && (e.values ?? []).includes(value)
        : e.operator === 'NotIn'
          ? value === undefined || !(e.values ?? []).includes(value)
          : e.operator === 'Exists'
            ? value !== undefined
            : e.operator === 'DoesNotExist'
              ? value === undefined
              : false;
    if (!ok) return false;
  }
  return true;
}

/**
 * The environment of a container as names and, where the manifests give it, values (ConfigMap
 * references resolved; Secret values are not read, only their names).
 */
export function containerEnv(
  container: Container,
  objects: readonly K8sObject[],
): Map<string, string | undefined> {
  const configMap = (name: string) => objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === name);
  const secret = (name: string) => objects.find((o) => o.kind === 'Secret' && o.metadata.name === name);
  const env = new Map<string, string | undefined>();
  for (const from of container.envFrom ?? []) {
    if (from.configMapRef !== undefined)
      for (const [k, v] of Object.entries(configMap(from.configMapRef.name)?.data ?? {})) env.set(k, v);
    if (from.secretRef !== undefined) {
      const s = secret(from.secretRef.name);
      for (const k of Object.keys({ ...s?.data, ...s?.stringData })) env.set(k, undefined);
    }
  }
  for (const v of container.env ?? []) {
    const ref = v.valueFrom?.configMapKeyRef;
    env.set(v.name, ref !== undefined ? configMap(ref.name)?.data?.[ref.key] : v.value);
  }
  return env;
}
