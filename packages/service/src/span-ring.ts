import type { TraceContext } from './trace-context.js';
import type { SpanKind, SpanRecord } from './tracer.js';

/** The value of a span attribute. */
export type AttributeValue = string | number | boolean;

/** What the ring copies out of a finished span. */
export interface FinishedSpan {
  readonly context: TraceContext;
  readonly name: string;
  readonly kind: SpanKind;
  /** Wall-clock start, epoch milliseconds. */
  readonly start: number;
  readonly durationMs: number;
  readonly status: 'ok' | 'error';
  readonly attributes: Readonly<Record<string, AttributeValue>>;
}

const KINDS: readonly SpanKind[] = ['server', 'client', 'producer', 'consumer', 'internal'];
const KIND_CODE: Readonly<Record<SpanKind, number>> = {
  server: 0,
  client: 1,
  producer: 2,
  consumer: 3,
  internal: 4,
};
// Flag bits beside the kind code (bits 0-2).
const ERROR = 8;
const HAS_PARENT = 16;

/** 32-bit words of ids per span: trace id (4), span id (2), parent span id (2). */
const ID_WORDS = 8;
/** Attributes kept in the columns per span; more spill into an object. */
const SLOTS = 8;
// Attribute value types.
const T_END = 0;
const T_NUMBER = 1;
const T_TRUE = 2;
const T_FALSE = 3;
const T_INTERNED = 4;
const T_RAW = 5;
const T_TEXT = 6;

/**
 * Bytes per span for strings that are not interned (a concrete path, an order id): Latin-1
 * characters copied into the ring's text column, so that they too stay out of the heap.
 */
const TEXT_BYTES = 160;

/**
 * How many distinct strings (names, attribute keys and values) the ring interns, for good. Past
 * it, a new string is copied into the span's text, or kept as it is when it does not fit there:
 * correct either way, only the latter costs the collector again.
 */
const MAX_INTERNED = 4096;
/** Longer strings are never interned: such a string (an error message, say) is rarely repeated. */
const MAX_INTERNED_LENGTH = 200;

/** The parts of one span that did not fit the columns: rare, so an object per such span is fine. */
class Spill {
  name: string | undefined;
  traceId: string | undefined;
  spanId: string | undefined;
  parentSpanId: string | undefined;
  /** Attribute values not interned, by attribute slot. */
  values: (string | undefined)[] | undefined;
  /** Attributes past the columns' {@link SLOTS}, or with a key not interned. */
  extra: Record<string, AttributeValue> | undefined;

  /** Keeps the value of attribute slot `n`. */
  value(n: number, value: string): void {
    if (this.values === undefined) this.values = [];
    this.values[n] = value;
  }

  /** Keeps an attribute that has no slot. */
  attribute(key: string, value: AttributeValue): void {
    if (this.extra === undefined) this.extra = {};
    this.extra[key] = value;
  }
}

/**
 * The last `capacity` finished spans, stored as columns of numbers, bytes and interned strings.
 *
 * A ring of span objects keeps every span alive for thousands of requests, long past V8's young
 * generation: each one is copied by two scavenges and then collected by the old-generation
 * collector, which on a busy proxy costs more than recording the span did. Copying a span's
 * facts into preallocated typed arrays keeps nothing of it alive: ids become 32-bit words; names,
 * attribute keys and the usual attribute values (methods, routes, services, instances) are
 * interned once; other strings are copied as Latin-1 bytes. Reading the ring (a console poll,
 * once a second) builds {@link SpanRecord}s.
 */
export class SpanRing {
  private readonly ids: Uint32Array;
  private readonly start: Float64Array;
  private readonly duration: Float64Array;
  /** Kind code, {@link ERROR} and {@link HAS_PARENT}. */
  private readonly flags: Uint8Array;
  /**
   * Interned name (>= 0); -1 when it is in the span's {@link Spill}; `-2 - length` when it is at
   * the start of the span's text.
   */
  private readonly name: Int32Array;
  private readonly attrKey: Int32Array;
  private readonly attrType: Uint8Array;
  /** The number; the interned string's index; or a text's `offset * 65536 + length`. */
  private readonly attrValue: Float64Array;
  /** {@link TEXT_BYTES} per span. */
  private readonly text: Buffer;
  private readonly spill: (Spill | undefined)[];
  private readonly strings: string[] = [];
  private readonly index = new Map<string, number>();
  private next = 0;
  private total = 0;

  constructor(
    readonly capacity: number,
    /** The service every span of this ring belongs to. */
    private readonly service: string,
  ) {
    this.ids = new Uint32Array(capacity * ID_WORDS);
    this.start = new Float64Array(capacity);
    this.duration = new Float64Array(capacity);
    this.flags = new Uint8Array(capacity);
    this.name = new Int32Array(capacity);
    this.attrKey = new Int32Array(capacity * SLOTS);
    this.attrType = new Uint8Array(capacity * SLOTS);
    this.attrValue = new Float64Array(capacity * SLOTS);
    this.text = Buffer.alloc(capacity * TEXT_BYTES);
    this.spill = new Array(capacity).fill(undefined);
  }

  /** How many spans were written since the ring was made. */
  written(): number {
    return this.total;
  }

  /** Copies a finished span into the ring, over the oldest one when full. */
  write(span: FinishedSpan): void {
    const slot = this.next;
    this.next = slot + 1 === this.capacity ? 0 : slot + 1;
    this.total++;
    let spill: Spill | undefined;
    const c = span.context;
    const at = slot * ID_WORDS;
    const parent = c.parentSpanId;
    if (
      !packId(this.ids, c.traceId, at, 4) ||
      !packId(this.ids, c.spanId, at + 4, 2) ||
      (parent !== undefined && !packId(this.ids, parent, at + 6, 2))
    ) {
      spill = new Spill();
      spill.traceId = c.traceId;
      spill.spanId = c.spanId;
      spill.parentSpanId = parent;
    }
    this.start[slot] = span.start;
    this.duration[slot] = span.durationMs;
    this.flags[slot] =
      KIND_CODE[span.kind] | (span.status === 'error' ? ERROR : 0) | (parent === undefined ? 0 : HAS_PARENT);
    const textAt = slot * TEXT_BYTES;
    let used = 0;
    let name = this.intern(span.name);
    if (name < 0) {
      const length = this.copyText(span.name, textAt, TEXT_BYTES);
      if (length >= 0) {
        name = -2 - length;
        used = length;
      } else {
        spill ??= new Spill();
        spill.name = span.name;
      }
    }
    this.name[slot] = name;

    const attributes = span.attributes;
    const base = slot * SLOTS;
    let n = 0;
    for (const key in attributes) {
      const value = attributes[key] as AttributeValue;
      const k = n < SLOTS ? this.intern(key) : -1;
      if (k < 0) {
        spill ??= new Spill();
        spill.attribute(key, value);
        continue;
      }
      const i = base + n;
      this.attrKey[i] = k;
      if (typeof value === 'number') {
        this.attrType[i] = T_NUMBER;
        this.attrValue[i] = value;
      } else if (typeof value === 'boolean') {
        this.attrType[i] = value ? T_TRUE : T_FALSE;
      } else {
        const v = this.intern(value);
        const length = v >= 0 ? -1 : this.copyText(value, textAt + used, TEXT_BYTES - used);
        if (v >= 0) {
          this.attrType[i] = T_INTERNED;
          this.attrValue[i] = v;
        } else if (length >= 0) {
          this.attrType[i] = T_TEXT;
          this.attrValue[i] = used * 65536 + length;
          used += length;
        } else {
          this.attrType[i] = T_RAW;
          spill ??= new Spill();
          spill.value(n, value);
        }
      }
      n++;
    }
    if (n < SLOTS) this.attrType[base + n] = T_END;
    // Only an object that was there, or one that is needed, is written: most spans touch neither.
    if (spill !== undefined || this.spill[slot] !== undefined) this.spill[slot] = spill;
  }

  /**
   * The spans at positions `[from, written())` of the writing sequence that the ring still holds,
   * oldest first, that pass `keep`.
   */
  read(from: number, keep: { traceId?: string | undefined; sinceMs?: number | undefined }): SpanRecord[] {
    const held = Math.min(this.total, this.capacity);
    const first = Math.max(from, this.total - held);
    const out: SpanRecord[] = [];
    for (let position = first; position < this.total; position++) {
      const slot = position % this.capacity;
      if (keep.sinceMs !== undefined && (this.start[slot] as number) < keep.sinceMs) continue;
      const traceId = this.traceId(slot);
      if (keep.traceId !== undefined && traceId !== keep.traceId) continue;
      out.push(this.record(slot, traceId));
    }
    return out;
  }

  private record(slot: number, traceId: string): SpanRecord {
    const spill = this.spill[slot];
    const flags = this.flags[slot] as number;
    const at = slot * ID_WORDS;
    const name = this.name[slot] as number;
    const parentSpanId =
      (flags & HAS_PARENT) === 0 ? undefined : (spill?.parentSpanId ?? unpackId(this.ids, at + 6, 2));
    return {
      traceId,
      spanId: spill?.spanId ?? unpackId(this.ids, at + 4, 2),
      ...(parentSpanId === undefined ? {} : { parentSpanId }),
      name:
        name >= 0
          ? (this.strings[name] as string)
          : name === -1
            ? (spill?.name ?? '')
            : this.text.toString('latin1', slot * TEXT_BYTES, slot * TEXT_BYTES - 2 - name),
      kind: KINDS[flags & 7] as SpanKind,
      service: this.service,
      startTimeMs: this.start[slot] as number,
      durationMs: this.duration[slot] as number,
      status: (flags & ERROR) === 0 ? 'ok' : 'error',
      attributes: this.attributes(slot, spill),
    };
  }

  private traceId(slot: number): string {
    return this.spill[slot]?.traceId ?? unpackId(this.ids, slot * ID_WORDS, 4);
  }

  private attributes(slot: number, spill: Spill | undefined): Record<string, AttributeValue> {
    const out: Record<string, AttributeValue> = {};
    const base = slot * SLOTS;
    for (let n = 0; n < SLOTS; n++) {
      const i = base + n;
      const type = this.attrType[i] as number;
      if (type === T_END) break;
      const key = this.strings[this.attrKey[i] as number] as string;
      const value = this.attrValue[i] as number;
      out[key] =
        type === T_NUMBER
          ? value
          : type === T_TRUE
            ? true
            : type === T_FALSE
              ? false
              : type === T_INTERNED
                ? (this.strings[value] as string)
                : type === T_TEXT
                  ? this.readText(slot, value)
                  : (spill?.values?.[n] ?? '');
    }
    if (spill?.extra !== undefined) Object.assign(out, spill.extra);
    return out;
  }

  /**
   * Copies a Latin-1 string into the text column at `at`, if it fits in `room` bytes. Returns its
   * length, or -1 when it does not fit or has a character past U+00FF (the span keeps the string).
   */
  private copyText(s: string, at: number, room: number): number {
    const length = s.length;
    if (length > room) return -1;
    const text = this.text;
    for (let i = 0; i < length; i++) {
      const c = s.charCodeAt(i);
      if (c > 0xff) return -1;
      text[at + i] = c;
    }
    return length;
  }

  /** A string copied by {@link copyText}, from an attribute's `offset * 65536 + length`. */
  private readText(slot: number, place: number): string {
    const at = slot * TEXT_BYTES + Math.floor(place / 65536);
    return this.text.toString('latin1', at, at + (place % 65536));
  }

  /** The string's index in the table, interning it if there is room; -1 when it is not interned. */
  private intern(s: string): number {
    const known = this.index.get(s);
    if (known !== undefined) return known;
    if (this.strings.length >= MAX_INTERNED || s.length > MAX_INTERNED_LENGTH) return -1;
    // A string cut from a larger one (a path from a URL) would keep the larger one alive for
    // good: the table keeps a copy of its own, made exactly by a JSON round trip (this happens at
    // most MAX_INTERNED times).
    const own = JSON.parse(JSON.stringify(s)) as string;
    const i = this.strings.length;
    this.strings.push(own);
    this.index.set(own, i);
    return i;
  }
}

/** Value of each lowercase hex digit's character code, -1 for any other character. */
const HEX = new Int8Array(128).fill(-1);
for (let d = 0; d < 16; d++) HEX[d.toString(16).charCodeAt(0)] = d;

/**
 * Writes a lowercase hex id of `words` 32-bit words into `ids` at `at`, in plain JavaScript (a
 * call into `Buffer` costs more than the id). Returns false when the string is not one: the
 * caller keeps it as a string, so what is read back is always what was written.
 */
function packId(ids: Uint32Array, id: string, at: number, words: number): boolean {
  if (id.length !== words * 8) return false;
  for (let w = 0; w < words; w++) {
    let word = 0;
    for (let i = w * 8, end = i + 8; i < end; i++) {
      const d = HEX[id.charCodeAt(i)];
      if (d === undefined || d < 0) return false;
      word = (word << 4) | d;
    }
    ids[at + w] = word >>> 0;
  }
  return true;
}

/** Reads back an id written by {@link packId}. */
function unpackId(ids: Uint32Array, at: number, words: number): string {
  let hex = '';
  for (let w = 0; w < words; w++) hex += (ids[at + w] as number).toString(16).padStart(8, '0');
  return hex;
}
