import * as tf from '@tensorflow/tfjs-core';

/**
 * Mulberry32: a tiny, fast, seeded 32-bit PRNG. Deterministic across backends and platforms,
 * so fixtures are identical everywhere (tfjs's seeded ops depend on the backend).
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Seeded standard-normal values (Box-Muller over mulberry32). */
export function seededNormalValues(n: number, seed: number): Float32Array {
  const rand = mulberry32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u1 = Math.max(rand(), 1e-12);
    const u2 = rand();
    const r = Math.sqrt(-2 * Math.log(u1));
    out[i] = r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
  return out;
}

/** A seeded standard-normal tensor (scaled by `std`), identical on every backend. */
export function seededNormal(shape: number[], seed: number, std = 1): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = seededNormalValues(n, seed);
  if (std !== 1) for (let i = 0; i < n; i++) v[i] = (v[i] as number) * std;
  return tf.tensor(v, shape, 'float32');
}

/** A seeded uniform tensor on [lo, hi), identical on every backend. */
export function seededUniform(shape: number[], seed: number, lo = 0, hi = 1): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const rand = mulberry32(seed);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = lo + (hi - lo) * rand();
  return tf.tensor(v, shape, 'float32');
}
