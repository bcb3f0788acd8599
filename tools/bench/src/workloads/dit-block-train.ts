import * as tf from '@tensorflow/tfjs-core';
import { geluTanh, silu } from '../activations.js';
import { selfAttention } from '../attention.js';
import { defaultBound, hashUniform } from '../hash-init.js';
import { linear } from '../linear.js';
import { layerNorm } from '../norms.js';
import type { NamedParam, WorkloadDefinition } from '../workload.js';
import { attentionFlops } from './attention-flops.js';

/** Shapes of `dit-block-train`. */
export interface DitBlockShapes {
  batch: number;
  tokens: number;
  dim: number;
  heads: number;
  mlpRatio: number;
}

/** Bound of the modulation Linear's uniform init (adaLN-Zero would use 0; see below). */
export const ADA_INIT_BOUND = 0.02;

/**
 * `dit-block-train`: one DiT block with adaLN-Zero conditioning (Peebles & Xie 2023, §3.2):
 * (shift, scale, gate)×2 = Linear(SiLU(c)) `[B, 6D]`;
 *   x ← x + gate₁·MHA(LN(x)·(1+scale₁) + shift₁)
 *   x ← x + gate₂·MLP(LN(x)·(1+scale₂) + shift₂),  MLP = Linear(D→rD) → GELU(tanh) → Linear(rD→D)
 * with LN without affine, eps 1e-6. x `[B, T, D]`, c `[B, D]`. Loss mean(x²), AdamW lr 1e-4,
 * weight decay 0.01. The modulation Linear is initialised with small uniform values
 * (±{@link ADA_INIT_BOUND}) instead of adaLN-Zero's zeros so gradients reach every weight.
 */
export const ditBlockTrain: WorkloadDefinition<DitBlockShapes> = {
  name: 'dit-block-train',
  description: 'adaLN-Zero DiT block, [2,512,192], 6 heads, MLP 4x, AdamW',
  defaults: { batch: 2, tokens: 512, dim: 192, heads: 6, mlpRatio: 4 },
  build(s, overrides = {}) {
    const { batch: b, tokens: t, dim: d, heads, mlpRatio } = s;
    const hidden = mlpRatio * d;
    const params: NamedParam[] = [];
    const add = (name: string, shape: number[], bound: number): void => {
      params.push({ name, value: hashUniform(name, shape, bound) });
    };
    add('ada.w', [d, 6 * d], ADA_INIT_BOUND);
    add('ada.b', [6 * d], ADA_INIT_BOUND);
    add('attn.qkv.w', [d, 3 * d], defaultBound(d));
    add('attn.qkv.b', [3 * d], defaultBound(d));
    add('attn.out.w', [d, d], defaultBound(d));
    add('attn.out.b', [d], defaultBound(d));
    add('mlp.fc1.w', [d, hidden], defaultBound(d));
    add('mlp.fc1.b', [hidden], defaultBound(d));
    add('mlp.fc2.w', [hidden, d], defaultBound(hidden));
    add('mlp.fc2.b', [d], defaultBound(hidden));
    const x = hashUniform('input.x', [b, t, d], 1);
    const c = hashUniform('input.c', [b, d], 1);

    const loss = (p: Record<string, tf.Tensor>): tf.Scalar =>
      tf.tidy(() => {
        const g = (name: string): tf.Tensor => p[name] as tf.Tensor;
        const mod = tf.reshape(linear(silu(c), g('ada.w'), g('ada.b')), [b, 1, 6 * d]);
        const [shift1, scale1, gate1, shift2, scale2, gate2] = tf.split(mod, 6, 2) as tf.Tensor[] as [
          tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor,
        ];
        const modulate = (h: tf.Tensor, shift: tf.Tensor, scale: tf.Tensor): tf.Tensor =>
          tf.add(tf.mul(h, tf.add(scale, 1)), shift);
        const h1 = modulate(layerNorm(x, null, null, 1e-6), shift1, scale1);
        const attn = selfAttention(h1, { wQkv: g('attn.qkv.w'), bQkv: g('attn.qkv.b'), wOut: g('attn.out.w'), bOut: g('attn.out.b') }, heads);
        const x1 = tf.add(x, tf.mul(gate1, attn));
        const h2 = tf.reshape(modulate(layerNorm(x1, null, null, 1e-6), shift2, scale2), [b * t, d]);
        const mlp = linear(geluTanh(linear(h2, g('mlp.fc1.w'), g('mlp.fc1.b'))), g('mlp.fc2.w'), g('mlp.fc2.b'));
        const x2 = tf.add(x1, tf.mul(gate2, tf.reshape(mlp, [b, t, d])));
        return tf.mean(tf.square(x2));
      });

    const forward = 2 * b * d * 6 * d + attentionFlops(b, t, d) + 2 * 2 * b * t * d * hidden;
    return {
      params,
      inputs: [x, c],
      loss,
      optimizer: { lr: overrides.lr ?? 1e-4, weightDecay: 0.01 },
      flopsPerStep: 3 * forward,
    };
  },
};
