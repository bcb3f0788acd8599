import * as tf from '@tensorflow/tfjs-core';
import type { ParamScope } from '@fewstep/core';
import { attention, initAttention } from '../layers/attention.js';
import { feedForward, initFeedForward } from '../layers/feed-forward.js';
import { initNorm } from '../layers/group-norm.js';
import { layerNorm, normalizeLastAxis } from '../layers/layer-norm.js';
import { initLinear, linear } from '../layers/linear.js';
import { applyRope, type RopeAxes } from '../layers/rope-3d.js';

/** Shape options of a DiT block. */
export interface DiTBlockSpec {
  hiddenDim: number;
  heads: number;
  mlpRatio: number;
  contextDim: number | null;
}

/**
 * Creates a DiT block (Peebles & Xie 2023, adaLN-Zero, Fig. 3) with cross-attention (PixArt-alpha):
 * `attn1` self, [`norm2` + `attn2` cross], `ff`, and `ada` `[D, 6D]` initialised to zero (so every
 * gate starts at 0 and the block at identity). The modulated LayerNorms have no parameters.
 */
export function initDiTBlock(scope: ParamScope, spec: DiTBlockSpec): void {
  const d = spec.hiddenDim;
  initAttention(scope.scope('attn1'), d, d);
  if (spec.contextDim !== null) {
    initNorm(scope.scope('norm2'), d);
    initAttention(scope.scope('attn2'), d, d, { contextDim: spec.contextDim });
  }
  initFeedForward(scope.scope('ff'), d, spec.mlpRatio);
  initLinear(scope.scope('ada'), d, 6 * d, { zero: true });
}

/** adaLN modulation `x * (1 + scale) + shift`, `x` `[B, N, D]`, shift/scale `[B, 1, D]`. */
export function modulate(x: tf.Tensor, shift: tf.Tensor, scale: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.add(tf.mul(x, tf.add(scale, 1)), shift));
}

/** Per-forward state the blocks share: the conditioning and the rotary tables. */
export interface DiTBlockContext {
  /** `silu(c)`, `[B, D]`. */
  condAct: tf.Tensor;
  rope: { cos: tf.Tensor; sin: tf.Tensor; axes: RopeAxes };
  context?: tf.Tensor;
  contextMask?: tf.Tensor;
  heads: number;
}

/**
 * One block on tokens `[B, N, D]`:
 * `x += g1 * attn(mod(LN(x), s1, a1))` (3D RoPE on q, k), `x += attn2(LN'(x), ctx)`,
 * `x += g2 * ff(mod(LN(x), s2, a2))`, with `(s1, a1, g1, s2, a2, g2) = ada(silu(c))`.
 */
export function ditBlock(scope: ParamScope, x: tf.Tensor, ctx: DiTBlockContext): tf.Tensor {
  return tf.tidy(() => {
    const d = x.shape[2]!;
    const b = x.shape[0]!;
    const mods = tf.split(tf.reshape(linear(scope.scope('ada'), ctx.condAct), [b, 1, 6 * d]), 6, 2);
    const [shift1, scale1, gate1, shift2, scale2, gate2] = mods as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
    const { cos, sin, axes } = ctx.rope;
    const rope = (t: tf.Tensor): tf.Tensor => applyRope(t, cos, sin, axes);
    let h = attention(scope.scope('attn1'), modulate(normalizeLastAxis(x, 1e-6), shift1, scale1), ctx.heads, undefined, { transformQK: rope });
    let y = tf.add(x, tf.mul(gate1, h));
    if (ctx.context !== undefined) {
      y = tf.add(y, attention(scope.scope('attn2'), layerNorm(scope.scope('norm2'), y, 1e-6), ctx.heads, ctx.context, { keyMask: ctx.contextMask }));
    }
    h = feedForward(scope.scope('ff'), modulate(normalizeLastAxis(y, 1e-6), shift2, scale2));
    return tf.add(y, tf.mul(gate2, h));
  });
}
