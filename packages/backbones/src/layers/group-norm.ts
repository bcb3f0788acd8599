import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ones, zeros, type ParamScope } from '@fewstep/core';
import { normalizeOver } from './layer-norm.js';

/**
 * The number of groups GroupNorm uses for `channels`: the largest divisor of `channels` that is
 * at most `maxGroups` and leaves at least 2 channels per group (for `channels >= 2`).
 *
 * Why at least 2 channels per group: with one channel per group GroupNorm becomes instance norm,
 * which erases any per-channel constant added just before it (a conv bias, the time-embedding
 * projection of a ResNet block), so those parameters would get exactly zero gradient. Stable
 * Diffusion uses 32 groups over 320+ channels; the tiny presets here have 16-64 channels, so the
 * rule gives 8-32 groups there.
 */
export function resolveGroups(channels: number, maxGroups: number): number {
  if (!Number.isInteger(maxGroups) || maxGroups < 1) throw new ConfigError('normGroups', maxGroups, 'an integer >= 1');
  const cap = channels >= 2 ? Math.min(maxGroups, Math.floor(channels / 2)) : 1;
  for (let g = cap; g >= 1; g--) if (channels % g === 0) return g;
  return 1;
}

/** Creates `gamma` (ones) and `beta` (zeros) `[channels]`. */
export function initNorm(scope: ParamScope, channels: number): void {
  scope.param('gamma', [channels], ones());
  scope.param('beta', [channels], zeros());
}

/**
 * GroupNorm (Wu & He 2018, Eq. 1-3) over `[N, ..., C]` (channels last): statistics per sample and
 * per group of `C / groups` channels, over every non-batch position. `eps` 1e-5 as PyTorch.
 * For videos pass `[B*F, H, W, C]`: statistics per frame.
 */
export function groupNorm(scope: ParamScope, x: tf.Tensor, groups: number, eps = 1e-5): tf.Tensor {
  return tf.tidy(() => {
    const shape = x.shape;
    const n = shape[0]!;
    const c = shape[shape.length - 1]!;
    if (c % groups !== 0) throw new ConfigError('groups', groups, `a divisor of the channel count ${c}`);
    const normed = tf.reshape(normalizeOver(tf.reshape(x, [n, -1, groups, c / groups]), [1, 3], eps), shape);
    return tf.add(tf.mul(normed, scope.variable('gamma')), scope.variable('beta'));
  });
}
