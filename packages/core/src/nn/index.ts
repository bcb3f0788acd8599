/**
 * Networks (named variables), seeded initialisers, EMA, LoRA, and name-keyed optimizers with
 * clipping and the non-finite guard (RELIABILITY.md P20, P27, P29, P32, P33).
 */
export { Network, ParamScope, isUnderPrefix, type LowRankDelta, type ParamOptions, type SetWeightsOptions } from './network.js';
export {
  computeFans,
  constant,
  fromValues,
  glorotUniform,
  heNormal,
  heUniform,
  normal,
  ones,
  uniform,
  zeros,
  type Initializer,
} from './initializers.js';
export { deriveSeed } from './seeded-random.js';
export { valueAndGrads } from './value-and-grads.js';
export { ExponentialMovingAverage, type EmaOptions, type EmaState } from './exponential-moving-average.js';
export { applyLora, LoraAdapter, type LoraOptions } from './lora.js';
export { Adam, type AdamOptions } from './adam.js';
export { AdamW } from './adam-w.js';
export {
  bindGradients,
  type BoundGradient,
  type GradientMap,
  type Optimizer,
  type OptimizerState,
  type StepResult,
  type VariableSet,
} from './optimizer.js';
export { constantLr, warmupConstant, warmupCosine, type LrSchedule } from './lr-schedule.js';
export { clipByGlobalNorm, clipCoefficient, globalNormParts, readGlobalNorm, type GlobalNorm } from './clip-grad-norm.js';
export { allFinite, nonFiniteProbe } from './all-finite.js';
