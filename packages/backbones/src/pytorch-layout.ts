/**
 * @file fewstep <-> PyTorch weight layout for fewstep's own backbones. fewstep stores NHWC-style
 * kernels (`[in, out]` dense, `[kh, kw, cin, cout]` conv, `[kt, kh, kw, cin, cout]` 3D conv) and
 * names leaves `kernel` / `bias` / `gamma` / `beta` / `embedding`; PyTorch stores `weight` as
 * `[out, in]` / `[cout, cin, kh, kw]` / `[cout, cin, kt, kh, kw]`. The mapping is a pure renaming
 * plus a transpose, so a round trip is bit-exact.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, StateMismatchError, type Network } from '@fewstep/core';

/** How one variable maps to PyTorch. */
export interface PyTorchEntry {
  /** fewstep name, e.g. `down.0.res.0.conv1.kernel`. */
  readonly name: string;
  /** PyTorch name, e.g. `down.0.res.0.conv1.weight`. */
  readonly torchName: string;
  /** fewstep shape. */
  readonly shape: readonly number[];
  /** PyTorch shape. */
  readonly torchShape: readonly number[];
  /** Permutation from the fewstep layout to the PyTorch one (`tf.transpose(x, perm)`); undefined when unchanged. */
  readonly perm?: readonly number[];
  /** The shape the fewstep tensor is viewed as before `perm` (differs from `shape` for conv LoRA factors). @default shape */
  readonly view?: readonly number[];
}

function inversePerm(perm: readonly number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => (inv[p] = i));
  return inv;
}

/** `[..spatial, cin, cout]` -> `[cout, cin, ..spatial]` (any rank >= 2; rank 2 is a plain transpose). */
function kernelPerm(rank: number): number[] {
  return [rank - 1, rank - 2, ...Array.from({ length: rank - 2 }, (_, i) => i)];
}

/**
 * The PyTorch name and layout of one fewstep variable. `shapes` (name → shape of the whole
 * network) is needed only for LoRA factors, whose layout follows their base kernel.
 *
 * - `X.kernel` → `X.weight`, transposed by `[r-1, r-2, 0..r-3]` (dense `[out, in]`, conv `[cout, cin, k...]`)
 * - `X.gamma` → `X.weight`, `X.beta` → `X.bias`, `X.embedding` → `X.weight` (same layout)
 * - `X.kernel.lora_A` / `.lora_B` → `X.lora_A.weight` / `X.lora_B.weight` in peft's layout
 *   (`[r, in]` / `[out, r]`; conv: `[r, cin, kh, kw]` / `[cout, r, 1, 1]`)
 * - anything else (`bias`, `pos_embed`) keeps its name and layout.
 */
export function pytorchEntry(name: string, shape: readonly number[], shapes?: ReadonlyMap<string, readonly number[]>): PyTorchEntry {
  const lora = /^(.*)\.kernel\.lora_(A|B)$/.exec(name);
  if (lora) {
    const base = `${lora[1]}.kernel`;
    const baseShape = shapes?.get(base);
    if (!baseShape) throw new ConfigError(`LoRA factor '${name}'`, 'no base kernel shape', `the shape of '${base}' in the same weight set`);
    const torchName = `${lora[1]}.lora_${lora[2]}.weight`;
    const [rows, r] = shape as [number, number];
    if (baseShape.length === 2) return { name, torchName, shape, torchShape: [shape[1]!, shape[0]!], perm: [1, 0] };
    // Conv: A [k..., cin, r] viewed as a conv kernel; B [r, cout] as a 1x1 conv.
    const spatial = baseShape.slice(0, -2);
    if (lora[2] === 'A') {
      const view = [...spatial, baseShape[baseShape.length - 2]!, r];
      return { name, torchName, shape, torchShape: [r, view[view.length - 2]!, ...spatial], perm: kernelPerm(view.length), view };
    }
    return { name, torchName, shape, torchShape: [shape[1]!, rows, ...spatial.map(() => 1)], perm: [1, 0] };
  }
  const leaf = name.slice(name.lastIndexOf('.') + 1);
  const stem = name.slice(0, name.lastIndexOf('.') + 1);
  if (leaf === 'kernel' && shape.length >= 2) {
    const perm = kernelPerm(shape.length);
    return { name, torchName: `${stem}weight`, shape, torchShape: perm.map((p) => shape[p]!), perm };
  }
  if (leaf === 'gamma' || leaf === 'embedding') return { name, torchName: `${stem}weight`, shape, torchShape: shape };
  if (leaf === 'beta') return { name, torchName: `${stem}bias`, shape, torchShape: shape };
  return { name, torchName: name, shape, torchShape: shape };
}

/** The mapping of every variable of a weight set (name → shape), with duplicate PyTorch names rejected. */
export function pytorchMapping(shapes: ReadonlyMap<string, readonly number[]>): PyTorchEntry[] {
  const entries = [...shapes].map(([n, s]) => pytorchEntry(n, s, shapes));
  const seen = new Map<string, string>();
  for (const e of entries) {
    const prev = seen.get(e.torchName);
    if (prev !== undefined) throw new ConfigError('PyTorch name', e.torchName, `a name used once (both '${prev}' and '${e.name}' map to it)`);
    seen.set(e.torchName, e.name);
  }
  return entries;
}

/**
 * fewstep weights (`Network.getWeights()` or any name → tensor map) in PyTorch names and layouts.
 * The input stays owned by the caller; the caller owns the result.
 * @example writeSafetensors(path, toPyTorchStateDict(net.getWeights()))
 */
export function toPyTorchStateDict(weights: ReadonlyMap<string, tf.Tensor>): Map<string, tf.Tensor> {
  const shapes = new Map([...weights].map(([n, t]) => [n, t.shape] as const));
  const out = new Map<string, tf.Tensor>();
  for (const e of pytorchMapping(shapes)) {
    const t = weights.get(e.name)!;
    out.set(e.torchName, tf.tidy(() => (e.perm ? tf.reshape(tf.transpose(tf.reshape(t, [...(e.view ?? e.shape)]), [...e.perm]), [...e.torchShape]) : tf.clone(t))));
  }
  return out;
}

/**
 * A PyTorch state dict (names and layouts of {@link toPyTorchStateDict}) converted back to
 * fewstep names and layouts for `net` (whose names and shapes drive the inverse mapping).
 * Load the result with `net.setWeights(...)`. The caller owns the result.
 * @throws StateMismatchError listing missing, unexpected and mis-shaped entries (strict by default)
 */
export function fromPyTorchStateDict(state: ReadonlyMap<string, tf.Tensor>, net: Network, options: { strict?: boolean } = {}): Map<string, tf.Tensor> {
  const { strict = true } = options;
  const shapes = new Map([...net.variables()].map(([n, v]) => [n, v.shape] as const));
  const entries = pytorchMapping(shapes);
  const missing: string[] = [];
  const mismatched: { name: string; found: readonly number[]; expected: readonly number[] }[] = [];
  const known = new Set(entries.map((e) => e.torchName));
  const unexpected = [...state.keys()].filter((k) => !known.has(k));
  for (const e of entries) {
    const t = state.get(e.torchName);
    if (!t) missing.push(e.torchName);
    else if (t.shape.length !== e.torchShape.length || t.shape.some((d, i) => d !== e.torchShape[i])) mismatched.push({ name: e.torchName, found: t.shape, expected: e.torchShape });
  }
  if ((strict && (missing.length > 0 || unexpected.length > 0)) || mismatched.length > 0) {
    throw new StateMismatchError(`fromPyTorchStateDict into '${net.name}'`, strict ? missing : [], strict ? unexpected : [], mismatched, 'export the state dict from a backbone built with the same config (toPyTorchStateDict)');
  }
  const out = new Map<string, tf.Tensor>();
  for (const e of entries) {
    const t = state.get(e.torchName);
    if (!t) continue;
    out.set(
      e.name,
      tf.tidy(() => {
        if (!e.perm) return tf.clone(t);
        // Undo the final reshape (conv LoRA factors), then the permutation, then the view.
        const view = e.view ?? e.shape;
        const permutedShape = e.perm.map((p) => view[p]!);
        return tf.reshape(tf.transpose(tf.reshape(t, permutedShape), inversePerm(e.perm)), [...e.shape]);
      }),
    );
  }
  return out;
}
