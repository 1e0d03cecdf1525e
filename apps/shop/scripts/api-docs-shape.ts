// The shape of a zod contract as rows of a Markdown table (field, type, required, constraints),
// read from zod 4's JSON Schema of it: requests in their input form (what a client may send:
// defaults make a field optional), responses in their output form (what the shop sends).
import { z } from 'zod';
import type { SchemaRef } from './api-docs-model.js';

/** One field of a schema. */
export interface ShapeRow {
  /** Dot path; `[]` marks the elements of an array (`items[].sku`). */
  readonly field: string;
  readonly type: string;
  readonly required: boolean;
  readonly constraints: string;
}

/** A schema's fields: one list per alternative of a union, one list otherwise. */
export interface Shape {
  readonly alternatives: readonly (readonly ShapeRow[])[];
  /** Whether fields the schema does not name are refused (a strict object). */
  readonly closed: boolean;
}

type JsonSchema = { readonly [key: string]: unknown };

const SAFE = Number.MAX_SAFE_INTEGER;

/** Reads the shape of `ref` in its input (`'input'`) or output (`'output'`) form. */
export function shapeOf(ref: SchemaRef, io: 'input' | 'output'): Shape {
  const json = z.toJSONSchema(ref.schema, { io, unrepresentable: 'any' }) as JsonSchema;
  const roots = Array.isArray(json.anyOf) && !isNullable(json) ? (json.anyOf as JsonSchema[]) : [json];
  const alternatives = roots.map((root) => {
    const rows: ShapeRow[] = [];
    walkObject(root, '', rows, ref.notes ?? {});
    return rows;
  });
  // Responses are always closed in the JSON Schema of zod's output form; only a request's
  // strictness says anything to the client.
  const closed = io === 'input' && roots.every((r) => r.additionalProperties === false);
  return { alternatives, closed };
}

function walkObject(
  schema: JsonSchema,
  prefix: string,
  rows: ShapeRow[],
  notes: Record<string, string>,
): void {
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((schema.required ?? []) as string[]);
  for (const [name, property] of Object.entries(properties)) {
    const field = prefix === '' ? name : `${prefix}.${name}`;
    const inner = withoutNull(property);
    const note = notes[field];
    const constraints = [...constraintsOf(inner.schema), ...(note === undefined ? [] : [note])].join('; ');
    rows.push({
      field,
      type: typeOf(inner.schema, inner.nullable),
      required: required.has(name),
      constraints,
    });
    descend(inner.schema, field, rows, notes);
  }
}

function descend(schema: JsonSchema, field: string, rows: ShapeRow[], notes: Record<string, string>): void {
  if (schema.type === 'object') walkObject(schema, field, rows, notes);
  else if (schema.type === 'array' && typeof schema.items === 'object' && schema.items !== null) {
    const items = withoutNull(schema.items as JsonSchema).schema;
    if (items.type === 'object' || items.type === 'array') descend(items, `${field}[]`, rows, notes);
  }
}

function isNullable(schema: JsonSchema): boolean {
  return Array.isArray(schema.anyOf) && (schema.anyOf as JsonSchema[]).some((s) => s.type === 'null');
}

/** `T | null` as its `T` and a flag, whichever way zod spelled it. */
function withoutNull(schema: JsonSchema): { schema: JsonSchema; nullable: boolean } {
  if (Array.isArray(schema.type) && schema.type.includes('null')) {
    const rest = (schema.type as string[]).filter((t) => t !== 'null');
    return { schema: { ...schema, type: rest.length === 1 ? rest[0] : rest }, nullable: true };
  }
  if (Array.isArray(schema.anyOf)) {
    const options = (schema.anyOf as JsonSchema[]).filter((s) => s.type !== 'null');
    if (options.length === 1 && options.length < schema.anyOf.length)
      return { schema: options[0] as JsonSchema, nullable: true };
  }
  return { schema, nullable: false };
}

function typeOf(schema: JsonSchema, nullable: boolean): string {
  let type: string;
  if (schema.const !== undefined) type = JSON.stringify(schema.const);
  else if (Array.isArray(schema.anyOf))
    type = (schema.anyOf as JsonSchema[]).map((s) => typeOf(withoutNull(s).schema, false)).join(' \\| ');
  else if (schema.type === 'array') {
    const items =
      typeof schema.items === 'object' && schema.items !== null ? (schema.items as JsonSchema) : {};
    type = `array of ${typeOf(withoutNull(items).schema, false)}`;
  } else if (typeof schema.type === 'string')
    type = typeof schema.format === 'string' ? `${schema.type} (${schema.format})` : schema.type;
  else type = 'any';
  return nullable ? `${type} \\| null` : type;
}

function constraintsOf(schema: JsonSchema): string[] {
  const out: string[] = [];
  if (Array.isArray(schema.enum)) out.push(`one of ${schema.enum.map((v) => `\`${String(v)}\``).join(', ')}`);
  const range = (what: string, min: unknown, max: unknown): void => {
    const lo = typeof min === 'number' ? min : undefined;
    const hi = typeof max === 'number' ? max : undefined;
    if (lo !== undefined && lo === hi) out.push(`${what}${lo}`);
    else if (lo !== undefined && hi !== undefined) out.push(`${what}${lo}..${hi}`);
    else if (lo !== undefined) out.push(`${what}≥ ${lo}`);
    else if (hi !== undefined) out.push(`${what}≤ ${hi}`);
  };
  range('length ', schema.minLength, schema.maxLength);
  range('items ', schema.minItems, schema.maxItems);
  const minimum = schema.minimum === -SAFE ? undefined : schema.minimum;
  const maximum = schema.maximum === SAFE ? undefined : schema.maximum;
  if (typeof schema.exclusiveMinimum === 'number') out.push(`> ${schema.exclusiveMinimum}`);
  range('', minimum, maximum);
  // A format (uuid, date-time) says what its generated pattern says, more readably.
  if (typeof schema.pattern === 'string' && schema.format === undefined)
    out.push(`pattern \`${schema.pattern.replaceAll('|', '\\|')}\``);
  if (schema.default !== undefined) out.push(`default ${JSON.stringify(schema.default)}`);
  return out;
}
