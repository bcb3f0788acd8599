import type * as tf from '@tensorflow/tfjs-core';
import { ConfigError, type Network } from '@fewstep/core';

/** Which critic {@link loadCritic} builds. */
export type CriticKind = 'dinov2' | 'sam';

/** The result of {@link VisionCritic.forward}: the final output and the selected hidden states. */
export interface CriticOutput {
  readonly out: tf.Tensor;
  readonly taps: Record<string, tf.Tensor>;
}

/**
 * A frozen pretrained vision encoder used as a feature critic (adversarial / perceptual /
 * feature-matching losses read its hidden states). Images are `[B, H, W, C]` float32, already
 * normalised as the model expects (DINOv2 and SAM: ImageNet mean / std). Gradients flow to the
 * images; the critic's own variables are never trainable.
 */
export interface VisionCritic<TConfig> {
  /** Registered backbone name (`backbones:critic-dinov2`, `backbones:critic-sam`). */
  readonly kind: string;
  readonly config: Readonly<TConfig>;
  /** The (frozen) variables, named in fewstep layout (`layers.0.attn.q.kernel` `[in, out]`). */
  readonly net: Network;
  readonly patchSize: number;
  /** Token width D of the hidden states. */
  readonly hiddenSize: number;
  /** Length of transformers' `hidden_states`: layers + 1 (index 0 = the embeddings). */
  readonly numHiddenStates: number;
  /** Tokens before the patch tokens in each hidden state (DINOv2: CLS + registers; SAM: 0). */
  readonly prefixTokens: number;
  /**
   * For each requested index (negative indices count from the end, as in Python), the
   * `[B, tokens, D]` tensor transformers returns at that index of `hidden_states`. Only the
   * layers up to the deepest requested index run. The caller owns the returned tensors.
   */
  hiddenStates(images: tf.Tensor4D, layers: readonly number[]): tf.Tensor3D[];
  /** transformers' `last_hidden_state` (see each critic for its shape). */
  lastHiddenState(images: tf.Tensor4D): tf.Tensor;
  /**
   * The backbone-style forward: `out` = {@link lastHiddenState}, `taps` = the hidden states named
   * `hidden_states.<i>` that `taps` selects (`'all'`, `'none'` or names), in one pass.
   */
  forward(images: tf.Tensor4D, options?: { taps?: readonly string[] | 'all' | 'none' }): CriticOutput;
  /** `hidden_states.0` … `hidden_states.<L>`. */
  tapNames(): string[];
  /** A copy of the config. */
  toConfig(): TConfig;
  dispose(): void;
}

/**
 * Resolves Python-style layer indices against `count` hidden states.
 * @throws ConfigError on an index outside `[-count, count)` or a non-integer.
 */
export function resolveLayerIndices(layers: readonly number[], count: number): number[] {
  return layers.map((i) => {
    if (!Number.isInteger(i) || i < -count || i >= count) {
      throw new ConfigError('hiddenStates(layers)', i, `integers in [${-count}, ${count}) (0 = embeddings, ${count - 1} = last layer, -1 = last)`);
    }
    return i < 0 ? i + count : i;
  });
}

/** Maps tap names to hidden-state indices. @throws ConfigError on an unknown tap name. */
export function resolveTaps(taps: readonly string[] | 'all' | 'none' | undefined, count: number): number[] {
  if (taps === undefined || taps === 'none') return [];
  const names = Array.from({ length: count }, (_, i) => `hidden_states.${i}`);
  if (taps === 'all') return names.map((_, i) => i);
  return taps.map((t) => {
    const i = names.indexOf(t);
    if (i < 0) throw new ConfigError('forward(taps)', t, `'all', 'none' or names among 'hidden_states.0' … 'hidden_states.${count - 1}'`);
    return i;
  });
}
