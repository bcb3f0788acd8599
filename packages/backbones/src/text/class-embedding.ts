import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, Network, normal } from '@fewstep/core';
import type { BackboneOutput, Conditioning } from '../backbone-types.js';
import { checkInt, checkKnownKeys, checkSeed } from '../config-checks.js';
import { checkNetworkMatches } from '../network-binding.js';
import type { BackboneBuildOptions } from '../unet/video-unet.js';

/** Config of {@link ClassEmbedding}. */
export interface ClassEmbeddingConfig {
  /** Real classes `0 .. numClasses-1`; id `numClasses` is the null class (unconditional / CFG). */
  numClasses: number;
  /** Embedding width D (the denoiser's `contextDim` / `pooledDim`). */
  dim: number;
  seed: number;
}

/**
 * Class-label conditioning, a cheaper alternative to text: a table `[numClasses + 1, D]` whose
 * last row is the null class (as DiT's label embedding with its CFG row). Gives one context token
 * `[B, 1, D]` and the same vector as `pooled` `[B, D]`.
 */
export class ClassEmbedding {
  static readonly kind = 'backbones:class-embedding';
  readonly kind = ClassEmbedding.kind;
  readonly config: Readonly<ClassEmbeddingConfig>;
  readonly net: Network;

  constructor(config: ClassEmbeddingConfig, options: BackboneBuildOptions = {}) {
    checkKnownKeys('ClassEmbeddingConfig', config, ['numClasses', 'dim', 'seed']);
    this.config = {
      numClasses: checkInt('ClassEmbeddingConfig.numClasses', config.numClasses),
      dim: checkInt('ClassEmbeddingConfig.dim', config.dim),
      seed: checkSeed('ClassEmbeddingConfig.seed', config.seed),
    };
    const build = (net: Network): void => void net.param('embedding', [this.config.numClasses + 1, this.config.dim], normal({ std: 0.02 }));
    if (options.network) {
      checkNetworkMatches('ClassEmbedding', options.network, build);
      this.net = options.network;
    } else {
      this.net = new Network(options.name ?? 'class-embedding', { seed: this.config.seed });
      build(this.net);
    }
  }

  /** Id of the null class. */
  get nullClass(): number {
    return this.config.numClasses;
  }

  /**
   * @param labels `[B]` class ids (`nullClass` for unconditional); numbers are range-checked, tensors are not
   * @returns `out` `[B, 1, D]`, no taps
   */
  forward(labels: tf.Tensor | readonly number[]): BackboneOutput {
    if (!(labels instanceof tf.Tensor)) {
      const bad = labels.find((l) => !Number.isInteger(l) || l < 0 || l > this.nullClass);
      if (bad !== undefined) throw new ConfigError('class label', bad, `an integer in [0, ${this.nullClass}] (${this.nullClass} = null class)`);
    }
    return tf.tidy(() => {
      const ids = labels instanceof tf.Tensor ? tf.cast(tf.reshape(labels, [-1]), 'int32') : tf.tensor1d([...labels], 'int32');
      const e = tf.gather(this.net.kernel('embedding'), ids);
      return { out: tf.expandDims(e, 1), taps: {} };
    });
  }

  /** `{ context: [B, 1, D], pooled: [B, D] }` for a denoiser with `contextDim = pooledDim = D` (either may be unused). */
  conditioning(labels: tf.Tensor | readonly number[]): Required<Pick<Conditioning, 'context' | 'pooled'>> {
    return tf.tidy(() => {
      const { out } = this.forward(labels);
      return { context: out, pooled: tf.squeeze(out, [1]) };
    });
  }

  toConfig(): ClassEmbeddingConfig {
    return { ...this.config };
  }

  static fromConfig(config: ClassEmbeddingConfig, options?: BackboneBuildOptions): ClassEmbedding {
    return new ClassEmbedding(config, options);
  }

  dispose(): void {
    this.net.dispose();
  }
}
