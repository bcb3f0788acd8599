/**
 * Diffusion math of @fewstep/core: noise schedules, forward diffusion, prediction types, the
 * Denoiser contract, classifier-free guidance, samplers, timestep samplers, backward simulation and
 * the analytic Gaussian-mixture teacher.
 */
export { seededRng, toRng, normalValue, normalValues, randomNormal, type Rng, type RngSource, type SeededRng } from './rng.js';
export { appendDims, type Coefficient } from './append-dims.js';
export type { NoiseSchedule, NoiseScheduleConfig, BetaSchedule, TimeDomain } from './noise-schedule.js';
export { VpDiscreteSchedule, vpDiscreteSchedule, diffusersBetas, BETA_SCHEDULES, type VpDiscreteScheduleOptions } from './vp-discrete-schedule.js';
export {
  FlowMatchingSchedule,
  flowMatchingSchedule,
  shiftSigma,
  unshiftSigma,
  type FlowMatchingScheduleOptions,
} from './flow-matching-schedule.js';
export { VpContinuousSchedule, vpContinuousSchedule, type VpContinuousScheduleOptions } from './vp-continuous-schedule.js';
export { noiseScheduleFromConfig } from './schedule-from-config.js';
export { alphaSigma, forwardDiffuse, snr, logSnr, snrTensor } from './forward-diffusion.js';
export {
  PREDICTION_TYPES,
  convertPrediction,
  toX0Eps,
  fromX0Eps,
  resolvePredictionType,
  type PredictionType,
  type PredictionTarget,
} from './prediction-type.js';
export {
  GUIDANCE_FORMULAS,
  DEFAULT_GUIDANCE_FORMULA,
  applyGuidance,
  resolveGuidanceScale,
  toDefaultGuidanceScale,
  fromDefaultGuidanceScale,
  type GuidanceFormula,
  type GuidanceScale,
} from './guidance.js';
export {
  predictAs,
  predictRaw,
  predictX0Eps,
  guidedDenoiser,
  asPredictionType,
  timeTensor,
  type Denoiser,
  type DenoiseOptions,
} from './denoiser.js';
export {
  discreteTimesteps,
  lcmTimesteps,
  continuousTimes,
  samplingGrid,
  roundHalfEven,
  type DiscreteSpacing,
  type ContinuousSpacing,
  type TimestepSpacing,
  type DiffusersSpacingStyle,
  type DiscreteTimestepsOptions,
  type SamplingGrid,
  type SamplingGridOptions,
} from './timestep-spacing.js';
export type { Sampler, SampleOptions, SampleResult } from './sampler.js';
export { defaultOdeSpace, type OdeSpace } from './ode-space.js';
export { ddimSampler, ddimCoefficients, type DdimSamplerOptions } from './ddim-sampler.js';
export { eulerSampler, eulerFlowSampler, eulerDiscreteSampler, type EulerSamplerOptions } from './euler-sampler.js';
export { heunSampler, type HeunSamplerOptions } from './heun-sampler.js';
export { dpmSolverPp2mSampler, type DpmSolverPp2mOptions } from './dpm-solver-pp-2m-sampler.js';
export { lcmBoundaryCondition, type BoundaryCondition, type LcmBoundaryOptions } from './consistency-boundary.js';
export { consistencySampler, consistencyGrid, type ConsistencySamplerOptions } from './consistency-sampler.js';
export { timeTravelSampler, timeTravelGrids, type TimeTravelSamplerOptions } from './time-travel-sampler.js';
export {
  uniformTimesteps,
  cubicTimesteps,
  logitNormalTimesteps,
  discreteListTimesteps,
  sampleTimestepTensor,
  type TimestepSampler,
  type DiscreteListSampler,
  type RangeOptions,
} from './timestep-samplers.js';
export { ACCVIDEO_KEY_TIMESTEPS, ACCVIDEO_UNIFORM_TIMESTEPS, accVideoSegmentSampler } from './accvideo-timesteps.js';
export {
  kStepTimesteps,
  backwardSimulate,
  sampleBackwardSimulationStep,
  type BackwardSimulationOptions,
} from './backward-simulation.js';
export {
  parseGmmVideoSpec,
  formatGmmVideoSpec,
  GMM_VIDEO_PREFIX,
  type GmmVideoSpec,
  type MixtureWeights,
} from './gaussian-mixture/gmm-video-spec.js';
export {
  GaussianMixture,
  GmmVideo,
  gmmVideo,
  MIN_MODE_SEPARATION_IN_STD,
  type GaussianMixtureInit,
} from './gaussian-mixture/gaussian-mixture.js';
export { randomVideoPattern, type PatternKind } from './gaussian-mixture/video-patterns.js';
export { MixtureDenoiser, mixtureDenoiser } from './gaussian-mixture/mixture-denoiser.js';
export {
  mixtureMetrics,
  energyDistance,
  assignToModes,
  type MixtureMetrics,
  type MixtureMetricsOptions,
} from './gaussian-mixture/mixture-metrics.js';
export { normalQuantile, chiSquareQuantile } from './gaussian-mixture/chi-square.js';
export {
  GMM_I2V_PREFIX,
  parseGmmI2vSpec,
  formatGmmI2vSpec,
  GmmI2v,
  gmmI2v,
  conditionLogWeights,
  conditionWeights,
  ConditionalMixture,
  conditionalMixture,
  sampleI2vPairs,
  firstFrame,
  ConditionalMixtureDenoiser,
  conditionalMixtureDenoiser,
  type ConditionalMixtureInputs,
  type I2vPairs,
} from './gaussian-mixture/conditional-mixture.js';
export {
  conditionalMixtureMetrics,
  type ConditionalMixtureMetrics,
  type ConditionalMixtureMetricsOptions,
} from './gaussian-mixture/conditional-mixture-metrics.js';
export { benchAnalyticSampling, type AnalyticBenchOptions, type AnalyticBenchResult } from './bench-analytic.js';
