import * as tf from '@tensorflow/tfjs-core';
import type { LossDefinition, LossOutput } from '../contracts/loss.js';
import type { LossUse } from '../contracts/recipe.js';
import type { TrainingContext } from './context.js';

/**
 * A loss term written inline, as a phase entry `[loss, { weight }]`. `compute` runs inside the
 * phase's gradient closure (a `tf.tidy`): return a scalar or `{ loss, metrics }`.
 *
 * @example
 * phase: { role: 'discriminator', losses: [lossTerm('hinge', (ctx) => hinge(ctx), { weight: 1 })] }
 */
export function lossTerm(
  name: string,
  compute: (ctx: TrainingContext) => tf.Scalar | LossOutput,
  options: { weight?: number; requires?: readonly string[]; trains?: string } = {},
): LossUse {
  const def: LossDefinition<Record<string, unknown>, TrainingContext> = Object.freeze({
    name,
    defaults: {},
    requires: options.requires ?? [],
    trains: options.trains ?? '',
    compute: (ctx: TrainingContext): LossOutput => {
      const out = compute(ctx);
      return out instanceof tf.Tensor ? { loss: out } : out;
    },
  });
  return [def, { weight: options.weight ?? 1 }];
}
