import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, Network, StateMismatchError, constant, normal, zeros, type Initializer, type LoadedTensor, type ShapeMismatch } from '@fewstep/core';

/**
 * The tensors of a critic as a transformers checkpoint stores them, and how each becomes a fewstep
 * variable. PyTorch layouts are converted on load: `nn.Linear` weights `[out, in]` → kernels
 * `[in, out]`; `nn.Conv2d` weights `[out, in, kh, kw]` → NHWC kernels `[kh, kw, in, out]`.
 */
export type Layout =
  /** Same values (the shape may gain or lose unit axes). */
  | 'copy'
  /** `[out, in]` → `[in, out]`. */
  | 'linear'
  /** `[out, in, kh, kw]` → `[kh, kw, in, out]`. */
  | 'conv';

/** One fewstep variable made from (part of) a checkpoint tensor. */
export interface SpecTarget {
  /** Variable name in the critic's {@link Network}. */
  readonly name: string;
  readonly layout: Layout;
  /** Rows `[start, end)` of the checkpoint tensor's first axis to take (fused tensors: SwiGLU `weights_in`). */
  readonly rows?: readonly [number, number];
  /** Initialiser of `create` (untrained critics). */
  readonly init: Initializer;
}

/** One checkpoint tensor: its key (without the model prefix), its PyTorch shape and its targets. */
export interface SpecEntry {
  readonly key: string;
  readonly shape: readonly number[];
  readonly targets: readonly SpecTarget[];
}

/** Initialisers of untrained critics (transformers' `_init_weights`: normal(0.02) kernels, zero biases, unit norms). */
export const INIT = {
  kernel: normal({ std: 0.02 }),
  zeros: zeros(),
  ones: constant(1),
  constant,
} as const;

/** Entries of a linear layer `<key>.weight` `[out, in]` (+ `<key>.bias`) → `<name>.kernel` / `<name>.bias`. */
export function linearEntries(key: string, name: string, inDim: number, outDim: number, bias = true): SpecEntry[] {
  const out: SpecEntry[] = [{ key: `${key}.weight`, shape: [outDim, inDim], targets: [{ name: `${name}.kernel`, layout: 'linear', init: INIT.kernel }] }];
  if (bias) out.push({ key: `${key}.bias`, shape: [outDim], targets: [{ name: `${name}.bias`, layout: 'copy', init: INIT.zeros }] });
  return out;
}

/** Entries of a LayerNorm `<key>.weight` / `<key>.bias` → `<name>.gamma` / `<name>.beta`. */
export function normEntries(key: string, name: string, dim: number): SpecEntry[] {
  return [
    { key: `${key}.weight`, shape: [dim], targets: [{ name: `${name}.gamma`, layout: 'copy', init: INIT.ones }] },
    { key: `${key}.bias`, shape: [dim], targets: [{ name: `${name}.beta`, layout: 'copy', init: INIT.zeros }] },
  ];
}

/** Entries of a conv `<key>.weight` `[out, in, k, k]` (+ bias) → `<name>.kernel` `[k, k, in, out]` / `<name>.bias`. */
export function convEntries(key: string, name: string, inDim: number, outDim: number, k: number, bias = true): SpecEntry[] {
  const out: SpecEntry[] = [{ key: `${key}.weight`, shape: [outDim, inDim, k, k], targets: [{ name: `${name}.kernel`, layout: 'conv', init: INIT.kernel }] }];
  if (bias) out.push({ key: `${key}.bias`, shape: [outDim], targets: [{ name: `${name}.bias`, layout: 'copy', init: INIT.zeros }] });
  return out;
}

/** Shape of a target in fewstep layout. */
export function targetShape(entry: SpecEntry, target: SpecTarget): number[] {
  const shape = [...entry.shape];
  if (target.rows) shape[0] = target.rows[1] - target.rows[0];
  if (target.layout === 'linear') return [shape[1]!, shape[0]!];
  if (target.layout === 'conv') return [shape[2]!, shape[3]!, shape[1]!, shape[0]!];
  return shape;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Values of `target` from the checkpoint tensor `data` (shape `entry.shape`), in fewstep layout. */
export function convertTarget(entry: SpecEntry, target: SpecTarget, data: Float32Array): Float32Array {
  let values = data;
  let shape = [...entry.shape];
  if (target.rows) {
    const rowSize = shape.slice(1).reduce((a, b) => a * b, 1);
    values = data.subarray(target.rows[0] * rowSize, target.rows[1] * rowSize);
    shape[0] = target.rows[1] - target.rows[0];
  }
  // tf.tensor copies the values into the backend; slice only so a row range does not pin the whole buffer.
  if (target.layout === 'copy') return target.rows ? values.slice() : values;
  if (target.layout === 'linear') {
    const [o, i] = shape as [number, number];
    const out = new Float32Array(o * i);
    for (let r = 0; r < o; r++) for (let c = 0; c < i; c++) out[c * o + r] = values[r * i + c]!;
    return out;
  }
  const [o, i, kh, kw] = shape as [number, number, number, number];
  const out = new Float32Array(o * i * kh * kw);
  for (let a = 0; a < o; a++) {
    for (let b = 0; b < i; b++) {
      for (let y = 0; y < kh; y++) {
        for (let x = 0; x < kw; x++) out[((y * kw + x) * i + b) * o + a] = values[((a * i + b) * kh + y) * kw + x]!;
      }
    }
  }
  return out;
}

/** Checkpoint dtypes the critics read (F16 / BF16 are widened to float32 by the reader, F64 narrowed). */
const FLOAT_DTYPES: readonly string[] = ['F32', 'F16', 'BF16', 'F64'];

/** Options of {@link bindCheckpoint}. */
export interface BindOptions {
  /** What is being loaded, for messages (e.g. `loadCritic('dinov2', '/models/dinov2-small')`). */
  readonly what: string;
  /** Keys the checkpoint may hold that the critic does not use (the DINOv2 mask token). */
  readonly unused?: readonly string[];
  /** Keys already known to be unexpected (outside the encoder's prefix), reported with the others. */
  readonly unexpected?: readonly string[];
  readonly fix: string;
}

/**
 * Strict validation of a checkpoint (keys already stripped of the model prefix) against `spec`:
 * every missing, unexpected and mis-shaped tensor is reported at once in one
 * {@link StateMismatchError}; then a non-float dtype is a `ConfigError`. Nothing is converted
 * before everything validates.
 * @returns the converted values by variable name.
 */
export function bindCheckpoint(
  spec: readonly SpecEntry[],
  tensors: ReadonlyMap<string, LoadedTensor>,
  options: BindOptions,
): Map<string, { shape: number[]; data: Float32Array }> {
  const byKey = new Map(spec.map((e) => [e.key, e]));
  const missing: string[] = [];
  const unexpected: string[] = [...(options.unexpected ?? [])];
  const shapes: ShapeMismatch[] = [];
  for (const e of spec) {
    const t = tensors.get(e.key);
    if (!t) missing.push(e.key);
    else if (!sameShape(t.shape, e.shape)) shapes.push({ name: e.key, found: t.shape, expected: e.shape });
  }
  for (const key of tensors.keys()) if (!byKey.has(key) && !options.unused?.includes(key)) unexpected.push(key);
  if (missing.length > 0 || unexpected.length > 0 || shapes.length > 0) {
    throw new StateMismatchError(options.what, missing, unexpected, shapes, options.fix);
  }
  for (const e of spec) {
    const t = tensors.get(e.key)!;
    if (!FLOAT_DTYPES.includes(t.dtype)) {
      throw new ConfigError(`dtype of checkpoint tensor '${e.key}'`, t.dtype, "'F32', 'F16', 'BF16' or 'F64'", 'convert the checkpoint to a float dtype');
    }
  }
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const e of spec) {
    const raw = tensors.get(e.key)!.data;
    const data = raw instanceof Float32Array ? raw : Float32Array.from(raw as Float64Array);
    for (const t of e.targets) out.set(t.name, { shape: targetShape(e, t), data: convertTarget(e, t, data) });
  }
  return out;
}

let nextId = 0;

/** A frozen {@link Network} holding `values` (every variable non-trainable). */
export function frozenNetwork(name: string, values: ReadonlyMap<string, { shape: number[]; data: Float32Array }>): Network {
  const net = new Network(name);
  try {
    for (const [n, v] of values) {
      const variable = tf.tidy(() => tf.variable(tf.tensor(v.data, v.shape, 'float32'), false, `${name}/${n}/critic-${nextId++}`));
      net.adopt(n, variable, 'parameter');
    }
  } catch (err) {
    net.dispose();
    throw err;
  }
  return net;
}

/** An untrained frozen {@link Network} with the spec's initialisers (`defineBackbone().create`). */
export function initNetwork(name: string, spec: readonly SpecEntry[], seed: number): Network {
  const net = new Network(name, { seed });
  try {
    for (const e of spec) for (const t of e.targets) net.param(t.name, targetShape(e, t), t.init, { trainable: false });
  } catch (err) {
    net.dispose();
    throw err;
  }
  return net;
}
