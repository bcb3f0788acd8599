export { defineBackbone, type BackboneDefinition, type BackboneRole } from './backbone.js';
export { defineLoss, type LossDefinition, type LossOutput } from './loss.js';
export type { LossUse, PhaseDefinition, RecipeDefinition } from './recipe.js';
