import type { InjectionToken } from 'tsyringe';
import type { Observable } from 'rxjs';
import type { Logger } from './logger.js';
import type { Registry } from './registry.js';
import type { BackboneDefinition } from '../contracts/backbone.js';
import type { LossDefinition } from '../contracts/loss.js';
import type { RecipeDefinition } from '../contracts/recipe.js';
import type { EngineInfo } from '../engine/backend.js';
import type { TensorScope } from './tensor-scope.js';

/**
 * Typed DI tokens of `@fewstep/core` (STYLE.md G6). Resolve with `dm.resolve(Tokens.X)`; inject
 * with an explicit `@inject(Tokens.X)` (esbuild emits no decorator metadata).
 */
export const Tokens = {
  /** Where core and plugins log. Root scope. */
  Logger: Symbol('fewstep.Logger') as InjectionToken<Logger>,
  /** The resolved compute backend (after `initEngine`). Root scope. */
  Engine: Symbol('fewstep.Engine') as InjectionToken<EngineInfo>,
  /** Backbone factories by name (`backbones:video-unet`). Root scope. */
  BackboneRegistry: Symbol('fewstep.BackboneRegistry') as InjectionToken<Registry<BackboneDefinition>>,
  /** Loss definitions by name (`sdm:dmd`). Root scope. */
  LossRegistry: Symbol('fewstep.LossRegistry') as InjectionToken<Registry<LossDefinition>>,
  /** Recipes by name (`recipe:dmd2`). Root scope. */
  RecipeRegistry: Symbol('fewstep.RecipeRegistry') as InjectionToken<Registry<RecipeDefinition>>,
  /** The id of the current run. Run scope. */
  RunId: Symbol('fewstep.RunId') as InjectionToken<string>,
  /** Emits once when the current run is asked to stop (per run, never process-global). Run scope. */
  RunStop$: Symbol('fewstep.RunStop$') as InjectionToken<Observable<void>>,
  /** Owns the tensors of the current run; freed by the run scope's `dispose()`. Run scope. */
  TensorScope: Symbol('fewstep.TensorScope') as InjectionToken<TensorScope>,
} as const;
