/**
 * Frozen DINOv2 / SAM ViT critics with transformers' semantics and weight layouts (issue 5,
 * item 6). Curated surface; the package barrel re-exports it.
 */
export { loadCritic, type LoadCriticOptions } from './load-critic.js';
export { resolveLayerIndices, type CriticKind, type CriticOutput, type VisionCritic } from './critic-types.js';
export { Dinov2Critic, dinov2CheckpointSpec } from './dinov2-critic.js';
export { DINOV2_PRESETS, DINOV2_MODEL_TYPES, dinov2ConfigFromHf, dinov2MlpWidth, validateDinov2Config, type Dinov2Config } from './dinov2-config.js';
export { SamCritic, samCheckpointSpec } from './sam-critic.js';
export { SAM_PRESETS, SAM_MODEL_TYPES, samConfigFromHf, validateSamConfig, type SamConfig } from './sam-config.js';
export { dinov2CriticBackbone, samCriticBackbone } from './critic-backbones.js';
export { resampleWeights, resizeGrid, resizeRows, type AxisResample } from './resample.js';
export { CRITIC_ACTIVATIONS, type CriticActivation } from './vit-ops.js';
export type { Layout, SpecEntry, SpecTarget } from './checkpoint-spec.js';
