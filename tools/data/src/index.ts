/**
 * @fewstep/data: datasets for teachers and recipes: exact mixture samples, synthetic teacher
 * trajectories (AccVideo's SynVid) and ODE pairs (ADP).
 */
export {
  mixtureSource,
  teacherTrajectories,
  teacherOdePairs,
  tensorSource,
  type TrajectoryOptions,
  type OdePairOptions,
} from './teacher-datasets.js';
export {
  ShapesVideo,
  ShapesImages,
  shapesImages,
  parseShapesVideoSpec,
  formatShapesVideoSpec,
  shapesWorld,
  renderFrame,
  objectCenter,
  shapesCaption,
  captionTokens,
  maxCaptionTokens,
  SHAPE_NAMES,
  COLOUR_NAMES,
  DIRECTION_NAMES,
  PALETTE,
  BACKGROUND,
  SHAPES_VIDEO_VOCAB,
  SHAPES_VIDEO_DEFAULTS,
  type ShapesVideoSpec,
  type ShapesObject,
  type ShapesWorld,
  type ShapesVideoSample,
  type ShapesVideoBatch,
  type ShapesImageBatch,
  type ShapesImagesOptions,
  type ShapesImageStyle,
  type ShapesRenderStyle,
  type ShapeName,
  type ColourName,
  type DirectionName,
} from './shapes-video.js';
export {
  readVideoFolder,
  writeVideoFolder,
  encodePng,
  decodePng,
  crc32,
  PngError,
  type LoadedVideoFolder,
  type ReadVideoFolderOptions,
  type WriteVideoFolderOptions,
  type RawImage,
  type EncodePngOptions,
} from './video-folder.js';
export { readMp4, hasFfmpeg, ffmpegBinary, evenlySpaced, FfmpegMissingError, E_FFMPEG_MISSING, type ReadMp4Options } from './ffmpeg.js';
export { shapesVideoSource, videoFolderSource, epochPermutation, type IndexedDataSource, type ShapesVideoSourceOptions, type VideoFolderSourceOptions } from './dataset-source.js';
