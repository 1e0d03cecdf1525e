/** The values a service's environment templates may reference. */
export interface TemplateValues {
  readonly dataDir: string;
  readonly port: number;
  readonly name: string;
  readonly instance: number;
  /** The instance's address (`127.0.0.1` unless the system file gives `host`). */
  readonly host: string;
}

/** The placeholder names templates may use. */
export const TEMPLATE_KEYS: readonly (keyof TemplateValues)[] = [
  'dataDir',
  'port',
  'name',
  'instance',
  'host',
];

const PLACEHOLDER = /\$\$|\$\{([^}]*)\}/g;

/** The placeholders in `template` that are not {@link TEMPLATE_KEYS}, for validation. */
export function unknownPlaceholders(template: string): string[] {
  const unknown: string[] = [];
  for (const match of template.matchAll(PLACEHOLDER)) {
    const key = match[1];
    if (key !== undefined && !(TEMPLATE_KEYS as readonly string[]).includes(key)) unknown.push(key);
  }
  return unknown;
}

/** Replaces `${dataDir}`, `${port}`, `${name}`, `${instance}`, `${host}` and `$$` in `template`. */
export function expandTemplate(template: string, values: TemplateValues): string {
  return template.replace(PLACEHOLDER, (whole, key: string | undefined) => {
    if (key === undefined) return '$';
    const value = (values as unknown as Record<string, string | number | undefined>)[key];
    return value === undefined ? whole : String(value);
  });
}
