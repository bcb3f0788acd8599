/**
 * @file The UNet shared by the image and the video UNet: one builder and one forward pass, with
 * the motion modules switched on or off. Parameter names therefore line up by construction: an
 * image UNet's names are exactly the video UNet's names without the `*.temporal.*` ones.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError, zeros, type Network } from '@fewstep/core';
import type { Conditioning } from '../backbone-types.js';
import { checkConditioning, conditioningEmbedding, initConditioningEmbedding, resolveTime } from '../conditioning-embedding.js';
import {
  checkImageInputs,
  conditionChannelCount,
  conditionChannels,
  imageEmbedding,
  initImageConditioning,
  withImageContext,
  type ImageConditioningConfig,
} from '../image-conditioning.js';
import { silu } from '../layers/activations.js';
import { conv2d, initConv2d, upsampleNearest2x } from '../layers/conv2d.js';
import { groupNorm, initNorm, resolveGroups } from '../layers/group-norm.js';
import type { TapRecorder } from '../taps.js';
import { initResnetBlock, resnetBlock } from './resnet-block.js';
import { initSpatialTransformer, spatialTransformer } from './spatial-transformer.js';
import { initTemporalTransformer, temporalTransformer } from './temporal-transformer.js';
import type { ImageUNetConfig } from './unet-config.js';

/** Motion-module settings; `null` builds an image UNet. */
export interface TemporalSpec {
  heads: number;
  depth: number;
  levels: readonly boolean[];
}

/** The blocks of one stage: where a spatial transformer and a motion module follow each ResNet block. */
interface StagePlan {
  attention: boolean;
  temporal: boolean;
}

function stagePlan(cfg: ImageUNetConfig, temporal: TemporalSpec | null, level: number): StagePlan {
  return { attention: cfg.attention[level]!, temporal: temporal !== null && temporal.levels[level]! };
}

/**
 * Creates every parameter of the UNet in `net`; with `image` (image-to-video) also the zero-initialised
 * `conv_in_image.kernel` of the concat channels and the embedding parameters (see image-conditioning.ts).
 */
export function initUNet(net: Network, cfg: ImageUNetConfig, temporal: TemporalSpec | null, image: ImageConditioningConfig | null = null): void {
  const ch = cfg.channels;
  const levels = ch.length;
  const tdim = cfg.timeEmbedDim;
  initConditioningEmbedding(net, cfg, tdim);
  initConv2d(net.scope('conv_in'), 3, cfg.inChannels, ch[0]!);
  const addSpatial = (scope: ReturnType<Network['scope']>, c: number, plan: StagePlan, j: number): void => {
    if (plan.attention) {
      initSpatialTransformer(scope.scope(`attn.${j}`), { channels: c, heads: cfg.heads, depth: cfg.transformerDepth, contextDim: cfg.contextDim, ffMult: cfg.ffMult });
    }
    if (plan.temporal) initTemporalTransformer(scope.scope(`temporal.${j}`), c, temporal!.depth, cfg.ffMult);
  };
  const skips: number[] = [ch[0]!];
  let c = ch[0]!;
  for (let i = 0; i < levels; i++) {
    const down = net.scope(`down.${i}`);
    const plan = stagePlan(cfg, temporal, i);
    for (let j = 0; j < cfg.layersPerLevel; j++) {
      initResnetBlock(down.scope(`res.${j}`), c, ch[i]!, tdim);
      c = ch[i]!;
      addSpatial(down, c, plan, j);
      skips.push(c);
    }
    if (i < levels - 1) {
      initConv2d(down.scope('downsample'), 3, c, c);
      skips.push(c);
    }
  }
  const mid = net.scope('mid');
  const midPlan = stagePlan(cfg, temporal, levels - 1);
  initResnetBlock(mid.scope('res.0'), c, c, tdim);
  addSpatial(mid, c, midPlan, 0);
  initResnetBlock(mid.scope('res.1'), c, c, tdim);
  for (let u = 0; u < levels; u++) {
    const i = levels - 1 - u;
    const up = net.scope(`up.${u}`);
    const plan = stagePlan(cfg, temporal, i);
    for (let j = 0; j <= cfg.layersPerLevel; j++) {
      initResnetBlock(up.scope(`res.${j}`), c + skips.pop()!, ch[i]!, tdim);
      c = ch[i]!;
      addSpatial(up, c, plan, j);
    }
    if (u < levels - 1) initConv2d(up.scope('upsample'), 3, c, c);
  }
  initNorm(net.scope('norm_out'), c);
  initConv2d(net.scope('conv_out'), 3, c, cfg.outChannels);
  if (image !== null) {
    const extra = conditionChannelCount(image, cfg.inChannels);
    if (extra > 0) net.scope('conv_in_image').param('kernel', [3, 3, extra, ch[0]!], zeros());
    initImageConditioning(net, image, { embedDim: tdim, contextDim: cfg.contextDim, freqDim: cfg.freqDim, channels: cfg.inChannels });
  }
}

/** Tap names in computation order: `down.i` (each level before its downsample), `mid`, `up.u` (u = 0 deepest). */
export function unetTapNames(cfg: ImageUNetConfig): string[] {
  const n = cfg.channels.length;
  return [...Array.from({ length: n }, (_, i) => `down.${i}`), 'mid', ...Array.from({ length: n }, (_, u) => `up.${u}`)];
}

/**
 * The UNet forward pass on frames folded into the batch.
 * @param x `[B, F, H, W, C]` (`F = 1` for images); `H` and `W` must divide by `2^(levels-1)`
 * @param t `[B]` model times
 * @param toTapLayout maps a `[B*F, h, w, c]` feature to the tap layout the caller returns
 * @param image the image conditioning of the config (null: none, and image inputs are rejected)
 * @returns `[B*F, H, W, outChannels]`
 */
export function unetForward(
  what: string,
  net: Network,
  cfg: ImageUNetConfig,
  temporal: TemporalSpec | null,
  x: tf.Tensor,
  t: tf.Tensor,
  cond: Conditioning,
  taps: TapRecorder,
  toTapLayout: (h: tf.Tensor) => tf.Tensor,
  image: ImageConditioningConfig | null = null,
): tf.Tensor {
  const [b, frames, height, width, cin] = x.shape as [number, number, number, number, number];
  const levels = cfg.channels.length;
  const factor = 2 ** (levels - 1);
  if (cin !== cfg.inChannels || height % factor !== 0 || width % factor !== 0) {
    throw new ShapeError(`${what} input x`, x.shape, `[B, F, H, W, ${cfg.inChannels}] with H and W multiples of ${factor} (${levels} levels)`);
  }
  checkImageInputs(what, image, cond, x.shape);
  const imageTokens = image?.embed === 'context';
  // With image tokens the text context is optional (they replace it, as SVD's image embedding does).
  if (!imageTokens || cond.context !== undefined || cond.contextMask !== undefined) checkConditioning(what, cfg, cond, b);
  const img = image === null ? {} : imageEmbedding(net, image, cond, b, cfg.freqDim);
  const context = withImageContext(cond, img.tokens);
  if (imageTokens) checkConditioning(what, cfg, { ...cond, ...context }, b);
  const tt = resolveTime(`${what} input 't'`, t, b);
  let temb = conditioningEmbedding(net, cfg, tt, cond);
  if (img.temb !== undefined) temb = tf.add(temb, img.temb);
  const groups = cfg.normGroups;
  const spatialStage = (scope: ReturnType<Network['scope']>, h: tf.Tensor, plan: StagePlan, j: number): tf.Tensor => {
    let out = h;
    if (plan.attention) {
      out = spatialTransformer(scope.scope(`attn.${j}`), out, { heads: cfg.heads, depth: cfg.transformerDepth, normGroups: groups }, context.context, context.contextMask);
    }
    if (plan.temporal) out = temporalTransformer(scope.scope(`temporal.${j}`), out, frames, temporal!.heads, temporal!.depth, groups);
    return out;
  };

  let h = conv2d(net.scope('conv_in'), tf.reshape(x, [b * frames, height, width, cin]));
  if (image?.concat) {
    const extra = conditionChannels(image, cond, x.shape);
    h = tf.add(h, tf.conv2d(tf.reshape(extra, [b * frames, height, width, -1]) as tf.Tensor4D, net.kernel('conv_in_image.kernel') as tf.Tensor4D, 1, 'same'));
  }
  const skips: tf.Tensor[] = [h];
  for (let i = 0; i < levels; i++) {
    const down = net.scope(`down.${i}`);
    const plan = stagePlan(cfg, temporal, i);
    for (let j = 0; j < cfg.layersPerLevel; j++) {
      h = resnetBlock(down.scope(`res.${j}`), h, temb, groups);
      h = spatialStage(down, h, plan, j);
      skips.push(h);
    }
    const level = h;
    taps.record(`down.${i}`, () => toTapLayout(level));
    if (i < levels - 1) {
      h = conv2d(down.scope('downsample'), h, 2);
      skips.push(h);
    }
  }
  const mid = net.scope('mid');
  h = resnetBlock(mid.scope('res.0'), h, temb, groups);
  h = spatialStage(mid, h, stagePlan(cfg, temporal, levels - 1), 0);
  h = resnetBlock(mid.scope('res.1'), h, temb, groups);
  const midOut = h;
  taps.record('mid', () => toTapLayout(midOut));
  for (let u = 0; u < levels; u++) {
    const i = levels - 1 - u;
    const up = net.scope(`up.${u}`);
    const plan = stagePlan(cfg, temporal, i);
    for (let j = 0; j <= cfg.layersPerLevel; j++) {
      h = resnetBlock(up.scope(`res.${j}`), tf.concat([h, skips.pop()!], 3), temb, groups);
      h = spatialStage(up, h, plan, j);
    }
    const level = h;
    taps.record(`up.${u}`, () => toTapLayout(level));
    if (u < levels - 1) h = conv2d(up.scope('upsample'), upsampleNearest2x(h));
  }
  h = silu(groupNorm(net.scope('norm_out'), h, resolveGroups(h.shape[3]!, groups)));
  return conv2d(net.scope('conv_out'), h);
}
