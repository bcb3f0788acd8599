/**
 * @fewstep/eval: metrics and reports. Ground-truth mixture metrics live in @fewstep/core
 * (`mixtureMetrics`); this package has the video metrics (Frechet distance on the versioned
 * `fewstep-video-features` network or any `VideoFeatureExtractor`, sharpness, temporal change,
 * diversity, caption agreement) and renders what people would rather look at than read.
 */
export { encodePng } from './png.js';
export { videoStripPng, type VideoStripOptions } from './video-strip.js';
export { linePlotSvg, type LinePlotOptions, type LineSeries } from './svg-line-plot.js';
export { renderHtmlReport, type ReportSection, type ReportTable } from './html-report.js';
export { videoGridFrames, encodeGif, writeMp4, type VideoGridOptions } from './video-grid.js';
// Video metrics: Frechet distance on a versioned feature network (pluggable), sharpness, temporal
// change, diversity, caption agreement.
export { videoMetrics, type VideoMetrics, type VideoMetricsOptions } from './video-metrics/video-metrics.js';
export {
  featureStatistics,
  frechetDistance,
  frechetDistanceOfFeatures,
  frechetTerms,
  symmetricEigen,
  sqrtPsd,
  type FeatureMatrix,
  type FeatureStatistics,
  type FrechetTerms,
  type SymmetricEigen,
} from './video-metrics/frechet-distance.js';
export { sharpness, temporalChange, diversity, frameStatistics, LUMA_WEIGHTS, type VideoSet, type DiversityOptions, type FrameStatistics } from './video-metrics/frame-metrics.js';
export {
  extractFeatures,
  isAttributeClassifier,
  type VideoFeatureExtractor,
  type VideoAttributeClassifier,
  type VideoAttributePredictions,
  type PredictedObject,
} from './video-metrics/feature-extractor.js';
export {
  VideoFeatureNet,
  validateVideoFeatureNetConfig,
  VIDEO_FEATURE_NET_NAME,
  VIDEO_FEATURE_NET_VERSION,
  VIDEO_FEATURE_NET_DEFAULTS,
  FEATURE_NET_JSON,
  FEATURE_NET_WEIGHTS,
  type VideoFeatureNetConfig,
  type VideoFeatureNetInput,
  type VideoFeatureNetOptions,
  type VideoFeatureNetProvenance,
} from './video-metrics/video-feature-net.js';
export { attributeTargets, attributeLoss, decodeAttributePredictions, headWidth, type AttributeVocabulary, type AttributeTargets, type AttributeLoss } from './video-metrics/attribute-heads.js';
export { captionAgreement, parseCaption, type CaptionAgreement, type CaptionAgreementResult, type CaptionObject } from './video-metrics/caption-agreement.js';
export { defaultVideoFeatureNetDir, loadVideoFeatureNet } from './video-metrics/default-feature-net.js';
