import { ConfigError } from '@fewstep/core';

/** @throws ConfigError unless `value` is an integer >= `min`. */
export function checkInt(field: string, value: unknown, min = 1): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) throw new ConfigError(field, value, `an integer >= ${min}`);
  return value;
}

/** @throws ConfigError unless `value` is a finite number > 0. */
export function checkPositive(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new ConfigError(field, value, 'a finite number > 0');
  return value;
}

/** @throws ConfigError unless `value` is null or an integer >= 1. */
export function checkOptionalDim(field: string, value: unknown): number | null {
  if (value === null) return null;
  return checkInt(field, value, 1);
}

/** @throws ConfigError unless `value` is a boolean. */
export function checkBool(field: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new ConfigError(field, value, 'true or false');
  return value;
}

/** @throws ConfigError unless `value` is a seed for `Network` (integer in [0, 2^32)). */
export function checkSeed(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new ConfigError(field, value, 'an integer in [0, 2^32)');
  }
  return value;
}

/** @throws ConfigError on a key of `config` that is not in `known` (catches misspelt options). */
export function checkKnownKeys(what: string, config: object, known: readonly string[]): void {
  for (const key of Object.keys(config)) {
    if (!known.includes(key)) throw new ConfigError(`${what}.${key}`, key, `one of the known keys ${known.map((k) => `'${k}'`).join(', ')}`, 'remove or rename it');
  }
}

/** @throws ConfigError unless `preset` names one of `presets`. */
export function pickPreset<T>(what: string, presets: Readonly<Record<string, T>>, preset: string): T {
  const p = presets[preset];
  if (p === undefined) throw new ConfigError(`${what} preset`, preset, Object.keys(presets).map((k) => `'${k}'`).join(', '));
  return p;
}
