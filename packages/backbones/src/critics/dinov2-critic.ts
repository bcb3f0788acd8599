import * as tf from '@tensorflow/tfjs-core';
import type { Network } from '@fewstep/core';
import { INIT, convEntries, initNetwork, linearEntries, normEntries, type SpecEntry } from './checkpoint-spec.js';
import { resolveLayerIndices, resolveTaps, type CriticOutput, type VisionCritic } from './critic-types.js';
import { dinov2MlpWidth, validateDinov2Config, type Dinov2Config } from './dinov2-config.js';
import { resizeGrid, type AxisResample } from './resample.js';
import { activation, attention, dense, layerNorm, mergeHeads, patchEmbed, splitHeads } from './vit-ops.js';

/**
 * The tensors of a `Dinov2Model` / `Dinov2WithRegistersModel` checkpoint, with the key names of
 * the hub checkpoints (`encoder.layer.<i>.attention.attention.query.weight`, ...; transformers 5
 * renames them to `q_proj` & co. in memory but writes these) and their fewstep variables.
 * `embeddings.mask_token` (masked-image pretraining only) is not part of it.
 */
export function dinov2CheckpointSpec(c: Dinov2Config): SpecEntry[] {
  const d = c.hiddenSize;
  const g = c.imageSize / c.patchSize;
  const grid = Math.floor(g) * Math.floor(g);
  const spec: SpecEntry[] = [
    { key: 'embeddings.cls_token', shape: [1, 1, d], targets: [{ name: 'embeddings.cls_token', layout: 'copy', init: INIT.kernel }] },
    ...convEntries('embeddings.patch_embeddings.projection', 'embeddings.patch', c.numChannels, d, c.patchSize),
    {
      key: 'embeddings.position_embeddings',
      shape: [1, grid + 1, d],
      targets: [{ name: 'embeddings.position_embeddings', layout: 'copy', init: INIT.kernel }],
    },
  ];
  if (c.numRegisterTokens > 0) {
    spec.push({
      key: 'embeddings.register_tokens',
      shape: [1, c.numRegisterTokens, d],
      targets: [{ name: 'embeddings.register_tokens', layout: 'copy', init: INIT.zeros }],
    });
  }
  const m = dinov2MlpWidth(c);
  for (let i = 0; i < c.numLayers; i++) {
    const k = `encoder.layer.${i}`;
    const n = `layers.${i}`;
    spec.push(
      ...normEntries(`${k}.norm1`, `${n}.norm1`, d),
      ...linearEntries(`${k}.attention.attention.query`, `${n}.attn.q`, d, d, c.qkvBias),
      ...linearEntries(`${k}.attention.attention.key`, `${n}.attn.k`, d, d, c.qkvBias),
      ...linearEntries(`${k}.attention.attention.value`, `${n}.attn.v`, d, d, c.qkvBias),
      ...linearEntries(`${k}.attention.output.dense`, `${n}.attn.out`, d, d),
      { key: `${k}.layer_scale1.lambda1`, shape: [d], targets: [{ name: `${n}.ls1`, layout: 'copy', init: INIT.constant(c.layerscaleValue) }] },
      ...normEntries(`${k}.norm2`, `${n}.norm2`, d),
    );
    if (c.useSwiglu) {
      // weights_in fuses [gate; up] along the output axis (transformers chunks it in two).
      spec.push(
        {
          key: `${k}.mlp.weights_in.weight`,
          shape: [2 * m, d],
          targets: [
            { name: `${n}.mlp.gate.kernel`, layout: 'linear', rows: [0, m], init: INIT.kernel },
            { name: `${n}.mlp.up.kernel`, layout: 'linear', rows: [m, 2 * m], init: INIT.kernel },
          ],
        },
        {
          key: `${k}.mlp.weights_in.bias`,
          shape: [2 * m],
          targets: [
            { name: `${n}.mlp.gate.bias`, layout: 'copy', rows: [0, m], init: INIT.zeros },
            { name: `${n}.mlp.up.bias`, layout: 'copy', rows: [m, 2 * m], init: INIT.zeros },
          ],
        },
        ...linearEntries(`${k}.mlp.weights_out`, `${n}.mlp.down`, m, d),
      );
    } else {
      spec.push(...linearEntries(`${k}.mlp.fc1`, `${n}.mlp.fc1`, d, m), ...linearEntries(`${k}.mlp.fc2`, `${n}.mlp.fc2`, m, d));
    }
    spec.push({ key: `${k}.layer_scale2.lambda1`, shape: [d], targets: [{ name: `${n}.ls2`, layout: 'copy', init: INIT.constant(c.layerscaleValue) }] });
  }
  spec.push(...normEntries('layernorm', 'norm', d));
  return spec;
}

/**
 * A DINOv2 ViT critic (Oquab et al. 2023) computing what transformers' `Dinov2Model` /
 * `Dinov2WithRegistersModel` computes: stride-p patch embedding, CLS token, position table
 * resampled to the input grid (bicubic, see {@link Dinov2Config.interpolateAntialias}), register
 * tokens after the CLS token, pre-LN blocks `x + γ₁·Attn(LN(x))`, `x + γ₂·MLP(LN(x))` with
 * LayerScale γ, final LayerNorm.
 *
 * Hidden states are `[B, 1 + R + (H/p)(W/p), D]`: CLS, R registers, then the patch tokens in
 * row-major order. Index 0 is the embeddings, index i the output of block i; the last one is
 * before the final LayerNorm (as transformers' `hidden_states`), {@link lastHiddenState} after it.
 */
export class Dinov2Critic implements VisionCritic<Dinov2Config> {
  readonly kind = 'backbones:critic-dinov2';
  readonly config: Readonly<Dinov2Config>;
  readonly net: Network;
  readonly patchSize: number;
  readonly hiddenSize: number;
  readonly numHiddenStates: number;
  readonly prefixTokens: number;
  /** Side of the square position grid of the checkpoint (`imageSize / patchSize`). */
  readonly gridSize: number;

  /** Wraps `net`, whose variables must follow {@link dinov2CheckpointSpec} (use `loadCritic` or {@link Dinov2Critic.create}). */
  constructor(config: Dinov2Config, net: Network) {
    this.config = Object.freeze({ ...validateDinov2Config(config) });
    this.net = net;
    this.patchSize = config.patchSize;
    this.hiddenSize = config.hiddenSize;
    this.numHiddenStates = config.numLayers + 1;
    this.prefixTokens = 1 + config.numRegisterTokens;
    this.gridSize = Math.floor(config.imageSize / config.patchSize);
  }

  /** An untrained frozen critic (transformers' initialisers, seeded). */
  static create(config: Dinov2Config, options: { seed?: number; name?: string } = {}): Dinov2Critic {
    validateDinov2Config(config);
    return new Dinov2Critic(config, initNetwork(options.name ?? 'critic-dinov2', dinov2CheckpointSpec(config), options.seed ?? 1));
  }

  hiddenStates(images: tf.Tensor4D, layers: readonly number[]): tf.Tensor3D[] {
    const wanted = resolveLayerIndices(layers, this.numHiddenStates);
    if (wanted.length === 0) return [];
    const last = Math.max(...wanted);
    return tf.tidy(() => {
      const states: tf.Tensor3D[] = [this.#embed(images)];
      for (let i = 0; i < last; i++) states.push(this.#block(i, states[i]!));
      return wanted.map((i) => (wanted.indexOf(i) === wanted.lastIndexOf(i) ? states[i]! : tf.clone(states[i]!)));
    });
  }

  /** `[B, tokens, D]`: the last block's output after the final LayerNorm. */
  lastHiddenState(images: tf.Tensor4D): tf.Tensor3D {
    return tf.tidy(() => {
      const [h] = this.hiddenStates(images, [-1]);
      return layerNorm(this.net, 'norm', h!, this.config.layerNormEps) as tf.Tensor3D;
    });
  }

  forward(images: tf.Tensor4D, options: { taps?: readonly string[] | 'all' | 'none' } = {}): CriticOutput {
    const tapIdx = resolveTaps(options.taps, this.numHiddenStates);
    return tf.tidy(() => {
      const states = this.hiddenStates(images, [...tapIdx, -1]);
      const out = layerNorm(this.net, 'norm', states[states.length - 1]!, this.config.layerNormEps);
      const taps: Record<string, tf.Tensor> = {};
      tapIdx.forEach((i, j) => (taps[`hidden_states.${i}`] = states[j]!));
      return { out, taps };
    });
  }

  tapNames(): string[] {
    return Array.from({ length: this.numHiddenStates }, (_, i) => `hidden_states.${i}`);
  }

  toConfig(): Dinov2Config {
    return { ...this.config };
  }

  dispose(): void {
    this.net.dispose();
  }

  /** `hidden_states[0]`: `[CLS + pos₀; registers; patches + pos]`, `[B, 1 + R + hw, D]`. */
  #embed(images: tf.Tensor4D): tf.Tensor3D {
    const net = this.net;
    const patches = patchEmbed(net, 'embeddings.patch', images, 'Dinov2Critic images');
    const [b, h, w, d] = patches.shape;
    const pos = this.#positions(h, w); // [1, 1 + hw, D]
    const cls = tf.add(net.variable('embeddings.cls_token'), tf.slice(pos, [0, 0, 0], [1, 1, d]));
    const parts: tf.Tensor[] = [tf.broadcastTo(cls, [b, 1, d])];
    if (this.config.numRegisterTokens > 0) {
      parts.push(tf.broadcastTo(net.variable('embeddings.register_tokens'), [b, this.config.numRegisterTokens, d]));
    }
    parts.push(tf.add(tf.reshape(patches, [b, h * w, d]), tf.slice(pos, [0, 1, 0], [1, h * w, d])));
    return tf.concat(parts, 1) as tf.Tensor3D;
  }

  /**
   * The position table for an `h × w` patch grid, `[1, 1 + hw, D]`: the checkpoint's table when
   * the grid matches, else its patch part resampled as transformers' `interpolate_pos_encoding`.
   */
  #positions(h: number, w: number): tf.Tensor3D {
    const table = this.net.variable('embeddings.position_embeddings') as tf.Tensor3D;
    const g = this.gridSize;
    if (h === g && w === g) return table;
    const d = this.hiddenSize;
    const { interpolateAntialias, interpolateOffset } = this.config;
    const mode = interpolateAntialias ? 'cubic-aa' : 'cubic';
    // With an offset, torch is given scale_factor = (n + offset) / g and samples with step 1 / scale_factor.
    const axis = (n: number): AxisResample => (interpolateOffset > 0 ? { mode, scale: g / (n + interpolateOffset) } : { mode });
    const grid = tf.reshape(tf.slice(table, [0, 1, 0], [1, g * g, d]), [g, g, d]) as tf.Tensor3D;
    const resized = resizeGrid(grid, h, w, axis(h), axis(w));
    return tf.concat([tf.slice(table, [0, 0, 0], [1, 1, d]), tf.reshape(resized, [1, h * w, d])], 1) as tf.Tensor3D;
  }

  /** Block i: `x + γ₁·Attn(LN₁(x))`, then `+ γ₂·MLP(LN₂(·))`. */
  #block(i: number, x: tf.Tensor3D): tf.Tensor3D {
    return tf.tidy(() => {
      const net = this.net;
      const { numHeads, hiddenSize, layerNormEps: eps } = this.config;
      const p = `layers.${i}`;
      const y = layerNorm(net, `${p}.norm1`, x, eps);
      const q = splitHeads(dense(net, `${p}.attn.q`, y), numHeads);
      const k = splitHeads(dense(net, `${p}.attn.k`, y), numHeads);
      const v = splitHeads(dense(net, `${p}.attn.v`, y), numHeads);
      const a = dense(net, `${p}.attn.out`, mergeHeads(attention(q, k, v, 1 / Math.sqrt(hiddenSize / numHeads))));
      const h = tf.add(x, tf.mul(a, net.variable(`${p}.ls1`)));
      const z = layerNorm(net, `${p}.norm2`, h, eps);
      const m = this.config.useSwiglu
        ? dense(net, `${p}.mlp.down`, tf.mul(activation('silu', dense(net, `${p}.mlp.gate`, z)), dense(net, `${p}.mlp.up`, z)))
        : dense(net, `${p}.mlp.fc2`, activation(this.config.hiddenAct, dense(net, `${p}.mlp.fc1`, z)));
      return tf.add(h, tf.mul(m, net.variable(`${p}.ls2`))) as tf.Tensor3D;
    });
  }
}
