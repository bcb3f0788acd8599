/**
 * @file Registers the losses of @fewstep/loss-sdm in the loss registry.
 */
import { defineModule, Tokens, type FewstepModule } from '@fewstep/core';
import { dmdLoss } from './dmd-loss.js';
import { fakeScoreDenoisingLoss } from './fake-score-denoising-loss.js';
import { frameSdmLoss } from './frame-sdm-loss.js';
import { scoreDistributionMatchingLoss } from './score-distribution-matching-loss.js';

/** Every loss of this package, in registration order. */
export const sdmLosses = [dmdLoss, scoreDistributionMatchingLoss, frameSdmLoss, fakeScoreDenoisingLoss] as const;

/** Registers `sdm:dmd`, `sdm:score-distribution-matching`, `sdm:frame-sdm`, `sdm:fake-score-denoising`. */
export const LossSdmModule: FewstepModule = defineModule({
  name: 'sdm:module',
  register: (dm) => {
    const reg = dm.resolve(Tokens.LossRegistry);
    for (const loss of sdmLosses) reg.register(loss);
  },
});
