import { SafetensorsError, quote } from './safetensors-error.js';

/**
 * A small strict JSON parser matching the subset that `serde_json` (the reference reader's
 * parser) accepts, plus duplicate-key rejection (RELIABILITY.md P5, P6, §1.7). `JSON.parse` is
 * not used because it keeps the last duplicate key silently and turns `2.0`/`1e1`/`-0` into
 * integers.
 *
 * Differences from `JSON.parse`, each deliberate:
 * - duplicate keys are rejected, compared on DECODED keys (`"a"` and `"\u0061"` collide);
 * - integers (no fraction, no exponent) become `number` up to 15 digits, else `bigint` (exact
 *   above 2^53); any number with a
 *   fraction or exponent, `-0`, and integers of more than 20 digits become {@link JsonFloat}
 *   (serde_json parses them as floats, which are never a valid `usize`);
 * - escaped lone surrogates (`"\ud800"`) are rejected, as serde_json does for `String`;
 * - nesting deeper than serde_json's recursion limit (127 levels) is rejected, which also keeps
 *   this recursive parser far from the JS stack limit.
 * Whitespace is exactly JSON's (space, tab, LF, CR) before and after the value.
 */
export class JsonFloat {
  constructor(readonly text: string) {}
}

/**
 * A JSON object: keys in document order, no duplicates, no prototype (RELIABILITY.md P7).
 * Parallel arrays instead of a `Map` per object: a header holds one small object per tensor, and
 * 10^5-tensor headers must parse without drowning in allocations (P3).
 */
export class JsonObject implements Iterable<[string, JsonValue]> {
  private readonly keys: string[] = [];
  private readonly values: JsonValue[] = [];
  private index: Map<string, number> | undefined;

  get size(): number {
    return this.keys.length;
  }

  private find(key: string): number {
    if (this.index) return this.index.get(key) ?? -1;
    return this.keys.indexOf(key);
  }

  has(key: string): boolean {
    return this.find(key) >= 0;
  }

  get(key: string): JsonValue | undefined {
    const i = this.find(key);
    return i >= 0 ? this.values[i] : undefined;
  }

  /** Appends `key` (the parser has already rejected duplicates); returns false if present. */
  add(key: string, value: JsonValue, checked = false): boolean {
    if (!checked && this.find(key) >= 0) return false;
    this.keys.push(key);
    this.values.push(value);
    if (this.index) this.index.set(key, this.keys.length - 1);
    else if (this.keys.length > 16) this.index = new Map(this.keys.map((k, i) => [k, i]));
    return true;
  }

  *[Symbol.iterator](): Iterator<[string, JsonValue]> {
    for (let i = 0; i < this.keys.length; i++) yield [this.keys[i] as string, this.values[i] as JsonValue];
  }
}

/** Integers are `number` when they have at most 15 digits (always exact), `bigint` for 16–20 digits. */
export type JsonValue = string | number | bigint | JsonFloat | boolean | null | JsonValue[] | JsonObject;

/** serde_json's default recursion limit: 128 remaining levels, failing when it reaches 0. */
const MAX_DEPTH = 127;

export interface StrictJsonOptions {
  /** What is being parsed, for messages, e.g. `'safetensors header'`. */
  what: string;
  /** Prefix every error message with this file name. */
  file?: string;
}

/** Parses `text` strictly (see the module doc); throws {@link SafetensorsError} on any deviation. */
export function parseStrictJson(text: string, options: StrictJsonOptions): JsonValue {
  const r = new JsonReader(text, options);
  r.skipWs();
  if (r.atEnd()) r.fail('EOF while parsing a value (the JSON text is empty or only whitespace)');
  const v = r.parseValue();
  r.finish();
  return v;
}

/**
 * The tokenizer/parser behind {@link parseStrictJson}, exposed so the safetensors header can be
 * parsed schema-first ({@link JsonReader.walkObject}) without building a generic tree for each
 * of possibly 10^6 tensor entries.
 */
export class JsonReader {
  private pos = 0;
  private depth = 0;
  private readonly path: (string | number)[] = [];
  constructor(
    private readonly s: string,
    private readonly opts: StrictJsonOptions,
  ) {}

  /** True when only the end of the text remains (call after {@link skipWs}). */
  atEnd(): boolean {
    return this.pos >= this.s.length;
  }

  /** Next character code without consuming it (NaN at the end). */
  peek(): number {
    return this.s.charCodeAt(this.pos);
  }

  /** After the top-level value: only JSON whitespace may follow. */
  finish(): void {
    this.skipWs();
    if (this.pos < this.s.length) this.fail('trailing characters after the JSON value (only space, tab, CR and LF may follow)');
  }

  fail(reason: string): never {
    const near = this.s.slice(this.pos, this.pos + 24);
    const where = this.path.length > 0 ? ` inside ${this.where()}` : '';
    throw new SafetensorsError(
      'invalid-json',
      `${this.opts.what} is not valid JSON at character ${this.pos}${where}: ${reason}; found ${near.length > 0 ? quote(near) : 'end of text'}. ` +
        `Allowed: strict JSON as accepted by serde_json (no comments, trailing commas, NaN/Infinity, BOM or lone surrogates). ` +
        `Fix: regenerate the file with a conforming writer.`,
      this.opts.file === undefined ? undefined : { file: this.opts.file },
    );
  }

  private where(): string {
    return this.path.map((k) => (typeof k === 'number' ? `[${k}]` : quote(k, 40))).join(' > ');
  }

  skipWs(): void {
    const s = this.s;
    let p = this.pos;
    while (p < s.length) {
      const c = s.charCodeAt(p);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) p++;
      else break;
    }
    this.pos = p;
  }

  /** Parses one value at the current position (no leading whitespace). */
  parseValue(): JsonValue {
    const c = this.s.charCodeAt(this.pos);
    switch (c) {
      case 0x7b: // {
        return this.object();
      case 0x5b: // [
        return this.array();
      case 0x22: // "
        return this.string();
      case 0x74: // t
        return this.literal('true', true);
      case 0x66: // f
        return this.literal('false', false);
      case 0x6e: // n
        return this.literal('null', null);
      default:
        if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
        if (Number.isNaN(c)) this.fail('EOF while parsing a value');
        return this.fail('expected a value');
    }
  }

  private literal<T>(word: string, v: T): T {
    if (this.s.startsWith(word, this.pos)) {
      this.pos += word.length;
      return v;
    }
    return this.fail(`expected '${word}'`);
  }

  private enter(): void {
    if (++this.depth > MAX_DEPTH) this.fail(`nesting deeper than ${MAX_DEPTH} levels (serde_json's recursion limit)`);
  }

  private object(): JsonObject {
    const o = new JsonObject();
    this.walkObject((key) => {
      o.add(key, this.parseValue(), true);
    });
    return o;
  }

  /**
   * Parses an object at the current position, calling `onKey(key)` with the reader positioned
   * at each value; `onKey` must consume exactly that value (e.g. with {@link parseValue}).
   * Duplicate keys (compared after decoding escapes) are rejected before `onKey` is called.
   */
  walkObject(onKey: (key: string) => void): void {
    if (this.peek() !== 0x7b) this.fail("expected '{'");
    this.enter();
    this.pos++;
    this.skipWs();
    if (this.peek() === 0x7d) {
      this.pos++;
      this.depth--;
      return;
    }
    const seen: string[] = [];
    let seenSet: Set<string> | undefined;
    for (;;) {
      this.skipWs();
      if (this.peek() !== 0x22) this.fail(this.pos >= this.s.length ? 'EOF while parsing an object' : 'expected a string key (trailing commas are not allowed)');
      const keyStart = this.pos;
      const key = this.string();
      if (seenSet ? seenSet.has(key) : seen.includes(key)) {
        this.pos = keyStart;
        const where = this.path.length > 0 ? ` inside ${this.where()}` : ' at the top level';
        throw new SafetensorsError(
          'duplicate-key',
          `${this.opts.what} has the key ${quote(key)} twice${where} (keys are compared after decoding escapes; ` +
            `second occurrence at character ${keyStart}). Allowed: each key once (the safetensors spec disallows duplicates; ` +
            `a last-wins reader and a first-wins reader would load different tensors). Fix: remove the duplicate entry.`,
          this.opts.file === undefined ? undefined : { file: this.opts.file },
        );
      }
      if (seenSet) seenSet.add(key);
      else {
        seen.push(key);
        if (seen.length > 16) seenSet = new Set(seen);
      }
      this.skipWs();
      if (this.peek() !== 0x3a) this.fail("expected ':' after an object key");
      this.pos++;
      this.skipWs();
      this.path.push(key);
      onKey(key);
      this.path.pop();
      this.skipWs();
      const c = this.peek();
      if (c === 0x2c) {
        this.pos++;
        continue;
      }
      if (c === 0x7d) {
        this.pos++;
        break;
      }
      this.fail(Number.isNaN(c) ? 'EOF while parsing an object' : "expected ',' or '}'");
    }
    this.depth--;
  }

  private array(): JsonValue[] {
    this.enter();
    this.pos++;
    const a: JsonValue[] = [];
    this.skipWs();
    if (this.s.charCodeAt(this.pos) === 0x5d) {
      this.pos++;
      this.depth--;
      return a;
    }
    const top = this.path.length;
    this.path.push(0);
    for (;;) {
      this.skipWs();
      if (this.s.charCodeAt(this.pos) === 0x5d) this.fail('trailing comma in an array');
      this.path[top] = a.length;
      a.push(this.parseValue());
      this.skipWs();
      const c = this.s.charCodeAt(this.pos);
      if (c === 0x2c) {
        this.pos++;
        continue;
      }
      if (c === 0x5d) {
        this.pos++;
        break;
      }
      this.fail(Number.isNaN(c) ? 'EOF while parsing a list' : "expected ',' or ']'");
    }
    this.path.pop();
    this.depth--;
    return a;
  }

  private number(): number | bigint | JsonFloat {
    const s = this.s;
    const start = this.pos;
    let p = this.pos;
    if (s.charCodeAt(p) === 0x2d) p++;
    const firstDigit = p;
    const c0 = s.charCodeAt(p);
    if (c0 === 0x30) p++;
    else if (c0 >= 0x31 && c0 <= 0x39) {
      while (isDigit(s.charCodeAt(p))) p++;
    } else {
      this.pos = p;
      this.fail('invalid number: expected a digit');
    }
    const intDigits = p - firstDigit;
    let integer = true;
    if (s.charCodeAt(p) === 0x2e) {
      p++;
      if (!isDigit(s.charCodeAt(p))) {
        this.pos = p;
        this.fail('invalid number: expected a digit after the decimal point');
      }
      while (isDigit(s.charCodeAt(p))) p++;
      integer = false;
    }
    const e = s.charCodeAt(p);
    if (e === 0x65 || e === 0x45) {
      p++;
      const sign = s.charCodeAt(p);
      if (sign === 0x2b || sign === 0x2d) p++;
      if (!isDigit(s.charCodeAt(p))) {
        this.pos = p;
        this.fail('invalid number: expected a digit in the exponent');
      }
      while (isDigit(s.charCodeAt(p))) p++;
      integer = false;
    }
    this.pos = p;
    const text = s.slice(start, p);
    // serde_json reads '-0' as the float -0.0, and integers outside i64/u64 as floats; BigInt of
    // a huge digit string is also quadratic, so never build one past 20 digits.
    if (!integer || text === '-0' || intDigits > 20) return new JsonFloat(text);
    return intDigits <= 15 ? Number(text) : BigInt(text);
  }

  /** Parses a string at the current position (which must be a `"`). */
  string(): string {
    const s = this.s;
    this.pos++;
    let out = '';
    let chunk = this.pos;
    for (;;) {
      if (this.pos >= s.length) this.fail('EOF while parsing a string');
      const c = s.charCodeAt(this.pos);
      if (c === 0x22) {
        out += s.slice(chunk, this.pos);
        this.pos++;
        return out;
      }
      if (c === 0x5c) {
        out += s.slice(chunk, this.pos);
        this.pos++;
        out += this.escape();
        chunk = this.pos;
        continue;
      }
      if (c < 0x20) this.fail('control character (U+0000–U+001F) inside a string must be escaped');
      this.pos++;
    }
  }

  private escape(): string {
    const c = this.s.charCodeAt(this.pos);
    this.pos++;
    switch (c) {
      case 0x22:
        return '"';
      case 0x5c:
        return '\\';
      case 0x2f:
        return '/';
      case 0x62:
        return '\b';
      case 0x66:
        return '\f';
      case 0x6e:
        return '\n';
      case 0x72:
        return '\r';
      case 0x74:
        return '\t';
      case 0x75: {
        const u = this.hex4();
        if (u >= 0xdc00 && u <= 0xdfff) this.fail('lone trailing surrogate in a \\u escape');
        if (u >= 0xd800 && u <= 0xdbff) {
          if (this.s.charCodeAt(this.pos) !== 0x5c || this.s.charCodeAt(this.pos + 1) !== 0x75) {
            this.fail('lone leading surrogate in a \\u escape');
          }
          this.pos += 2;
          const lo = this.hex4();
          if (lo < 0xdc00 || lo > 0xdfff) this.fail('lone leading surrogate in a \\u escape');
          return String.fromCharCode(u, lo);
        }
        return String.fromCharCode(u);
      }
      default:
        this.pos--;
        return this.fail('invalid escape (allowed: \\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)');
    }
  }

  private hex4(): number {
    let v = 0;
    for (let i = 0; i < 4; i++) {
      const c = this.s.charCodeAt(this.pos);
      let d: number;
      if (c >= 0x30 && c <= 0x39) d = c - 0x30;
      else if (c >= 0x61 && c <= 0x66) d = c - 0x57;
      else if (c >= 0x41 && c <= 0x46) d = c - 0x37;
      else return this.fail('invalid \\u escape: expected 4 hex digits');
      v = v * 16 + d;
      this.pos++;
    }
    return v;
  }
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}
