/**
 * @fewstep/backbones: video UNet, video DiT, image UNet, text / class conditioning, feature taps,
 * PyTorch-layout export. (The DINOv2 / SAM critics live in ./critics, curated by their own index.)
 */
export type { Backbone, BackboneOutput, Conditioning, DenoiserInputs, ForwardOptions, TapSelection } from './backbone-types.js';
export { TapRecorder } from './taps.js';
export { GUIDANCE_EMBED_SCALE, type EmbeddingSpec } from './conditioning-embedding.js';

// Layers (functional, over a Network scope).
export { initLinear, linear, hasParam, type LinearInit } from './layers/linear.js';
export { initConv2d, conv2d, upsampleNearest2x, type Conv2dInit } from './layers/conv2d.js';
export { initNorm, groupNorm, resolveGroups } from './layers/group-norm.js';
export { layerNorm, normalizeLastAxis } from './layers/layer-norm.js';
export { silu, geluTanh } from './layers/activations.js';
export { sinusoidalEmbedding, initEmbeddingMlp, embeddingMlp, timestepEmbedding } from './layers/timestep-embedding.js';
export {
  initAttention,
  attention,
  scaledDotProductAttention,
  splitHeads,
  mergeHeads,
  repeatBatch,
  type AttentionInit,
  type AttentionOptions,
} from './layers/attention.js';
export { initFeedForward, feedForward } from './layers/feed-forward.js';
export { ropeAxes, rope3dTables, applyRope, type RopeAxes } from './layers/rope-3d.js';

// UNets.
export { VideoUNet, type BackboneBuildOptions } from './unet/video-unet.js';
export { ImageUNet, copySpatialWeights, imageUNetFromVideo } from './unet/image-unet.js';
export {
  IMAGE_UNET_PRESETS,
  VIDEO_UNET_PRESETS,
  validateImageUNetConfig,
  validateVideoUNetConfig,
  spatialPart,
  type ImageUNetConfig,
  type VideoUNetConfig,
} from './unet/unet-config.js';

// DiT.
export { VideoDiT } from './dit/video-dit.js';
export { VIDEO_DIT_PRESETS, validateVideoDiTConfig, type VideoDiTConfig } from './dit/video-dit-config.js';
export { patchify3d, unpatchify3d, patchGrid } from './dit/patchify-3d.js';

// Image-to-video conditioning (concat channels + mask, image encoder embedding, noise augmentation).
export {
  IMAGE_ENCODER_PRESETS,
  IMAGE_NOISE_EMBED_SCALE,
  imageConditioning,
  validateImageConditioning,
  conditionChannelCount,
  checkImageInputs,
  conditionChannels,
  firstFrameMask,
  encodeImage,
  imageEmbedding,
  augmentConditionFrame,
  sampleConditionNoiseSigma,
  withoutImage,
  type ImageConditioningConfig,
  type ImageEncoderConfig,
  type ImageEmbedMode,
  type ImageInputs,
  type ImageEmbedding,
} from './image-conditioning.js';
export type { JsonObject } from './critics/config-fields.js';

// Conditioning.
export {
  WordTokenizer,
  SPECIAL_TOKENS,
  PAD_ID,
  BOS_ID,
  EOS_ID,
  UNK_ID,
  type WordTokenizerConfig,
  type VocabOptions,
} from './text/word-tokenizer.js';
export {
  TextEncoder,
  TEXT_ENCODER_PRESETS,
  encodePrompts,
  emptyPromptConditioning,
  type TextEncoderConfig,
  type TextEncoderInputs,
  type TextEncoderOutput,
} from './text/text-encoder.js';
export { ClassEmbedding, type ClassEmbeddingConfig } from './text/class-embedding.js';

// Weight layout, networks.
export { pytorchEntry, pytorchMapping, toPyTorchStateDict, fromPyTorchStateDict, type PyTorchEntry } from './pytorch-layout.js';
export { parameterShapes, checkNetworkMatches, countParameters } from './network-binding.js';
export { savePyTorchSafetensors, loadPyTorchSafetensors } from './pytorch-safetensors.js';

// Registration.
export {
  BackbonesModule,
  backboneDefinitions,
  videoUNetBackbone,
  videoDiTBackbone,
  imageUNetBackbone,
  textEncoderBackbone,
} from './backbones.module.js';

// Conformance checks and benchmark (used by this package's tests and by `tools/bench`).
export {
  checkOutputShapes,
  checkGradientsReachTrainable,
  checkFrozenForward,
  checkNoLeak,
  checkConfigRoundTrip,
  checkTaps,
  perturbZeroInitialised,
  projectionLoss,
  type ConformanceSubject,
} from './testing-conformance.js';
export { benchBackbones, formatBenchTable, type BenchOptions, type BenchRow } from './bench-backbones.js';
export * from './critics/index.js';
