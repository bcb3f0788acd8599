import * as tf from '@tensorflow/tfjs-core';
import { Network, ShapeError } from '@fewstep/core';
import type { Backbone, BackboneOutput, Conditioning, DenoiserInputs, ForwardOptions } from '../backbone-types.js';
import { pickPreset } from '../config-checks.js';
import { checkNetworkMatches, countParameters } from '../network-binding.js';
import { TapRecorder } from '../taps.js';
import { initUNet, unetForward, unetTapNames, type TemporalSpec } from './unet-core.js';
import { VIDEO_UNET_PRESETS, validateVideoUNetConfig, type VideoUNetConfig } from './unet-config.js';

/** Options of the backbone constructors. */
export interface BackboneBuildOptions {
  /** Name of the new network (checkpoints key roles by it). @default the backbone kind without its namespace */
  name?: string;
  /** Run on this existing network instead of creating one (a clone, an EMA copy); it must fit the config. */
  network?: Network;
}

/**
 * Video UNet (AnimateDiff / ModelScope-T2V style), NHWC per frame: ResNet blocks and spatial
 * transformers (self-attention, cross-attention to text tokens) run on every frame, temporal
 * transformers ("motion modules", zero-initialised output) attend over frames per pixel. The
 * frame count is free at run time (`F = 1` works). With `imageCondition` (image-to-video,
 * SVD-style) the conditioning frame and its mask enter `conv_in` as extra channels and its
 * encoder embedding the time embedding or the cross-attention (see `image-conditioning.ts`).
 *
 * @example
 * const unet = VideoUNet.preset('tiny', { seed: 3 });
 * const { out, taps } = unet.forward({ x, t, context }, { taps: ['mid'] }); // x [B, F, H, W, 4]
 */
export class VideoUNet implements Backbone<VideoUNetConfig, DenoiserInputs> {
  static readonly kind = 'backbones:video-unet';
  readonly kind = VideoUNet.kind;
  readonly config: Readonly<VideoUNetConfig>;
  readonly net: Network;
  readonly #temporal: TemporalSpec;

  constructor(config: VideoUNetConfig, options: BackboneBuildOptions = {}) {
    this.config = validateVideoUNetConfig(config);
    this.#temporal = { heads: this.config.temporalHeads, depth: this.config.temporalDepth, levels: this.config.temporalLevels };
    const build = (net: Network): void => initUNet(net, this.config, this.#temporal, this.config.imageCondition ?? null);
    if (options.network) {
      checkNetworkMatches('VideoUNet', options.network, build);
      this.net = options.network;
    } else {
      this.net = new Network(options.name ?? 'video-unet', { seed: this.config.seed });
      build(this.net);
    }
  }

  /** Rebuilds from `toConfig()` output (e.g. parsed JSON). */
  static fromConfig(config: VideoUNetConfig, options?: BackboneBuildOptions): VideoUNet {
    return new VideoUNet(config, options);
  }

  /** Parameter count of `config` without building it (the `base` presets are large). */
  static numParametersOf(config: VideoUNetConfig): number {
    const cfg = validateVideoUNetConfig(config);
    return countParameters((net) => initUNet(net, cfg, { heads: cfg.temporalHeads, depth: cfg.temporalDepth, levels: cfg.temporalLevels }, cfg.imageCondition ?? null));
  }

  /** A preset (`tiny`, `small`, `base`) with optional overrides. */
  static preset(name: string, overrides: Partial<VideoUNetConfig> = {}, options?: BackboneBuildOptions): VideoUNet {
    return new VideoUNet({ ...pickPreset('VideoUNet', VIDEO_UNET_PRESETS, name), ...overrides }, options);
  }

  /**
   * One forward pass.
   * @param inputs `x` `[B, F, H, W, inChannels]`, `t` `[B]`, conditioning as configured
   * @returns `out` `[B, F, H, W, outChannels]`; taps `[B, F, h, w, c]`
   */
  forward(inputs: DenoiserInputs, options: ForwardOptions = {}): BackboneOutput {
    const { x, t, ...cond } = inputs;
    if (x.rank !== 5) throw new ShapeError('VideoUNet input x', x.shape, '[B, F, H, W, C] (rank 5; use ImageUNet for [B, H, W, C])');
    const taps = new TapRecorder(options.taps, this.tapNames());
    const [b, f] = x.shape as [number, number];
    return tf.tidy(() => {
      const toVideo = (h: tf.Tensor): tf.Tensor => tf.reshape(h, [b, f, ...h.shape.slice(1)]);
      const out = unetForward('VideoUNet', this.net, this.config, this.#temporal, x, t, cond, taps, toVideo, this.config.imageCondition ?? null);
      return { out: toVideo(out), taps: taps.taps };
    });
  }

  /** The output only: `predict(xt, t, cond)` fits core's `Denoiser.predict`. */
  predict(x: tf.Tensor, t: tf.Tensor, cond: Conditioning = {}): tf.Tensor {
    const { out } = this.forward({ x, t, ...cond });
    return out;
  }

  tapNames(): string[] {
    return unetTapNames(this.config);
  }

  /** The same architecture on another network (e.g. `net.clone()` for an EMA copy or a fake score). */
  withNetwork(network: Network): VideoUNet {
    return new VideoUNet(this.toConfig(), { network });
  }

  /** A deep copy: new variables with the same values (and LoRA adapters). */
  clone(name = `${this.net.name}.clone`): VideoUNet {
    return this.withNetwork(this.net.clone(name));
  }

  toConfig(): VideoUNetConfig {
    return structuredClone(this.config) as VideoUNetConfig;
  }

  numParameters(): number {
    return this.net.numParameters();
  }

  dispose(): void {
    this.net.dispose();
  }
}
