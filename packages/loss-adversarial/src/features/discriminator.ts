/**
 * @file Composes a frozen feature source and trainable heads into a discriminator function
 * `D(x, t, cond?) => logits`, the form the GAN objectives (as a logits thunk) and ADM
 * (`AdmInputs.discriminator`) take.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '@fewstep/core';
import type { CriticFeatures } from './critic-features.js';
import type { TeacherTapFeatures } from './teacher-tap-features.js';

/** A discriminator: logits `[B, N]` for a sample `[B, ...]` at model times t `[B]`. */
export type DiscriminatorFn = (x: tf.Tensor, t: tf.Tensor, cond?: tf.Tensor) => tf.Tensor;

/** Named feature maps `[B, ...]` of a sample. */
export type FeatureFn = (x: tf.Tensor, t: tf.Tensor, cond?: tf.Tensor) => Record<string, tf.Tensor>;

/** A head reading one feature map; `cond` is passed to text-conditioned heads. */
export interface FeatureHead {
  forward(features: tf.Tensor, cond: tf.Tensor): tf.Tensor;
}

/** One head and the feature map it reads. */
export interface HeadBinding {
  /** Key of the feature map (a tap name, or `grid<i>` / `temporal<i>` for critics). */
  feature: string;
  head: FeatureHead | { forward(features: tf.Tensor): tf.Tensor };
  /** Pass `cond` to the head (text-conditioned heads). @default false */
  conditioned?: boolean;
}

/**
 * Adapts {@link teacherTapFeatures} to a {@link FeatureFn}. With `noise`, `x` is a clean sample and
 * is diffused at t with `noise(x)` (AVDM2, AccVideo); without, `x` is taken as x_t (ADM, whose D
 * sees the PF-ODE step results). `condKey` names the teacher input receiving `cond`.
 */
export function fromTeacherTaps(extract: TeacherTapFeatures, options: { noise?: (x: tf.Tensor) => tf.Tensor; condKey?: string } = {}): FeatureFn {
  const { noise, condKey = 'cond' } = options;
  return (x, t, cond) =>
    tf.tidy(() =>
      extract({
        x,
        t,
        eps: noise?.(x),
        noised: noise === undefined,
        extra: cond === undefined ? {} : { [condKey]: cond },
      }),
    );
}

/** Adapts {@link criticFeatures} to a {@link FeatureFn} (t is ignored): keys `grid<i>`, `temporal<i>`. */
export function fromCritic(extract: CriticFeatures): FeatureFn {
  return (x) =>
    tf.tidy(() => {
      const { grids, temporal } = extract(x);
      const out: Record<string, tf.Tensor> = {};
      grids.forEach((g, i) => (out[`grid${i}`] = g));
      temporal?.forEach((g, i) => (out[`temporal${i}`] = g));
      return out;
    });
}

/**
 * `D(x, t, cond) = concat_i flatten(head_i(features(x, t, cond)[feature_i]))`, logits `[B, N]`
 * (N = the heads' logit counts summed). The GAN objectives average over every logit, so each head
 * weighs by its number of patch logits. Gradients reach the heads' variables and, through the
 * frozen feature source, the input x.
 * @throws ConfigError on no heads, or at call time on a feature the source does not provide.
 */
export function composeDiscriminator(features: FeatureFn, heads: readonly HeadBinding[]): DiscriminatorFn {
  if (heads.length === 0) throw new ConfigError('heads', heads, 'at least one head binding', 'bind e.g. a head2d to a tap');
  return (x, t, cond) =>
    tf.tidy(() => {
      const maps = features(x, t, cond);
      const b = x.shape[0]!;
      const logits = heads.map(({ feature, head, conditioned = false }) => {
        const f = maps[feature];
        if (f === undefined) throw new ConfigError('feature', feature, `one of [${Object.keys(maps).join(', ')}]`, 'bind heads to features the source returns');
        if (conditioned && cond === undefined) throw new ConfigError('cond', cond, 'a conditioning tensor', `head on '${feature}' is conditioned: pass cond`);
        const y = conditioned ? (head as FeatureHead).forward(f, cond!) : (head as { forward(features: tf.Tensor): tf.Tensor }).forward(f);
        return tf.reshape(y, [b, -1]);
      });
      return logits.length === 1 ? logits[0]! : tf.concat(logits, 1);
    });
}
