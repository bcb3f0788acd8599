/**
 * @file Role specs: how a recipe builds each network it trains from the teacher (a copy, a LoRA-
 * wrapped copy, a fresh discriminator). The teacher itself is not a role: it is frozen and read
 * through `RecipeContext.teacher`.
 */
import type { Tensor } from '@tensorflow/tfjs-core';
import { ConfigError, Network, applyLora, type LoraAdapter, type LoraOptions } from '@fewstep/core';
import type { BackboneLike, DiffusionModel } from './diffusion-model.js';
import type { RecipeOptions } from './define-recipe.js';

/** What a role spec gets. */
export interface RoleEnv<R extends RecipeOptions = RecipeOptions> {
  readonly role: string;
  readonly teacher: DiffusionModel;
  readonly options: R;
  /** Shape of one sample `[F, H, W, C]`. */
  readonly sampleShape: readonly number[];
  readonly seed: number;
  /** The student of the previous stage (staged recipes), for the recipe's student role. */
  readonly carried?: Network;
  /** Auxiliary frozen models the caller supplied (the recipe's `models`, e.g. AVDM2's `frameTeacher`). */
  readonly models?: Readonly<Record<string, DiffusionModel>>;
}

/** A built role: its network, the backbone on it (diffusion roles) and any extra API (heads). */
export interface RoleInstance<A = unknown> {
  readonly net: Network;
  readonly backbone?: BackboneLike;
  readonly api?: A;
  /** A standalone network for export (LoRA merged into a copy). @default `net` */
  exportNetwork?(): Network;
  dispose?(): void;
}

export type RoleSpec<R extends RecipeOptions = any> = (env: RoleEnv<R>) => RoleInstance;

/** Options of {@link fromTeacher}. */
export interface FromTeacherOptions<R extends RecipeOptions> {
  /** LoRA adapters (OSV, MCM: rank 64); undefined = full fine-tuning. */
  lora?: (options: R) => Omit<LoraOptions, 'targets'> & { targets?: LoraOptions['targets'] } | undefined;
}

/** Attention / MLP / conv kernels (the usual LoRA targets: every rank >= 2 `.kernel`). */
export const DEFAULT_LORA_TARGETS = (name: string): boolean => name.endsWith('.kernel');

/**
 * A trainable copy of the teacher (generator, fake score): `teacher.net.clone(role)`, or the
 * carried student of the previous stage. With `lora`, the copy is frozen and adapters train.
 */
export function fromTeacher<R extends RecipeOptions>(options: FromTeacherOptions<R> = {}): RoleSpec<R> {
  return (env) => {
    const net = (env.carried ?? env.teacher.backbone.net).clone(env.role);
    net.unfreeze();
    let adapter: LoraAdapter | undefined;
    const lora = options.lora?.(env.options);
    if (lora !== undefined) adapter = applyLora(net, { targets: DEFAULT_LORA_TARGETS, seed: env.seed, ...lora });
    const backbone = env.teacher.backbone.withNetwork(net);
    return {
      net,
      backbone,
      exportNetwork: () => {
        const base = env.carried ?? env.teacher.backbone.net;
        const out = base.clone(`${env.role}.export`);
        if (adapter === undefined) {
          out.assign(net);
          return out;
        }
        // W_eff = W + (alpha / r) A B for adapted kernels (Network.kernel applies the delta).
        const weights = new Map<string, Tensor>();
        const owned: Tensor[] = [];
        for (const [name] of out.variables()) {
          if (net.lowRankDelta(name) !== undefined) {
            const k = net.kernel(name);
            owned.push(k);
            weights.set(name, k);
          } else weights.set(name, net.variable(name));
        }
        out.setWeights(weights);
        for (const k of owned) k.dispose();
        return out;
      },
      dispose: () => net.dispose(),
    };
  };
}

/** A frozen copy of the teacher (AVDM2's 2D teacher on frames, a frozen feature source). */
export function frozenTeacher<R extends RecipeOptions>(): RoleSpec<R> {
  return (env) => {
    const net = env.teacher.backbone.net.clone(env.role);
    net.freeze();
    return { net, backbone: env.teacher.backbone.withNetwork(net), dispose: () => net.dispose() };
  };
}

/** A role built by the recipe (discriminator heads, motion heads, latent queues). */
export function customRole<R extends RecipeOptions, A>(build: (env: RoleEnv<R>) => { net: Network; api?: A; dispose?(): void }): RoleSpec<R> {
  return (env) => {
    const r = build(env);
    if (!(r?.net instanceof Network)) throw new ConfigError(`roles.${env.role}`, r, 'a builder returning { net: Network, api? }');
    return { net: r.net, ...(r.api === undefined ? {} : { api: r.api }), dispose: r.dispose ?? (() => r.net.dispose()) };
  };
}
