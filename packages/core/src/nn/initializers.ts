import { ConfigError } from '../errors.js';
import { normalValues, uniformValues } from './seeded-random.js';

/**
 * A seeded parameter initialiser: `sample(shape, seed)` returns the row-major float32 values.
 * The same `(shape, seed)` gives the same values on every backend and platform.
 */
export interface Initializer {
  /** Serializable description, e.g. `{ name: 'normal', std: 0.02 }`. */
  readonly config: { readonly name: string } & Readonly<Record<string, number | string>>;
  sample(shape: readonly number[], seed: number): Float32Array;
}

/**
 * Fan-in and fan-out of a kernel in tfjs layout: dense `[in, out]`, conv `[kh, kw, cin, cout]`
 * (any rank >= 3: the leading dims are the receptive field). Rank 0 and 1 use the size for both.
 */
export function computeFans(shape: readonly number[]): { fanIn: number; fanOut: number } {
  if (shape.length === 0) return { fanIn: 1, fanOut: 1 };
  if (shape.length === 1) return { fanIn: shape[0]!, fanOut: shape[0]! };
  const receptive = shape.slice(0, -2).reduce((a, b) => a * b, 1);
  return { fanIn: receptive * shape[shape.length - 2]!, fanOut: receptive * shape[shape.length - 1]! };
}

function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** All zeros. */
export function zeros(): Initializer {
  return constant(0);
}

/** All ones. */
export function ones(): Initializer {
  return constant(1);
}

/** Every element equal to `value`. */
export function constant(value: number): Initializer {
  if (!Number.isFinite(value)) throw new ConfigError('constant.value', value, 'a finite number');
  return { config: { name: 'constant', value }, sample: (shape) => new Float32Array(size(shape)).fill(value) };
}

/** Gaussian `N(mean, std^2)` (not truncated). */
export function normal(options: { std: number; mean?: number }): Initializer {
  const { std, mean = 0 } = options;
  if (!(std >= 0) || !Number.isFinite(std)) throw new ConfigError('normal.std', std, 'a finite number >= 0');
  return {
    config: { name: 'normal', std, mean },
    sample: (shape, seed) => {
      const v = normalValues(size(shape), seed);
      for (let i = 0; i < v.length; i++) v[i] = mean + std * v[i]!;
      return v;
    },
  };
}

/** Uniform on `[lo, hi)`. */
export function uniform(lo: number, hi: number): Initializer {
  if (!(hi > lo)) throw new ConfigError('uniform.hi', hi, `a number > lo (${lo})`);
  return { config: { name: 'uniform', lo, hi }, sample: (shape, seed) => uniformValues(size(shape), seed, lo, hi) };
}

/** Glorot/Xavier uniform: `U(-l, l)`, `l = sqrt(6 / (fanIn + fanOut))` (Glorot & Bengio 2010, Eq. 16). */
export function glorotUniform(): Initializer {
  return {
    config: { name: 'glorotUniform' },
    sample: (shape, seed) => {
      const { fanIn, fanOut } = computeFans(shape);
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      return uniformValues(size(shape), seed, -limit, limit);
    },
  };
}

/** He/Kaiming uniform: `U(-l, l)`, `l = sqrt(6 / fanIn)` (He et al. 2015, Eq. 10 with a uniform law). */
export function heUniform(): Initializer {
  return {
    config: { name: 'heUniform' },
    sample: (shape, seed) => {
      const limit = Math.sqrt(6 / computeFans(shape).fanIn);
      return uniformValues(size(shape), seed, -limit, limit);
    },
  };
}

/** He/Kaiming normal: `N(0, 2 / fanIn)` (He et al. 2015, Eq. 10), not truncated. */
export function heNormal(): Initializer {
  return {
    config: { name: 'heNormal' },
    sample: (shape, seed) => {
      const std = Math.sqrt(2 / computeFans(shape).fanIn);
      const v = normalValues(size(shape), seed);
      for (let i = 0; i < v.length; i++) v[i] = std * v[i]!;
      return v;
    },
  };
}

/** Explicit values (row-major), e.g. ported weights or test fixtures; the length must match the shape. */
export function fromValues(values: ArrayLike<number>): Initializer {
  const copy = Float32Array.from(values);
  return {
    config: { name: 'fromValues' },
    sample: (shape) => {
      if (copy.length !== size(shape)) {
        throw new ConfigError('fromValues.values', `${copy.length} values`, `exactly ${size(shape)} values for shape [${shape.join(', ')}]`);
      }
      return copy.slice();
    },
  };
}
