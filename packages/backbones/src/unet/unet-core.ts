/**
 * @file The UNet shared by the image and the video UNet: one builder and one forward pass, with
 * the motion modules switched on or off. Parameter names therefore line up by construction: an
 * image UNet's names are exactly the video UNet's names without the `*.temporal.*` ones.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError, type Network } from '@fewstep/core';
import type { Conditioning } from '../backbone-types.js';
import { checkConditioning, conditioningEmbedding, initConditioningEmbedding, resolveTime } from '../conditioning-embedding.js';
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

/** Creates every parameter of the UNet in `net`. */
export function initUNet(net: Network, cfg: ImageUNetConfig, temporal: TemporalSpec | null): void {
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
): tf.Tensor {
  const [b, frames, height, width, cin] = x.shape as [number, number, number, number, number];
  const levels = cfg.channels.length;
  const factor = 2 ** (levels - 1);
  if (cin !== cfg.inChannels || height % factor !== 0 || width % factor !== 0) {
    throw new ShapeError(`${what} input x`, x.shape, `[B, F, H, W, ${cfg.inChannels}] with H and W multiples of ${factor} (${levels} levels)`);
  }
  checkConditioning(what, cfg, cond, b);
  const tt = resolveTime(`${what} input 't'`, t, b);
  const temb = conditioningEmbedding(net, cfg, tt, cond);
  const groups = cfg.normGroups;
  const spatialStage = (scope: ReturnType<Network['scope']>, h: tf.Tensor, plan: StagePlan, j: number): tf.Tensor => {
    let out = h;
    if (plan.attention) {
      out = spatialTransformer(scope.scope(`attn.${j}`), out, { heads: cfg.heads, depth: cfg.transformerDepth, normGroups: groups }, cond.context, cond.contextMask);
    }
    if (plan.temporal) out = temporalTransformer(scope.scope(`temporal.${j}`), out, frames, temporal!.heads, temporal!.depth, groups);
    return out;
  };

  let h = conv2d(net.scope('conv_in'), tf.reshape(x, [b * frames, height, width, cin]));
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
