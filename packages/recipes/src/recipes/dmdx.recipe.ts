/**
 * @file DMDX (Lu et al. 2025, Sec. 4, Table 7): ADP pre-training (Eq. 9-10) then ADM fine-tuning
 * (Eq. 7-8, Algorithm 1), as a staged recipe. `distill` carries the generator from stage 1 into
 * stage 2 (ADM's `generator` starts as the ADP student; its fake score starts from the teacher, as
 * Algorithm 1 initialises f_psi <- F_phi) and hands each stage the options its schema knows.
 *
 * Shared option keys mean the same thing in both stages: `steps` (the student's sampling steps),
 * `discriminatorTaps`, `headChannels`, `lrGenerator` and `lrDiscriminator`. A shared override
 * applies to both stages; the defaults differ where the paper's do (generator lr 1e-6 in ADP,
 * 1e-7 in ADM). Step split: 8K ADP + 8K ADM iterations in the paper (Table 7), so 1/2 each by
 * default (`dmdxRecipe({ adpFraction })` to change it).
 */
import { ConfigError } from '@fewstep/core';
import { defineStages, type StagedRecipe } from '../runtime/define-recipe.js';
import { admRecipe, type AdmRecipeOptions } from './adm.recipe.js';
import { adpRecipe, type AdpRecipeOptions } from './adp.recipe.js';

/** Options of {@link dmdxRecipe}: the stages' code options and the step split. */
export interface DmdxRecipeOptions extends AdpRecipeOptions, AdmRecipeOptions {
  /** Fraction of the steps spent in ADP (the paper: 8K of 8K + 8K). @default 0.5 */
  adpFraction?: number;
}

/** DMDX with chosen stage options (the default recipe: {@link dmdx}). */
export function dmdxRecipe(options: DmdxRecipeOptions = {}): StagedRecipe {
  const adpFraction = options.adpFraction ?? 0.5;
  if (!(adpFraction > 0 && adpFraction < 1)) throw new ConfigError('adpFraction', adpFraction, 'a number in (0, 1)', 'use 0.5 (8K ADP + 8K ADM iterations)');
  return defineStages({
    name: 'recipe:dmdx',
    description: 'DMDX: ADP pre-training on teacher ODE pairs, then ADM score distillation (one-step by default)',
    paper: 'DMDX / ADM (Lu et al. 2025) Sec. 4, Eq. 7-10, Algorithm 1, Table 7',
    stages: [
      { recipe: adpRecipe(options.pixelFeatures === undefined ? {} : { pixelFeatures: options.pixelFeatures }), fraction: adpFraction },
      { recipe: admRecipe(options.unconditional === undefined ? {} : { unconditional: options.unconditional }), fraction: 1 - adpFraction },
    ],
    // Each stage applies its own `paper` / `tiny` preset; shared keys must not be set here.
    presets: { paper: {}, tiny: {} },
  });
}

/** DMDX = ADP then ADM, half of the steps each. */
export const dmdx = dmdxRecipe();
