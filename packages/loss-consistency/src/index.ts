/**
 * @fewstep/loss-consistency: consistency distillation (LCM / OSV multi-step teacher solve),
 * pseudo-Huber distances (iCT), MCM motion representations and mixed trajectories, AccVideo's
 * trajectory loss and ADP's ODE-pair regression.
 */
export {
  CONSISTENCY_DISTANCES,
  ICT_HUBER_C,
  consistencyDistance,
  elementsPerSample,
  pseudoHuberDistance,
  squaredL2Distance,
  validateDistanceOptions,
  type ConsistencyDistance,
  type DistanceOptions,
} from './pseudo-huber.js';
export { boundaryCoefficients, consistencyPrediction } from './consistency-prediction.js';
export { teacherSolve, teacherSolveGrid } from './teacher-solve.js';
export {
  consistencyDistillationLoss,
  type ConsistencyDistillationInputs,
  type ConsistencyDistillationOptions,
} from './consistency-distillation-loss.js';
export {
  MotionHead,
  correlationVolume,
  frameDifference,
  temporalHighFrequency,
  temporalLowFrequency,
  type MotionHeadOptions,
  type TemporalFilterOptions,
} from './motion-representations.js';
export {
  MOTION_REPRESENTATIONS,
  motionConsistencyLoss,
  motionRepresentation,
  type MotionConsistencyInputs,
  type MotionConsistencyOptions,
  type MotionRepresentationKind,
} from './motion-consistency-loss.js';
export { generatedTrajectoryStart, mixedTrajectoryLoss, type MixedTrajectoryInputs, type MixedTrajectoryOptions } from './mixed-trajectory.js';
export { secantVelocity, trajectoryLoss, type TrajectoryLossInputs, type TrajectoryLossOptions } from './trajectory-loss.js';
export {
  odePairInput,
  odePairRegressionLoss,
  type OdePairRegressionInputs,
  type OdePairRegressionOptions,
} from './ode-pair-regression-loss.js';
export { ConsistencyLossesModule, consistencyLossDefinitions } from './loss-consistency.module.js';
