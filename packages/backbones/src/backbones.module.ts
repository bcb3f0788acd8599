import { defineBackbone, defineModule, Tokens, type BackboneDefinition, type FewstepModule } from '@fewstep/core';
import { VIDEO_DIT_PRESETS, type VideoDiTConfig } from './dit/video-dit-config.js';
import { VideoDiT } from './dit/video-dit.js';
import { TEXT_ENCODER_PRESETS, TextEncoder, type TextEncoderConfig } from './text/text-encoder.js';
import { ImageUNet } from './unet/image-unet.js';
import { IMAGE_UNET_PRESETS, VIDEO_UNET_PRESETS, type ImageUNetConfig, type VideoUNetConfig } from './unet/unet-config.js';
import { VideoUNet } from './unet/video-unet.js';

/** `backbones:video-unet`: AnimateDiff / ModelScope-style video UNet. */
export const videoUNetBackbone: BackboneDefinition<VideoUNetConfig, VideoUNet> = defineBackbone({
  name: VideoUNet.kind,
  description: 'Video UNet: per-frame ResNet + spatial transformer blocks with text cross-attention, temporal motion modules (zero-init).',
  presets: VIDEO_UNET_PRESETS,
  create: (config) => new VideoUNet(config),
});

/** `backbones:video-dit`: CogVideoX / HunyuanVideo / Wan-style video DiT. */
export const videoDiTBackbone: BackboneDefinition<VideoDiTConfig, VideoDiT> = defineBackbone({
  name: VideoDiT.kind,
  description: 'Video DiT: 3D patches, 3D RoPE, adaLN-Zero blocks with full spatio-temporal self-attention and text cross-attention.',
  presets: VIDEO_DIT_PRESETS,
  create: (config) => new VideoDiT(config),
});

/** `backbones:image-unet`: the video UNet without motion modules. */
export const imageUNetBackbone: BackboneDefinition<ImageUNetConfig, ImageUNet> = defineBackbone({
  name: ImageUNet.kind,
  description: 'Image UNet: the spatial part of the video UNet (2D frame teacher, image distillation).',
  presets: IMAGE_UNET_PRESETS,
  create: (config) => new ImageUNet(config),
});

/** `backbones:text-encoder`: small bidirectional transformer text encoder. */
export const textEncoderBackbone: BackboneDefinition<TextEncoderConfig, TextEncoder> = defineBackbone({
  name: TextEncoder.kind,
  description: 'Text encoder: token + learned position embeddings, pre-LN transformer blocks; tokens and a pooled vector.',
  presets: TEXT_ENCODER_PRESETS,
  create: (config) => new TextEncoder(config),
});

/** Every backbone definition of this package. */
export const backboneDefinitions = [videoUNetBackbone, videoDiTBackbone, imageUNetBackbone, textEncoderBackbone] as const;

/**
 * Registers the backbones of `@fewstep/backbones` in the container's backbone registry.
 * @example DependencyManager.createRoot().registerModules(BackbonesModule)
 */
export const BackbonesModule: FewstepModule = defineModule({
  name: 'backbones:module',
  register(dm) {
    const registry = dm.resolve(Tokens.BackboneRegistry);
    for (const def of backboneDefinitions) registry.register(def as BackboneDefinition);
  },
});
