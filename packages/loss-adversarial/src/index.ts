/**
 * @fewstep/loss-adversarial: GAN objectives (hinge, non-saturating logistic), the R1 penalty,
 * discriminator heads on backbone features, and ADM (adversarial distribution matching).
 */
export {
  hingeDiscriminatorLoss,
  hingeGeneratorLoss,
  logisticDiscriminatorLoss,
  logisticGeneratorLoss,
  type Logits,
  type DiscriminatorObjectiveInputs,
  type GeneratorObjectiveInputs,
  type HingeOptions,
  type LogisticOptions,
} from './gan-objectives.js';
export { r1Penalty, type R1PenaltyInputs, type R1PenaltyOptions } from './r1-penalty.js';
export { pfOdeStep } from './pf-ode-step.js';
export { admGeneratorLoss, admDiscriminatorLoss, admBackwardStep, type AdmInputs, type AdmOptions } from './adm-loss.js';
export {
  head2d,
  head3d,
  temporalHead1d,
  multiScaleHead,
  timestepAwareHeads,
  type DiscriminatorHead,
  type MultiScaleDiscriminatorHead,
  type TimestepAwareHeads,
  type Head2dOptions,
  type Head3dOptions,
  type TemporalHead1dOptions,
  type MultiScaleHeadOptions,
} from './heads/discriminator-heads.js';
export { groupCount } from './heads/layers.js';
export { LossAdversarialModule, ADVERSARIAL_LOSSES } from './loss-adversarial.module.js';
export { teacherTapFeatures, type FrozenTapSource, type TeacherTapOptions, type TeacherTapInputs, type TeacherTapFeatures } from './features/teacher-tap-features.js';
export { criticFeatures, type CriticSource, type CriticFeatureOptions, type CriticFeatureMaps, type CriticFeatures } from './features/critic-features.js';
export { sampleSparseFrames, type SparseFrames } from './features/sparse-frames.js';
export { textConditionedHead, type TextConditionedHead, type TextConditionedHeadOptions } from './features/text-conditioned-head.js';
export {
  composeDiscriminator,
  fromTeacherTaps,
  fromCritic,
  type DiscriminatorFn,
  type FeatureFn,
  type FeatureHead,
  type HeadBinding,
} from './features/discriminator.js';
