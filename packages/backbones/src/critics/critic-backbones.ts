import { defineBackbone } from '@fewstep/core';
import { DINOV2_PRESETS, type Dinov2Config } from './dinov2-config.js';
import { Dinov2Critic } from './dinov2-critic.js';
import { SAM_PRESETS, type SamConfig } from './sam-config.js';
import { SamCritic } from './sam-critic.js';

/**
 * `backbones:critic-dinov2`: a frozen DINOv2 ViT feature critic. `create` builds an untrained one
 * (tests, shape checks); real weights come from `loadCritic('dinov2', dir)`.
 */
export const dinov2CriticBackbone = defineBackbone<Dinov2Config, Dinov2Critic>({
  name: 'backbones:critic-dinov2',
  description: 'Frozen DINOv2 ViT (transformers Dinov2Model / Dinov2WithRegistersModel) returning hidden states as critic features',
  presets: DINOV2_PRESETS,
  create: (config) => Dinov2Critic.create(config),
});

/**
 * `backbones:critic-sam`: SAM's frozen ViT image encoder as a feature critic. `create` builds an
 * untrained one; real weights come from `loadCritic('sam', dir)`.
 */
export const samCriticBackbone = defineBackbone<SamConfig, SamCritic>({
  name: 'backbones:critic-sam',
  description: "Frozen SAM ViT image encoder (transformers SamVisionEncoder: windowed + global attention, relative positions, neck)",
  presets: SAM_PRESETS,
  create: (config) => SamCritic.create(config),
});
