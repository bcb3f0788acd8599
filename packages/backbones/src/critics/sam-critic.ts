import * as tf from '@tensorflow/tfjs-core';
import { ShapeError, type Network } from '@fewstep/core';
import { INIT, convEntries, initNetwork, linearEntries, normEntries, type SpecEntry } from './checkpoint-spec.js';
import { resolveLayerIndices, resolveTaps, type CriticOutput, type VisionCritic } from './critic-types.js';
import { validateSamConfig, type SamConfig } from './sam-config.js';
import { resizeGrid, resizeRows } from './resample.js';
import { activation, attention, dense, layerNorm, mergeHeads, patchEmbed, splitHeads } from './vit-ops.js';

/** LayerNorm eps of the neck (transformers' `SamLayerNorm` default, not `layer_norm_eps`). */
const NECK_EPS = 1e-6;

/** Window side of layer `i`: 0 for a global-attention layer (transformers' `SamVisionLayer`). */
function layerWindow(c: SamConfig, i: number): number {
  return c.globalAttnIndexes.includes(i) ? 0 : c.windowSize;
}

/**
 * The tensors of a `SamVisionEncoder` checkpoint (keys without the `vision_encoder.` prefix of
 * `SamModel` / `SamVisionModel`) and their fewstep variables.
 */
export function samCheckpointSpec(c: SamConfig): SpecEntry[] {
  const d = c.hiddenSize;
  const g = Math.floor(c.imageSize / c.patchSize);
  const hd = d / c.numHeads;
  const spec: SpecEntry[] = [...convEntries('patch_embed.projection', 'patch', c.numChannels, d, c.patchSize)];
  if (c.useAbsPos) spec.push({ key: 'pos_embed', shape: [1, g, g, d], targets: [{ name: 'pos_embed', layout: 'copy', init: INIT.zeros }] });
  for (let i = 0; i < c.numLayers; i++) {
    const k = `layers.${i}`;
    const n = `layers.${i}`;
    spec.push(...normEntries(`${k}.layer_norm1`, `${n}.norm1`, d), ...linearEntries(`${k}.attn.qkv`, `${n}.attn.qkv`, d, 3 * d, c.qkvBias));
    spec.push(...linearEntries(`${k}.attn.proj`, `${n}.attn.proj`, d, d));
    if (c.useRelPos) {
      const s = layerWindow(c, i) || g;
      for (const axis of ['h', 'w']) {
        spec.push({ key: `${k}.attn.rel_pos_${axis}`, shape: [2 * s - 1, hd], targets: [{ name: `${n}.attn.rel_pos_${axis}`, layout: 'copy', init: INIT.zeros }] });
      }
    }
    spec.push(
      ...normEntries(`${k}.layer_norm2`, `${n}.norm2`, d),
      ...linearEntries(`${k}.mlp.lin1`, `${n}.mlp.fc1`, d, c.mlpDim),
      ...linearEntries(`${k}.mlp.lin2`, `${n}.mlp.fc2`, c.mlpDim, d),
    );
  }
  spec.push(
    ...convEntries('neck.conv1', 'neck.conv1', d, c.outputChannels, 1, false),
    ...normEntries('neck.layer_norm1', 'neck.norm1', c.outputChannels),
    ...convEntries('neck.conv2', 'neck.conv2', c.outputChannels, c.outputChannels, 3, false),
    ...normEntries('neck.layer_norm2', 'neck.norm2', c.outputChannels),
  );
  return spec;
}

/**
 * SAM's ViT image encoder as a critic, computing what transformers' `SamVisionEncoder` computes:
 * stride-p patch embedding + absolute position table, blocks `x + Attn(LN(x))`,
 * `x + MLP(LN(x))` where attention is windowed (the token grid zero-padded to a multiple of the
 * window, then cropped) except at `globalAttnIndexes`, with MViTv2's decomposed relative position
 * bias (Li et al. 2022, Eq. 4; the tables linearly resized when their length differs), then the
 * neck conv1×1 → LayerNorm2d → conv3×3 → LayerNorm2d.
 *
 * transformers returns SAM's hidden states as maps `[B, H/p, W/p, D]` (see
 * {@link SamCritic.hiddenStateMaps}); {@link SamCritic.hiddenStates} returns the same values as
 * tokens `[B, (H/p)(W/p), D]` (row-major). Index 0 is the embeddings, the last one is before the
 * neck; {@link SamCritic.lastHiddenState} is the neck output, NHWC `[B, H/p, W/p, C_out]`
 * (transformers: NCHW `[B, C_out, H/p, W/p]`).
 */
export class SamCritic implements VisionCritic<SamConfig> {
  readonly kind = 'backbones:critic-sam';
  readonly config: Readonly<SamConfig>;
  readonly net: Network;
  readonly patchSize: number;
  readonly hiddenSize: number;
  readonly numHiddenStates: number;
  readonly prefixTokens = 0;
  /** Side of the checkpoint's absolute position grid (`imageSize / patchSize`). */
  readonly gridSize: number;

  /** Wraps `net`, whose variables must follow {@link samCheckpointSpec} (use `loadCritic` or {@link SamCritic.create}). */
  constructor(config: SamConfig, net: Network) {
    this.config = Object.freeze({ ...validateSamConfig(config), globalAttnIndexes: [...config.globalAttnIndexes] });
    this.net = net;
    this.patchSize = config.patchSize;
    this.hiddenSize = config.hiddenSize;
    this.numHiddenStates = config.numLayers + 1;
    this.gridSize = Math.floor(config.imageSize / config.patchSize);
  }

  /** An untrained frozen critic (transformers' initialisers: zero position tables, seeded kernels). */
  static create(config: SamConfig, options: { seed?: number; name?: string } = {}): SamCritic {
    validateSamConfig(config);
    return new SamCritic(config, initNetwork(options.name ?? 'critic-sam', samCheckpointSpec(config), options.seed ?? 1));
  }

  /** transformers' SAM `hidden_states[i]` as it returns them: `[B, H/p, W/p, D]`. */
  hiddenStateMaps(images: tf.Tensor4D, layers: readonly number[]): tf.Tensor4D[] {
    const wanted = resolveLayerIndices(layers, this.numHiddenStates);
    if (wanted.length === 0) return [];
    const last = Math.max(...wanted);
    return tf.tidy(() => {
      const states: tf.Tensor4D[] = [this.#embed(images)];
      for (let i = 0; i < last; i++) states.push(this.#layer(i, states[i]!));
      return wanted.map((i) => (wanted.indexOf(i) === wanted.lastIndexOf(i) ? states[i]! : tf.clone(states[i]!)));
    });
  }

  /** `hidden_states[i]` as tokens `[B, (H/p)(W/p), D]`. */
  hiddenStates(images: tf.Tensor4D, layers: readonly number[]): tf.Tensor3D[] {
    return tf.tidy(() => this.hiddenStateMaps(images, layers).map((m) => tf.reshape(m, [m.shape[0], m.shape[1] * m.shape[2], m.shape[3]]) as tf.Tensor3D));
  }

  /** The neck output, NHWC `[B, H/p, W/p, C_out]`. */
  lastHiddenState(images: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => this.#neck(this.hiddenStateMaps(images, [-1])[0]!));
  }

  /** `out` = the neck output (NHWC); taps = hidden states as tokens. */
  forward(images: tf.Tensor4D, options: { taps?: readonly string[] | 'all' | 'none' } = {}): CriticOutput {
    const tapIdx = resolveTaps(options.taps, this.numHiddenStates);
    return tf.tidy(() => {
      const maps = this.hiddenStateMaps(images, [...tapIdx, -1]);
      const out = this.#neck(maps[maps.length - 1]!);
      const taps: Record<string, tf.Tensor> = {};
      tapIdx.forEach((i, j) => {
        const m = maps[j]!;
        taps[`hidden_states.${i}`] = tf.reshape(m, [m.shape[0], m.shape[1] * m.shape[2], m.shape[3]]);
      });
      return { out, taps };
    });
  }

  tapNames(): string[] {
    return Array.from({ length: this.numHiddenStates }, (_, i) => `hidden_states.${i}`);
  }

  toConfig(): SamConfig {
    return { ...this.config, globalAttnIndexes: [...this.config.globalAttnIndexes] };
  }

  dispose(): void {
    this.net.dispose();
  }

  /** `hidden_states[0]`: patch embedding + absolute position table, `[B, h, w, D]`. */
  #embed(images: tf.Tensor4D): tf.Tensor4D {
    const x = patchEmbed(this.net, 'patch', images, 'SamCritic images');
    if (!this.config.useAbsPos) return x;
    const [, h, w, d] = x.shape;
    const g = this.gridSize;
    const table = this.net.variable('pos_embed') as tf.Tensor4D;
    if (h === g && w === g) return tf.add(x, table);
    if (this.config.posEmbedResize === 'exact') {
      throw new ShapeError(
        'SamCritic images',
        images.shape,
        `[B, ${this.config.imageSize}, ${this.config.imageSize}, ${this.config.numChannels}] (the checkpoint's image_size, as transformers' SamVisionEncoder requires)`,
        "resize the images to image_size, or load the critic with { posEmbedResize: 'bicubic' } to resize the position table",
      );
    }
    const resized = resizeGrid(tf.reshape(table, [g, g, d]) as tf.Tensor3D, h, w, { mode: 'cubic' });
    return tf.add(x, tf.reshape(resized, [1, h, w, d]));
  }

  /** Layer i: windowed (or global) attention and MLP, both residual. */
  #layer(i: number, x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const net = this.net;
      const eps = this.config.layerNormEps;
      const p = `layers.${i}`;
      const ws = layerWindow(this.config, i);
      const y = layerNorm(net, `${p}.norm1`, x, eps) as tf.Tensor4D;
      const a = ws > 0 ? unpartition(this.#attention(i, partition(y, ws)), x.shape) : this.#attention(i, y);
      const h = tf.add(x, a);
      const z = layerNorm(net, `${p}.norm2`, h, eps);
      return tf.add(h, dense(net, `${p}.mlp.fc2`, activation(this.config.hiddenAct, dense(net, `${p}.mlp.fc1`, z)))) as tf.Tensor4D;
    });
  }

  /** Multi-head attention over each `[hh, ww]` grid of `x` `[N, hh, ww, D]`, with the decomposed relative bias. */
  #attention(i: number, x: tf.Tensor4D): tf.Tensor4D {
    const net = this.net;
    const { numHeads: heads } = this.config;
    const [n, hh, ww, d] = x.shape;
    const p = `layers.${i}.attn`;
    const qkv = dense(net, `${p}.qkv`, tf.reshape(x, [n, hh * ww, d]));
    const [q, k, v] = tf.split(qkv, 3, 2) as [tf.Tensor, tf.Tensor, tf.Tensor];
    const qh = splitHeads(q, heads);
    let bias: tf.Tensor | undefined;
    if (this.config.useRelPos) {
      const rel = decomposedRelPos(tf.reshape(qh, [n * heads, hh, ww, d / heads]) as tf.Tensor4D, net.variable(`${p}.rel_pos_h`) as tf.Tensor2D, net.variable(`${p}.rel_pos_w`) as tf.Tensor2D);
      bias = tf.reshape(rel, [n, heads, hh * ww, hh * ww]);
    }
    const out = attention(qh, splitHeads(k, heads), splitHeads(v, heads), 1 / Math.sqrt(d / heads), bias);
    return tf.reshape(dense(net, `${p}.proj`, mergeHeads(out)), [n, hh, ww, d]);
  }

  /** conv1×1 → LayerNorm2d → conv3×3 (padding 1) → LayerNorm2d, NHWC. */
  #neck(x: tf.Tensor4D): tf.Tensor4D {
    const net = this.net;
    const k1 = net.variable('neck.conv1.kernel') as tf.Tensor4D;
    const [, , d, c] = k1.shape;
    const [b, h, w] = x.shape;
    let y: tf.Tensor = tf.reshape(tf.matMul(tf.reshape(x, [b * h * w, d]), tf.reshape(k1, [d, c]) as tf.Tensor2D), [b, h, w, c]);
    y = layerNorm(net, 'neck.norm1', y, NECK_EPS);
    y = tf.conv2d(y as tf.Tensor4D, net.variable('neck.conv2.kernel') as tf.Tensor4D, 1, 'same');
    return layerNorm(net, 'neck.norm2', y, NECK_EPS) as tf.Tensor4D;
  }
}

/** `[B, H, W, C]` → windows `[B·nh·nw, ws, ws, C]`, zero-padding H and W up to multiples of ws. */
export function partition(x: tf.Tensor4D, ws: number): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  const hp = Math.ceil(h / ws) * ws;
  const wp = Math.ceil(w / ws) * ws;
  const padded = hp === h && wp === w ? x : tf.pad(x, [[0, 0], [0, hp - h], [0, wp - w], [0, 0]]);
  const rows = tf.reshape(padded, [(b * hp) / ws, ws, wp / ws, ws * c]);
  return tf.reshape(tf.transpose(rows, [0, 2, 1, 3]), [(b * hp * wp) / (ws * ws), ws, ws, c]);
}

/** Inverse of {@link partition}: windows back to `[B, H, W, C]` (`shape`), padding cropped. */
export function unpartition(windows: tf.Tensor4D, shape: readonly number[]): tf.Tensor4D {
  const [, ws, , c] = windows.shape;
  const [b, h, w] = shape as [number, number, number];
  const hp = Math.ceil(h / ws) * ws;
  const wp = Math.ceil(w / ws) * ws;
  const rows = tf.reshape(windows, [(b * hp) / ws, wp / ws, ws, ws * c]);
  const full = tf.reshape(tf.transpose(rows, [0, 2, 1, 3]), [b, hp, wp, c]) as tf.Tensor4D;
  return hp === h && wp === w ? full : tf.slice(full, [0, 0, 0, 0], [b, h, w, c]);
}

/**
 * transformers' `get_rel_pos` for self-attention over `s` positions: the table `[L, C]` linearly
 * resized to `2s - 1` rows when needed, then `R[i, j] = table[i - j + s - 1]`, `[s, s, C]`.
 */
export function relativeTable(table: tf.Tensor2D, s: number): tf.Tensor3D {
  const resized = resizeRows(table, 2 * s - 1, { mode: 'linear' });
  const idx = new Int32Array(s * s);
  for (let i = 0; i < s; i++) for (let j = 0; j < s; j++) idx[i * s + j] = i - j + s - 1;
  return tf.reshape(tf.gather(resized, tf.tensor1d(idx, 'int32')), [s, s, table.shape[1]]);
}

/**
 * Decomposed relative position bias (MViTv2, Li et al. 2022): for queries `q` `[M, h, w, C]`,
 * `bias[m, (y,x), (y',x')] = q[m,y,x]·Rh[y,y'] + q[m,y,x]·Rw[x,x']`, returned as `[M, hw, hw]`.
 */
export function decomposedRelPos(q: tf.Tensor4D, relPosH: tf.Tensor2D, relPosW: tf.Tensor2D): tf.Tensor3D {
  const [m, h, w, c] = q.shape;
  const rh = relativeTable(relPosH, h); // [h, h', C]
  const rw = relativeTable(relPosW, w); // [w, w', C]
  // relH[m, y, x, y'] = Σ_c q[m, y, x, c] · Rh[y, y', c], batched over y.
  const qByRow = tf.reshape(tf.transpose(q, [1, 0, 2, 3]), [h, m * w, c]);
  const relH = tf.transpose(tf.reshape(tf.matMul(qByRow, rh, false, true), [h, m, w, h]), [1, 0, 2, 3]);
  // relW[m, y, x, x'] = Σ_c q[m, y, x, c] · Rw[x, x', c], batched over x.
  const qByCol = tf.reshape(tf.transpose(q, [2, 0, 1, 3]), [w, m * h, c]);
  const relW = tf.transpose(tf.reshape(tf.matMul(qByCol, rw, false, true), [w, m, h, w]), [1, 2, 0, 3]);
  const sum = tf.add(tf.reshape(relH, [m * h * w, h, 1]), tf.reshape(relW, [m * h * w, 1, w]));
  return tf.reshape(sum, [m, h * w, h * w]);
}
