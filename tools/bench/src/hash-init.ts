import * as tf from '@tensorflow/tfjs-core';

/**
 * Deterministic, language-independent parameter and input initialisation for the engine bench.
 *
 * The PyTorch twin (`tools/bench/python/engine_bench.py`) implements the same two functions with
 * numpy's wrapping uint32 arithmetic, so both sides start from bit-identical weights and inputs and
 * their first losses must agree: that is the bench's check that the two implementations compute
 * the same math. Values are generated in fewstep's canonical layout (tfjs: conv filters
 * `[kh, kw, Cin, Cout]`, Linear weights `[in, out]`, activations NHWC); the twin transposes.
 */

/** FNV-1a 32-bit hash of an ASCII name: the seed of the tensor called `name`. */
export function nameSeed(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i) & 0xff;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/**
 * `n` values uniform on [-bound, bound): element i hashes (i, seed) with murmur3's 32-bit
 * finaliser and keeps 24 bits, so every value is exactly representable in float32.
 */
export function hashUniformValues(n: number, seed: number, bound: number): Float32Array {
  const out = new Float32Array(n);
  const s = Math.imul(seed >>> 0, 0x85ebca77) >>> 0;
  for (let i = 0; i < n; i++) {
    let x = (Math.imul(i, 0x9e3779b1) + s + 1) >>> 0;
    x ^= x >>> 16;
    x = Math.imul(x, 0x85ebca6b) >>> 0;
    x ^= x >>> 13;
    x = Math.imul(x, 0xc2b2ae35) >>> 0;
    x ^= x >>> 16;
    const u = (x >>> 8) / 16777216;
    out[i] = bound * (2 * u - 1);
  }
  return out;
}

/** A tensor of `hashUniformValues` seeded by `nameSeed(name)`, shape `shape`. */
export function hashUniform(name: string, shape: number[], bound: number): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(hashUniformValues(n, nameSeed(name), bound), shape, 'float32');
}

/** PyTorch's default Linear/Conv bound, 1/sqrt(fan_in) (kaiming_uniform with a = sqrt(5)). */
export function defaultBound(fanIn: number): number {
  return 1 / Math.sqrt(fanIn);
}
