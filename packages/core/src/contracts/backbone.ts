import type { Named } from '../di/registry.js';

/** Roles a network can play in a distillation run (STYLE.md G2). */
export type BackboneRole = 'teacher' | 'student' | 'generator' | 'fakeScore' | 'discriminator' | 'critic' | (string & {});

/**
 * A backbone factory, registered under a namespaced name (`backbones:video-unet`). `presets` are
 * named configs (`tiny`, `small`, `base`); `create` builds an untrained network from a config.
 */
export interface BackboneDefinition<TConfig = unknown, TNetwork = unknown> extends Named {
  readonly description?: string;
  readonly presets: Readonly<Record<string, TConfig>>;
  create(config: TConfig): TNetwork;
}

/** Identity helper for type inference. */
export function defineBackbone<TConfig, TNetwork>(
  def: BackboneDefinition<TConfig, TNetwork>,
): BackboneDefinition<TConfig, TNetwork> {
  return Object.freeze(def);
}
