import * as tf from '@tensorflow/tfjs-core';
import { Network, ShapeError, uniform, zeros } from '@fewstep/core';
import type { Backbone, BackboneOutput, Conditioning, DenoiserInputs, ForwardOptions } from '../backbone-types.js';
import { checkConditioning, conditioningEmbedding, initConditioningEmbedding, resolveTime } from '../conditioning-embedding.js';
import { pickPreset } from '../config-checks.js';
import { silu } from '../layers/activations.js';
import { normalizeLastAxis } from '../layers/layer-norm.js';
import { initLinear, linear } from '../layers/linear.js';
import { rope3dTables, ropeAxes } from '../layers/rope-3d.js';
import {
  checkImageInputs,
  conditionChannelCount,
  conditionChannels,
  imageEmbedding,
  initImageConditioning,
  withImageContext,
} from '../image-conditioning.js';
import { checkNetworkMatches, countParameters } from '../network-binding.js';
import { TapRecorder } from '../taps.js';
import type { BackboneBuildOptions } from '../unet/video-unet.js';
import { ditBlock, initDiTBlock, modulate } from './dit-block.js';
import { patchGrid, patchify3d, unpatchify3d } from './patchify-3d.js';
import { VIDEO_DIT_PRESETS, validateVideoDiTConfig, type VideoDiTConfig } from './video-dit-config.js';

function initVideoDiT(net: Network, cfg: VideoDiTConfig): void {
  const d = cfg.hiddenDim;
  const [pt, ph, pw] = cfg.patchSize;
  // The patch embedding is a linear map of each patch, stored as a 3D conv kernel
  // [pt, ph, pw, C, D] (kernel = stride = patch), so it exports as PyTorch's Conv3d weight.
  const bound = 1 / Math.sqrt(pt * ph * pw * cfg.inChannels);
  const embed = net.scope('patch_embed');
  embed.param('kernel', [pt, ph, pw, cfg.inChannels, d], uniform(-bound, bound));
  embed.param('bias', [d], zeros());
  initConditioningEmbedding(net, cfg, d);
  for (let i = 0; i < cfg.depth; i++) {
    initDiTBlock(net.scope(`blocks.${i}`), { hiddenDim: d, heads: cfg.heads, mlpRatio: cfg.mlpRatio, contextDim: cfg.contextDim });
  }
  initLinear(net.scope('ada_out'), d, 2 * d, { zero: true });
  initLinear(net.scope('proj_out'), d, pt * ph * pw * cfg.outChannels, { zero: true });
  const image = cfg.imageCondition ?? null;
  if (image !== null) {
    // Image-to-video: the concat channels' own patch kernel, zero-initialised (see image-conditioning.ts).
    const extra = conditionChannelCount(image, cfg.inChannels);
    if (extra > 0) net.scope('patch_embed_image').param('kernel', [pt, ph, pw, extra, d], zeros());
    initImageConditioning(net, image, { embedDim: d, contextDim: cfg.contextDim, freqDim: cfg.freqDim, channels: cfg.inChannels });
  }
}

/**
 * Video diffusion transformer (CogVideoX / HunyuanVideo / Wan style), NHWC per frame:
 * 3D patchify `(pt, ph, pw)` + linear projection, 3D rotary position embedding (RoPE per axis,
 * so any F/H/W works at run time without a table), adaLN-Zero blocks conditioned on the timestep
 * (+ pooled text, + guidance scale), full spatio-temporal self-attention and cross-attention to
 * text tokens, final adaLN + linear (zero-initialised: the DiT starts by predicting 0), unpatchify.
 * With `imageCondition` (image-to-video, SVD-style): the conditioning frame's channels and mask
 * are patch-embedded with their own kernel and added to the tokens, its encoder embedding is added
 * to the adaLN conditioning (`'pooled'`) or appended to the cross-attention tokens (`'context'`).
 *
 * Taps `block.i` are the tokens after block i as a grid `[B, F/pt, H/ph, W/pw, D]`.
 */
export class VideoDiT implements Backbone<VideoDiTConfig, DenoiserInputs> {
  static readonly kind = 'backbones:video-dit';
  readonly kind = VideoDiT.kind;
  readonly config: Readonly<VideoDiTConfig>;
  readonly net: Network;

  constructor(config: VideoDiTConfig, options: BackboneBuildOptions = {}) {
    this.config = validateVideoDiTConfig(config);
    const build = (net: Network): void => initVideoDiT(net, this.config);
    if (options.network) {
      checkNetworkMatches('VideoDiT', options.network, build);
      this.net = options.network;
    } else {
      this.net = new Network(options.name ?? 'video-dit', { seed: this.config.seed });
      build(this.net);
    }
  }

  static fromConfig(config: VideoDiTConfig, options?: BackboneBuildOptions): VideoDiT {
    return new VideoDiT(config, options);
  }

  /** Parameter count of `config` without building it (the `base` presets are large). */
  static numParametersOf(config: VideoDiTConfig): number {
    const cfg = validateVideoDiTConfig(config);
    return countParameters((net) => initVideoDiT(net, cfg));
  }

  static preset(name: string, overrides: Partial<VideoDiTConfig> = {}, options?: BackboneBuildOptions): VideoDiT {
    return new VideoDiT({ ...pickPreset('VideoDiT', VIDEO_DIT_PRESETS, name), ...overrides }, options);
  }

  /**
   * @param inputs `x` `[B, F, H, W, inChannels]` (F, H, W multiples of the patch size), `t` `[B]`, conditioning as configured
   * @returns `out` `[B, F, H, W, outChannels]`; taps `[B, F/pt, H/ph, W/pw, D]`
   */
  forward(inputs: DenoiserInputs, options: ForwardOptions = {}): BackboneOutput {
    const { x, t, ...cond } = inputs;
    const cfg = this.config;
    const grid = patchGrid('VideoDiT input x', x.shape, cfg.patchSize);
    if (x.shape[4] !== cfg.inChannels) throw new ShapeError('VideoDiT input x', x.shape, `[B, F, H, W, ${cfg.inChannels}]`);
    const b = x.shape[0]!;
    const image = cfg.imageCondition ?? null;
    checkImageInputs('VideoDiT', image, cond, x.shape);
    const imageTokens = image?.embed === 'context';
    // With image tokens the text context is optional (they replace it, as SVD's image embedding does).
    if (!imageTokens || cond.context !== undefined || cond.contextMask !== undefined) checkConditioning('VideoDiT', cfg, cond, b);
    const taps = new TapRecorder(options.taps, this.tapNames());
    return tf.tidy(() => {
      const d = cfg.hiddenDim;
      const embed = (input: tf.Tensor, name: string): tf.Tensor => {
        const kernel = tf.reshape(this.net.kernel(name), [-1, d]);
        return tf.reshape(tf.matMul(tf.reshape(patchify3d(input, cfg.patchSize), [-1, kernel.shape[0]!]), kernel as tf.Tensor2D), [b, -1, d]);
      };
      let h = tf.add(embed(x, 'patch_embed.kernel'), this.net.variable('patch_embed.bias'));
      if (image?.concat) h = tf.add(h, embed(conditionChannels(image, cond, x.shape), 'patch_embed_image.kernel'));
      const img = image === null ? {} : imageEmbedding(this.net, image, cond, b, cfg.freqDim);
      const context = withImageContext(cond, img.tokens);
      if (imageTokens) checkConditioning('VideoDiT', cfg, { ...cond, ...context }, b);
      let c = conditioningEmbedding(this.net, cfg, resolveTime("VideoDiT input 't'", t, b), cond);
      if (img.temb !== undefined) c = tf.add(c, img.temb);
      const condAct = silu(c);
      const axes = ropeAxes(d / cfg.heads);
      const { cos, sin } = rope3dTables(grid[0], grid[1], grid[2], axes, cfg.ropeTheta);
      const blockCtx = { condAct, rope: { cos, sin, axes }, context: context.context, contextMask: context.contextMask, heads: cfg.heads };
      for (let i = 0; i < cfg.depth; i++) {
        h = ditBlock(this.net.scope(`blocks.${i}`), h, blockCtx);
        const hi = h;
        taps.record(`block.${i}`, () => tf.reshape(hi, [b, ...grid, d]));
      }
      const [shift, scale] = tf.split(tf.reshape(linear(this.net.scope('ada_out'), condAct), [b, 1, 2 * d]), 2, 2) as [tf.Tensor, tf.Tensor];
      const tokens = linear(this.net.scope('proj_out'), modulate(normalizeLastAxis(h, 1e-6), shift, scale));
      return { out: unpatchify3d(tokens, grid, cfg.patchSize), taps: taps.taps };
    });
  }

  predict(x: tf.Tensor, t: tf.Tensor, cond: Conditioning = {}): tf.Tensor {
    return this.forward({ x, t, ...cond }).out;
  }

  tapNames(): string[] {
    return Array.from({ length: this.config.depth }, (_, i) => `block.${i}`);
  }

  withNetwork(network: Network): VideoDiT {
    return new VideoDiT(this.toConfig(), { network });
  }

  clone(name = `${this.net.name}.clone`): VideoDiT {
    return this.withNetwork(this.net.clone(name));
  }

  toConfig(): VideoDiTConfig {
    return structuredClone(this.config) as VideoDiTConfig;
  }

  numParameters(): number {
    return this.net.numParameters();
  }

  dispose(): void {
    this.net.dispose();
  }
}
