import * as tf from '@tensorflow/tfjs-core';
import { Network, ShapeError } from '@fewstep/core';
import type { Backbone, BackboneOutput, Conditioning, DenoiserInputs, ForwardOptions } from '../backbone-types.js';
import { pickPreset } from '../config-checks.js';
import { checkNetworkMatches, countParameters } from '../network-binding.js';
import { TapRecorder } from '../taps.js';
import { initUNet, unetForward, unetTapNames } from './unet-core.js';
import { IMAGE_UNET_PRESETS, spatialPart, validateImageUNetConfig, type ImageUNetConfig } from './unet-config.js';
import type { BackboneBuildOptions, VideoUNet } from './video-unet.js';

/**
 * Image UNet: the video UNet without motion modules (the 2D frame teacher / fake score of AVDM2's
 * frame SDM, image distillation). Its parameter names are the video UNet's spatial names.
 * Takes `[B, H, W, C]`, or `[B, F, H, W, C]` treated as F independent frames sharing the
 * conditioning (what AVDM2 needs for the K sampled frames).
 */
export class ImageUNet implements Backbone<ImageUNetConfig, DenoiserInputs> {
  static readonly kind = 'backbones:image-unet';
  readonly kind = ImageUNet.kind;
  readonly config: Readonly<ImageUNetConfig>;
  readonly net: Network;

  constructor(config: ImageUNetConfig, options: BackboneBuildOptions = {}) {
    this.config = validateImageUNetConfig(config);
    const build = (net: Network): void => initUNet(net, this.config, null);
    if (options.network) {
      checkNetworkMatches('ImageUNet', options.network, build);
      this.net = options.network;
    } else {
      this.net = new Network(options.name ?? 'image-unet', { seed: this.config.seed });
      build(this.net);
    }
  }

  static fromConfig(config: ImageUNetConfig, options?: BackboneBuildOptions): ImageUNet {
    return new ImageUNet(config, options);
  }

  /** Parameter count of `config` without building it (the `base` presets are large). */
  static numParametersOf(config: ImageUNetConfig): number {
    const cfg = validateImageUNetConfig(config);
    return countParameters((net) => initUNet(net, cfg, null));
  }

  static preset(name: string, overrides: Partial<ImageUNetConfig> = {}, options?: BackboneBuildOptions): ImageUNet {
    return new ImageUNet({ ...pickPreset('ImageUNet', IMAGE_UNET_PRESETS, name), ...overrides }, options);
  }

  /**
   * @param inputs `x` `[B, H, W, C]` or `[B, F, H, W, C]`, `t` `[B]`, conditioning `[B, ...]`
   * @returns `out` and taps in the layout of `x` (`[B, h, w, c]` or `[B, F, h, w, c]`)
   */
  forward(inputs: DenoiserInputs, options: ForwardOptions = {}): BackboneOutput {
    const { x, t, ...cond } = inputs;
    if (x.rank !== 4 && x.rank !== 5) throw new ShapeError('ImageUNet input x', x.shape, '[B, H, W, C] or [B, F, H, W, C]');
    const taps = new TapRecorder(options.taps, this.tapNames());
    return tf.tidy(() => {
      const x5 = x.rank === 5 ? x : tf.expandDims(x, 1);
      const [b, f] = x5.shape as [number, number];
      const toLayout = (h: tf.Tensor): tf.Tensor => (x.rank === 5 ? tf.reshape(h, [b, f, ...h.shape.slice(1)]) : h);
      const out = unetForward('ImageUNet', this.net, this.config, null, x5, t, cond, taps, toLayout);
      return { out: toLayout(out), taps: taps.taps };
    });
  }

  predict(x: tf.Tensor, t: tf.Tensor, cond: Conditioning = {}): tf.Tensor {
    return this.forward({ x, t, ...cond }).out;
  }

  tapNames(): string[] {
    return unetTapNames(this.config);
  }

  withNetwork(network: Network): ImageUNet {
    return new ImageUNet(this.toConfig(), { network });
  }

  clone(name = `${this.net.name}.clone`): ImageUNet {
    return this.withNetwork(this.net.clone(name));
  }

  toConfig(): ImageUNetConfig {
    return structuredClone(this.config) as ImageUNetConfig;
  }

  numParameters(): number {
    return this.net.numParameters();
  }

  dispose(): void {
    this.net.dispose();
  }
}

/**
 * Copies the spatial weights of `video` into `image` (every image parameter from the video
 * parameter of the same name; the motion modules are skipped). With `effective` (default) a
 * kernel carrying a LoRA delta is copied as `W + delta`, i.e. what the video UNet computes with.
 * @throws StateMismatchError when the architectures differ (nothing is assigned)
 */
export function copySpatialWeights(video: VideoUNet, image: ImageUNet, options: { effective?: boolean } = {}): void {
  const { effective = true } = options;
  const names = [...image.net.variables().keys()];
  const weights = tf.tidy(() => {
    const m: Record<string, tf.Tensor> = {};
    for (const n of names) {
      if (video.net.has(n)) m[n] = effective ? tf.clone(video.net.kernel(n)) : tf.clone(video.net.variable(n));
    }
    return m;
  });
  try {
    image.net.setWeights(weights, { strict: true });
  } finally {
    tf.dispose(Object.values(weights));
  }
}

/** A new image UNet with the spatial config and weights of `video` (AVDM2's 2D frame model). */
export function imageUNetFromVideo(video: VideoUNet, options: BackboneBuildOptions & { effective?: boolean } = {}): ImageUNet {
  const image = new ImageUNet(spatialPart(video.toConfig()), { name: options.name ?? `${video.net.name}.spatial`, ...(options.network ? { network: options.network } : {}) });
  copySpatialWeights(video, image, options);
  return image;
}
