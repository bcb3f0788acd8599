/**
 * @file Text-conditioned discriminator head (MCM, Zhai et al. 2024, Sec. 4.2: the discriminator
 * heads are conditioned on the text embedding) in the projection-discriminator form of Miyato &
 * Koyama 2018 (Eq. 3): `D(x, y) = psi(phi(x)) + <V y, pool(phi(x))>`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, glorotUniform, ShapeError, type Network } from '@fewstep/core';
import type { DiscriminatorHead } from '../heads/discriminator-heads.js';

/** Options of {@link textConditionedHead}. */
export interface TextConditionedHeadOptions {
  /** Unconditional head psi (e.g. a `head2d` over the same features). */
  head: DiscriminatorHead;
  /** Feature channels C of phi(x) (last axis). */
  featureChannels: number;
  /** Text embedding width E. */
  textChannels: number;
}

/** A head whose logits depend on a text embedding. */
export interface TextConditionedHead {
  readonly prefix: string;
  /**
   * @param features `[B, H, W, C]` or `[B, F, H, W, C]`
   * @param text `[B, E]` pooled text embedding, or `[B, L, E]` token embeddings (averaged over L)
   * @returns the head's logits `[B, ...]` plus the per-sample projection term broadcast over them
   */
  forward(features: tf.Tensor, text: tf.Tensor): tf.Tensor;
}

/**
 * Projection discriminator: `logits = head(phi) + <V e, mean_{space(,time)} phi>` where `V` `[E, C]`
 * is a trainable variable `${prefix}.proj.kernel` of `net` (Glorot init) and `e` the text
 * embedding. The inner product is one number per sample, added to every patch logit.
 */
export function textConditionedHead(net: Network, prefix: string, options: TextConditionedHeadOptions): TextConditionedHead {
  const { head, featureChannels: c, textChannels: e } = options;
  for (const [field, v] of [['featureChannels', c], ['textChannels', e]] as const) {
    if (!(Number.isInteger(v) && v >= 1)) throw new ConfigError(field, v, 'an integer >= 1', 'pass the channel count of the features / text embedding');
  }
  const p = net.scope(prefix);
  p.param('proj.kernel', [e, c], glorotUniform());
  return {
    prefix,
    forward: (features, text) =>
      tf.tidy(() => {
        if ((features.rank !== 4 && features.rank !== 5) || features.shape[features.rank - 1] !== c) {
          throw new ShapeError('features', features.shape, `[B, H, W, ${c}] or [B, F, H, W, ${c}]`, 'pass channels-last features');
        }
        const b = features.shape[0]!;
        const emb = text.rank === 3 ? tf.mean(text, 1) : text;
        if (emb.rank !== 2 || emb.shape[0] !== b || emb.shape[1] !== e) {
          throw new ShapeError('text', text.shape, `[${b}, ${e}] or [${b}, L, ${e}]`, 'pass one text embedding per sample');
        }
        const pooled = tf.mean(features, Array.from({ length: features.rank - 2 }, (_, i) => i + 1)); // [B, C]
        const projected = tf.matMul(emb, p.kernel('proj.kernel')); // [B, C]
        const inner = tf.sum(tf.mul(projected, pooled), 1); // [B]
        const logits = head.forward(features);
        return tf.add(logits, tf.reshape(inner, [b, ...new Array<number>(logits.rank - 1).fill(1)]));
      }),
  };
}
