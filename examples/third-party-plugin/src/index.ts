/**
 * fewstep-plugin-feature-matching: an example third-party fewstep plugin. A feature-matching loss
 * on critic taps (Salimans et al. 2016 Sec. 3.1), a `micro` video DiT preset and a recipe mixing
 * the loss with fewstep's consistency distillation, registered by `FeatureMatchingModule`.
 */
export {
  featureMatchingLoss,
  featureMatching,
  validateFeatureMatchingOptions,
  FEATURE_MATCHING_DEFAULTS,
  FEATURE_MATCHING_DISTANCES,
  type FeatureMatchingDistance,
  type FeatureMatchingInputs,
  type FeatureMatchingOptions,
} from './feature-matching-loss.js';
export { microVideoDiTBackbone, microVideoDiT, MICRO_VIDEO_DIT, MICRO_VIDEO_DIT_PRESETS } from './backbone-presets.js';
export {
  featureMatchingLcm,
  featureMatchingLcmOptions,
  featureMatchingInputs,
  criticTaps,
  criticTime,
  type FeatureMatchingLcmOptions,
} from './feature-matching-lcm.recipe.js';
export { FeatureMatchingModule } from './module.js';
