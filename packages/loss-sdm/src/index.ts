/**
 * @fewstep/loss-sdm: score distribution matching losses: DMD (ADM Eq. 4-6), score distribution
 * matching (AVDM2 Eq. 4), frame SDM (AVDM2 Eq. 8) and the fake score's denoising loss (Eq. 2).
 */
export { dmdLoss, dmdGradient, DMD_LOSS_DEFAULTS, type DmdLossOptions, type DmdLossInputs } from './dmd-loss.js';
export {
  scoreDistributionMatchingLoss,
  scoreDistributionMatching,
  SDM_DEFAULTS,
  SDM_WEIGHTINGS,
  SDM_REDUCTIONS,
  type SdmWeighting,
  type SdmReduction,
  type ScoreDistributionMatchingOptions,
  type ScoreDistributionMatchingInputs,
} from './score-distribution-matching-loss.js';
export { frameSdmLoss, pickFrames, FRAME_SDM_DEFAULTS, type FrameSdmOptions, type FrameSdmInputs } from './frame-sdm-loss.js';
export {
  fakeScoreDenoisingLoss,
  denoisingTarget,
  FAKE_SCORE_DEFAULTS,
  type FakeScoreDenoisingOptions,
  type FakeScoreDenoisingInputs,
} from './fake-score-denoising-loss.js';
export { stopGradient } from './stop-gradient.js';
export { LossSdmModule, sdmLosses } from './loss-sdm.module.js';
