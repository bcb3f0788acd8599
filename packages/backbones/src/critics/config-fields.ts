import { ConfigError } from '@fewstep/core';

/**
 * Field readers for Hugging Face `config.json` files: a missing (or `null`) field takes the
 * transformers default, a present one must validate, and an invalid one throws a
 * {@link ConfigError} naming the file's field, its value and what is allowed.
 */
export type JsonObject = Readonly<Record<string, unknown>>;

export class ConfigReader {
  constructor(
    readonly json: JsonObject,
    /** Prefix of the field names in messages, e.g. `config.json` or `config.json:vision_config`. */
    readonly where: string,
  ) {}

  #field(name: string): string {
    return `${this.where}.${name}`;
  }

  #get(name: string): unknown {
    const v = this.json[name];
    return v === null ? undefined : v;
  }

  int(name: string, fallback: number, min = 1): number {
    const v = this.#get(name) ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new ConfigError(this.#field(name), v, `an integer >= ${min}`);
    return v;
  }

  positive(name: string, fallback: number): number {
    const v = this.#get(name) ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new ConfigError(this.#field(name), v, 'a finite number > 0');
    return v;
  }

  number(name: string, fallback: number): number {
    const v = this.#get(name) ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError(this.#field(name), v, 'a finite number');
    return v;
  }

  bool(name: string, fallback: boolean): boolean {
    const v = this.#get(name) ?? fallback;
    if (typeof v !== 'boolean') throw new ConfigError(this.#field(name), v, 'true or false');
    return v;
  }

  oneOf<T extends string>(name: string, fallback: T, allowed: readonly T[]): T {
    const v = this.#get(name) ?? fallback;
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
      throw new ConfigError(this.#field(name), v, allowed.map((a) => `'${a}'`).join(', '));
    }
    return v as T;
  }

  /** A square size: an integer, or `[n, n]` (transformers accepts iterables; the critics need square tables). */
  squareSize(name: string, fallback: number): number {
    const v = this.#get(name) ?? fallback;
    const n = Array.isArray(v) && v.length === 2 && v[0] === v[1] ? v[0] : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) throw new ConfigError(this.#field(name), v, 'a positive integer (or [n, n])');
    return n;
  }

  intList(name: string, fallback: readonly number[], min: number, maxExclusive: number): number[] {
    const v = this.#get(name) ?? fallback;
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= min && x < maxExclusive)) {
      throw new ConfigError(this.#field(name), v, `a list of integers in [${min}, ${maxExclusive})`);
    }
    return [...(v as number[])];
  }
}

/** @throws ConfigError unless `value` is an integer >= `min` (options of the TypeScript API). */
export function checkInt(field: string, value: unknown, min = 1): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) throw new ConfigError(field, value, `an integer >= ${min}`);
  return value;
}
