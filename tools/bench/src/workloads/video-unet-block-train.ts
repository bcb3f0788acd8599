import * as tf from '@tensorflow/tfjs-core';
import { silu } from '../activations.js';
import { selfAttention } from '../attention.js';
import { defaultBound, hashUniform } from '../hash-init.js';
import { linear } from '../linear.js';
import { groupNorm, layerNorm } from '../norms.js';
import type { NamedParam, WorkloadDefinition } from '../workload.js';
import { attentionFlops } from './attention-flops.js';

/** Shapes of `video-unet-block-train`. */
export interface VideoUnetBlockShapes {
  batch: number;
  frames: number;
  height: number;
  width: number;
  channels: number;
  tembDim: number;
  groups: number;
  heads: number;
}

/**
 * `video-unet-block-train`: one block of a factorised space-time video UNet on x `[B, F, H, W, C]`
 * with a time embedding `[B, Tdim]`:
 *  1. ResBlock per frame: GN → SiLU → conv3×3 (+ Linear(temb) broadcast over frames and pixels)
 *     → GN → SiLU → conv3×3, residual;
 *  2. spatial self-attention per frame over H·W tokens (GN, fused qkv, h heads, out proj), residual;
 *  3. temporal self-attention per pixel over the F frames (LayerNorm, h heads), residual.
 * Loss mean(out²), AdamW lr 1e-4, weight decay 0.01.
 */
export const videoUnetBlockTrain: WorkloadDefinition<VideoUnetBlockShapes> = {
  name: 'video-unet-block-train',
  description: 'ResBlock + spatial attn + temporal attn on [2,8,16,16,64], AdamW',
  defaults: { batch: 2, frames: 8, height: 16, width: 16, channels: 64, tembDim: 256, groups: 32, heads: 4 },
  build(s, overrides = {}) {
    const { batch: b, frames: f, height: h, width: w, channels: c, tembDim, groups, heads } = s;
    const params: NamedParam[] = [];
    const add = (name: string, value: tf.Tensor): void => {
      params.push({ name, value });
    };
    const convBound = defaultBound(9 * c);
    const linBound = defaultBound(c);
    for (const norm of ['res.gn1', 'res.gn2', 'sattn.gn', 'tattn.ln']) {
      add(`${norm}.g`, tf.ones([c]));
      add(`${norm}.b`, tf.zeros([c]));
    }
    for (const conv of ['res.conv1', 'res.conv2']) {
      add(`${conv}.w`, hashUniform(`${conv}.w`, [3, 3, c, c], convBound));
      add(`${conv}.b`, hashUniform(`${conv}.b`, [c], convBound));
    }
    add('res.temb.w', hashUniform('res.temb.w', [tembDim, c], defaultBound(tembDim)));
    add('res.temb.b', hashUniform('res.temb.b', [c], defaultBound(tembDim)));
    for (const attn of ['sattn', 'tattn']) {
      add(`${attn}.qkv.w`, hashUniform(`${attn}.qkv.w`, [c, 3 * c], linBound));
      add(`${attn}.qkv.b`, hashUniform(`${attn}.qkv.b`, [3 * c], linBound));
      add(`${attn}.out.w`, hashUniform(`${attn}.out.w`, [c, c], linBound));
      add(`${attn}.out.b`, hashUniform(`${attn}.out.b`, [c], linBound));
    }
    const x = hashUniform('input.x', [b, f, h, w, c], 1);
    const temb = hashUniform('input.temb', [b, tembDim], 1);

    const conv3x3 = (t: tf.Tensor, name: string, p: Record<string, tf.Tensor>): tf.Tensor =>
      tf.fused.conv2d({
        x: t as tf.Tensor4D,
        filter: p[`${name}.w`] as tf.Tensor4D,
        bias: p[`${name}.b`] as tf.Tensor,
        strides: 1,
        pad: 'same',
      });
    const attnParams = (name: string, p: Record<string, tf.Tensor>) => ({
      wQkv: p[`${name}.qkv.w`] as tf.Tensor,
      bQkv: p[`${name}.qkv.b`] as tf.Tensor,
      wOut: p[`${name}.out.w`] as tf.Tensor,
      bOut: p[`${name}.out.b`] as tf.Tensor,
    });

    const loss = (p: Record<string, tf.Tensor>): tf.Scalar =>
      tf.tidy(() => {
        const g = (name: string): tf.Tensor => p[name] as tf.Tensor;
        // 1. ResBlock on [B·F, H, W, C].
        const x0 = tf.reshape(x, [b * f, h, w, c]);
        let r = conv3x3(silu(groupNorm(x0, g('res.gn1.g'), g('res.gn1.b'), groups)), 'res.conv1', p);
        const tproj = linear(temb, g('res.temb.w'), g('res.temb.b')); // [B, C]
        r = tf.reshape(tf.add(tf.reshape(r, [b, f, h * w, c]), tf.reshape(tproj, [b, 1, 1, c])), [b * f, h, w, c]);
        r = conv3x3(silu(groupNorm(r, g('res.gn2.g'), g('res.gn2.b'), groups)), 'res.conv2', p);
        const x1 = tf.add(x0, r);
        // 2. Spatial attention per frame: [B·F, H·W, C] tokens.
        const sIn = tf.reshape(groupNorm(x1, g('sattn.gn.g'), g('sattn.gn.b'), groups), [b * f, h * w, c]);
        const x2 = tf.add(tf.reshape(x1, [b * f, h * w, c]), selfAttention(sIn, attnParams('sattn', p), heads));
        // 3. Temporal attention per pixel: [B·H·W, F, C] tokens.
        const xt = tf.transpose(tf.reshape(x2, [b, f, h * w, c]), [0, 2, 1, 3]); // [B, H·W, F, C]
        const tIn = tf.reshape(layerNorm(xt, g('tattn.ln.g'), g('tattn.ln.b')), [b * h * w, f, c]);
        const x3 = tf.add(xt, tf.reshape(selfAttention(tIn, attnParams('tattn', p), heads), [b, h * w, f, c]));
        const out = tf.transpose(x3, [0, 2, 1, 3]); // back to [B, F, H·W, C]
        return tf.mean(tf.square(out));
      });

    const convFlops = 2 * b * f * h * w * c * c * 9;
    const forward =
      2 * convFlops + 2 * b * tembDim * c + attentionFlops(b * f, h * w, c) + attentionFlops(b * h * w, f, c);
    return {
      params,
      inputs: [x, temb],
      loss,
      optimizer: { lr: overrides.lr ?? 1e-4, weightDecay: 0.01 },
      flopsPerStep: 3 * forward,
    };
  },
};
