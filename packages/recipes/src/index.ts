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
export { instantiateRecipe, distill, stageSteps, type InstantiatedRecipe, type InstantiateOptions, type DistillOptions, type DistillResult } from './runtime/distill.js';
export {
  saveModelDirectory,
  loadModelDirectory,
  BUILTIN_BACKBONE_FACTORIES,
  MODEL_JSON,
  MODEL_WEIGHTS,
  type ModelManifest,
  type LoadedModel,
  type BackboneFactory,
} from './runtime/model-directory.js';
export { lcm, lcmOptions, adjacentPair, type LcmOptions } from './recipes/lcm.recipe.js';
export { BUILTIN_RECIPES, builtinRecipe } from './builtin-recipes.js';
export { RecipesModule } from './recipes.module.js';
