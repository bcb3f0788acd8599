import type { Named } from '../di/registry.js';
import type { BackboneRole } from './backbone.js';
import type { LossDefinition } from './loss.js';

/** A loss with its options (weight included), as a recipe lists it. */
export type LossUse = readonly [LossDefinition<any, any>, Readonly<Record<string, unknown>>];

/** A phase updates one role with a weighted sum of loss terms, every `every` steps (TTUR). */
export interface PhaseDefinition {
  readonly role: BackboneRole;
  readonly losses: readonly LossUse[];
  /** @default 1 */
  readonly every?: number;
}

/**
 * A distillation recipe as the registry sees it: a name, the roles it builds and its phases in
 * order (each names the role it updates). `@fewstep/recipes` defines the full form (terms with
 * input builders, options schema, student spec); the trainer consumes {@link PhaseDefinition}s.
 */
export interface RecipeDefinition extends Named {
  readonly description?: string;
  readonly roles: Readonly<Record<string, unknown>>;
  readonly phases: readonly { readonly role: BackboneRole; readonly name?: string }[];
}
