/**
 * safetensors read/write for fewstep checkpoints (RELIABILITY.md P1–P14, appendix §1). Hand
 * written on Node's `fs`; validated in the reference reader's order, stricter on duplicate keys.
 */
export { SafetensorsError, type SafetensorsRule, type ReferenceErrorClass } from './safetensors-error.js';
export {
  SAFETENSORS_DTYPES,
  dtypeBits,
  isSafetensorsDtype,
  type SafetensorsDtype,
  type TensorData,
} from './dtypes.js';
export {
  parseSafetensorsHeader,
  MAX_HEADER_SIZE,
  type SafetensorsHeader,
  type SafetensorsTensorInfo,
} from './header.js';
export { openFileSource, bytesSource, type RandomAccessSource } from './file-source.js';
export {
  readSafetensors,
  readSafetensorsHeader,
  decodeSafetensors,
  type LoadedTensor,
  type ReadSafetensorsOptions,
  type SafetensorsContents,
} from './reader.js';
export {
  encodeSafetensors,
  prepareSafetensors,
  type EncodeSafetensorsOptions,
  type PreparedSafetensors,
  type TensorToWrite,
  type TensorsToWrite,
} from './encode.js';
export { writeSafetensors, type WriteSafetensorsOptions } from './writer.js';
export { writeFileAtomic, nodeAtomicWriteFs, type AtomicWriteFs, type AtomicWriteHandle } from './atomic-write.js';
export {
  readSafetensorsIndex,
  readShardedSafetensors,
  writeShardedSafetensors,
  INDEX_SUFFIX,
  type SafetensorsIndex,
  type ShardedContents,
  type WriteShardedOptions,
} from './sharded.js';
export {
  inspectSafetensors,
  summarizeSafetensors,
  formatSafetensorsSummary,
  type SafetensorsSummary,
  type SafetensorsSummaryTensor,
} from './inspect.js';
export { int64ToInt32, countNonFinite } from './tensor-data.js';
export { f16BitsToF32Bits, f32BitsToF16Bits, bf16BitsToF32Bits, f32BitsToBf16Bits } from './float16.js';
