import { createHash } from 'node:crypto';

/** A JSON value. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * A JSON-safe, key-sorted copy of `value` for hashing and diffing configs: object keys sorted,
 * `undefined` members dropped, non-finite numbers as strings (`"NaN"`), functions as
 * `"[function <name>]"`, objects with a `toConfig()` method by its result, `Map` as a sorted
 * object, typed arrays as arrays. Cycles throw.
 */
export function canonicalize(value: unknown, seen: Set<object> = new Set()): JsonValue {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case 'boolean':
    case 'string':
      return value;
    case 'number':
      return Number.isFinite(value) ? (Object.is(value, -0) ? 0 : value) : String(value);
    case 'bigint':
      return value.toString();
    case 'function':
      return `[function ${value.name || 'anonymous'}]`;
    case 'symbol':
      return value.toString();
    default:
      break;
  }
  const obj = value as object;
  if (seen.has(obj)) throw new TypeError('canonicalize: the value contains a cycle');
  seen.add(obj);
  try {
    if (typeof (obj as { toConfig?: unknown }).toConfig === 'function') {
      return canonicalize((obj as { toConfig(): unknown }).toConfig(), seen);
    }
    if (ArrayBuffer.isView(obj) && !(obj instanceof DataView)) {
      return Array.from(obj as unknown as ArrayLike<number | bigint>, (x) => canonicalize(x, seen));
    }
    if (Array.isArray(obj)) return obj.map((x) => canonicalize(x, seen));
    const entries: [string, unknown][] = obj instanceof Map ? [...obj].map(([k, v]) => [String(k), v]) : Object.entries(obj);
    const out: { [key: string]: JsonValue } = Object.create(null) as { [key: string]: JsonValue };
    for (const [k, v] of entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (v === undefined) continue;
      out[k] = canonicalize(v, seen);
    }
    return out;
  } finally {
    seen.delete(obj);
  }
}

/** `JSON.stringify(canonicalize(value))`: the same config always gives the same string. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(canonicalize(value));
}

/** Lower-case hex SHA-256. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A leaf that differs between two JSON values. */
export interface JsonDifference {
  readonly path: string;
  readonly found: string;
  readonly expected: string;
}

const show = (v: JsonValue | undefined): string => (v === undefined ? '(absent)' : JSON.stringify(v).slice(0, 120));

/**
 * The leaves where `found` differs from `expected`, as paths like `phases[1].optimizer.lr`
 * (at most `limit`). Used to say why a checkpoint's config does not match the run's.
 */
export function jsonDifferences(found: JsonValue | undefined, expected: JsonValue | undefined, path = '', limit = 20): JsonDifference[] {
  const out: JsonDifference[] = [];
  const walk = (a: JsonValue | undefined, b: JsonValue | undefined, p: string): void => {
    if (out.length >= limit) return;
    const isObj = (x: JsonValue | undefined): x is { [key: string]: JsonValue } => typeof x === 'object' && x !== null && !Array.isArray(x);
    if (Array.isArray(a) && Array.isArray(b) && !a.every((x) => typeof x === 'number')) {
      for (let i = 0; i < Math.max(a.length, b.length); i++) walk(a[i], b[i], `${p}[${i}]`);
      return;
    }
    if (isObj(a) && isObj(b)) {
      const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
      for (const k of keys) walk(a[k], b[k], /^[A-Za-z_$][\w$]*$/.test(k) ? (p ? `${p}.${k}` : k) : `${p}[${JSON.stringify(k)}]`);
      return;
    }
    if (JSON.stringify(a) !== JSON.stringify(b)) out.push({ path: p || '(root)', found: show(a), expected: show(b) });
  };
  walk(found, expected, path);
  return out;
}
