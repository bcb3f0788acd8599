/**
 * Multi-file checkpoints (RELIABILITY.md P12, P14–P17, P25, P26): a directory per step whose
 * `manifest.json` (step, config hash, size + SHA-256 of every file) is written last; verified
 * loading; auto-resume from the newest valid checkpoint; retention that never deletes the last
 * good one first.
 */
export { CheckpointError, type CheckpointMismatch, type CheckpointProblem } from './checkpoint-error.js';
export {
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  SDK_VERSION,
  parseManifest,
  type CheckpointManifest,
  type ManifestFile,
} from './manifest.js';
export { MANIFEST_FILE, stepDirName, parseStepDirName, listStepDirs, hasManifest, type StepDir } from './step-dir.js';
export {
  writeCheckpoint,
  applyRetention,
  type CheckpointFileContent,
  type WriteCheckpointOptions,
  type WrittenCheckpoint,
} from './write-checkpoint.js';
export { readCheckpoint, type CheckpointContents, type ReadCheckpointOptions } from './read-checkpoint.js';
export {
  findLatestCheckpoint,
  type FindLatestOptions,
  type LatestCheckpoint,
  type SkippedCheckpoint,
} from './find-latest-checkpoint.js';
export { canonicalize, canonicalJson, sha256Hex, jsonDifferences, type JsonValue, type JsonDifference } from './canonical-json.js';
