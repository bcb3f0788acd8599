/**
 * @fewstep/recipes: distillation recipes as code (AVDM2, AccVideo, ADP / ADM / DMDX, OSV, MCM and
 * the DMD2 / LCM baselines), `defineRecipe` / `phase` / `use` to compose your own, `distill` to
 * run one on the core trainer, and model directories for teachers and students.
 */
export {
  defineRecipe,
  defineStages,
  phase,
  use,
  type AnyRecipe,
  type DistillRecipe,
  type StagedRecipe,
  type RecipePhase,
  type RecipeTerm,
  type RecipeDataKind,
  type RecipeOptions,
  type RecipeEma,
  type TermOptions,
  type PhaseOptions,
  type DefineRecipeInput,
} from './runtime/define-recipe.js';
export { detach, type RecipeContext } from './runtime/recipe-context.js';
export { emptyConditioning, repeatConditioning, conditioningForBatch, withConditionFrame, hasImageCondition, IMAGE_CONDITION_KEYS } from './runtime/conditioning.js';
export { fromTeacher, frozenTeacher, customRole, DEFAULT_LORA_TARGETS, type RoleSpec, type RoleEnv, type RoleInstance, type FromTeacherOptions } from './runtime/roles.js';
export { modelDenoiser, modelTaps, type BackboneLike, type Conditioning, type DiffusionModel } from './runtime/diffusion-model.js';
export {
  studentSampler,
  studentTimesteps,
  studentX0,
  studentBoundary,
  validateStudentSpec,
  STUDENT_PARAMETERIZATIONS,
  STUDENT_SAMPLER_KINDS,
  type StudentSpec,
  type StudentParameterization,
  type StudentSamplerKind,
} from './runtime/student.js';
export { resolveRecipeOptions, parseOptions, presetOf } from './runtime/resolve-options.js';
export { instantiateRecipe, distill, stageSteps, resolveStageOptions, type InstantiatedRecipe, type InstantiateOptions, type DistillOptions, type DistillResult } from './runtime/distill.js';
export {
  saveModelDirectory,
  loadModelDirectory,
  taskOfBackboneConfig,
  BUILTIN_BACKBONE_FACTORIES,
  MODEL_JSON,
  MODEL_WEIGHTS,
  MODEL_TASKS,
  type ModelTask,
  type ModelManifest,
  type LoadedModel,
  type BackboneFactory,
} from './runtime/model-directory.js';
export { lcm, lcmOptions, adjacentPair, type LcmOptions } from './recipes/lcm.recipe.js';
export { BUILTIN_RECIPES, builtinRecipe } from './builtin-recipes.js';
export { RecipesModule } from './recipes.module.js';
export {
  collapseStatistics,
  collapseStatisticsTensor,
  collapseChecks,
  resolveCollapseThresholds,
  COLLAPSE_CHECKS,
  DEFAULT_COLLAPSE_THRESHOLDS,
  type CollapseStatistics,
  type CollapseCheckName,
  type CollapseThresholds,
} from './watchdog/collapse-statistics.js';
export {
  collapseWatchdog,
  CollapseError,
  resumeFromRollback,
  COLLAPSE_WATCHDOG_NAME,
  type CollapseWatchdogOptions,
  type CollapseReport,
  type CollapseAction,
  type CollapseErrorDetails,
  type ResumeFromRollbackOptions,
} from './watchdog/collapse-watchdog.js';
export {
  osvStage1,
  osvStage2,
  osv,
  createOsvRecipes,
  osvStage1Options,
  osvStage2Options,
  OSV_STAGE_FRACTIONS,
  osvTeacherSolve,
  osvTrainingGrid,
  type CreateOsvRecipesOptions,
  type OsvStage1Options,
  type OsvStage2Options,
} from './recipes/osv.recipe.js';
export {
  osvDiscriminatorRole,
  osvGeneratorLoss,
  latentCriticSource,
  randomDinov2Source,
  defaultOsvFeatureSource,
  OSV_TINY_DINOV2,
  type OsvFeatureSource,
  type LatentCritic,
  type LatentCriticSourceOptions,
  type OsvDiscriminatorOptions,
} from './recipes/osv-discriminator.js';
export { dmd2, dmd2Options, dmdInputs, type Dmd2Options } from './recipes/dmd2.recipe.js';
export { avdm2, avdm2Options, frameDenoiser, frameSdmInputs, type Avdm2Options } from './recipes/avdm2.recipe.js';
export {
  denoisingDiscriminator,
  generatorSample,
  detachedGeneratorSample,
  DISCRIMINATOR_HEAD_KINDS,
  type DenoisingDiscriminator,
  type DenoisingDiscriminatorSpec,
  type DiscriminatorHeadKind,
  type GeneratorSample,
} from './recipes/denoising-gan.js';
export {
  accVideo,
  accVideoOptions,
  accVideoTrajectoryTimes,
  accVideoStudent,
  accVideoTrajectoryInputs,
  ACCVIDEO_TIMESTEP_LISTS,
  type AccVideoOptions,
  type AccVideoTrajectoryOptions,
  type AccVideoTimestepList,
  type AccVideoSegmentOrder,
} from './recipes/accvideo.recipe.js';
export { LatentQueues, latentQueuesRole, type LatentQueuesOptions } from './recipes/latent-queues.js';
export { accVideoAdm, accVideoAdmOptions, type AccVideoAdmOptions } from './recipes/hybrid-accvideo-adm.recipe.js';
export {
  mcm,
  createMcmRecipe,
  mcmOptions,
  MCM_TRAJECTORY_MIXING,
  defaultMcmFeatureSource,
  mcmGeneratorLoss,
  type CreateMcmOptions,
  type McmOptions,
  type McmTrajectoryMixing,
  type McmFeatureSourceFactory,
} from './recipes/mcm.recipe.js';
export {
  MCM_FEATURE_SOURCES,
  MCM_DINOV2_PRESETS,
  randomDinov2Critic,
  dinov2FeatureSource,
  teacherFeatureSource,
  type McmFeatureSource,
  type McmFeatureSourceKind,
  type McmDinov2Preset,
} from './recipes/mcm-discriminator.js';
export { adp, adpRecipe, adpOptions, adpGeneratorTimesteps, adpStudentInput, type AdpOptions, type AdpRecipeOptions } from './recipes/adp.recipe.js';
export { adm, admRecipe, admOptions, guidanceRangeSchema, zeroedConditioning, type AdmOptions, type AdmRecipeOptions } from './recipes/adm.recipe.js';
export { dmdx, dmdxRecipe, type DmdxRecipeOptions } from './recipes/dmdx.recipe.js';
export {
  latentDiscriminator,
  pixelDiscriminator,
  randomDinov2PixelFeatures,
  type PixelFeatureSource,
  type PixelFeatureFactory,
  type PixelCriticConfig,
} from './recipes/adm-discriminator.js';
