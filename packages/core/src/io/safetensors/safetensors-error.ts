import { FewstepError } from '../../errors.js';

/**
 * Error classes of the Hugging Face reference reader (`enum SafeTensorError`,
 * huggingface/safetensors@24b0b28:safetensors/src/tensor.rs). Every {@link SafetensorsRule} maps
 * to one of them, or to `null` where fewstep is stricter than the reference (RELIABILITY.md P6)
 * or the rule has no reference counterpart (index files, non-finite values, I/O).
 */
export type ReferenceErrorClass =
  | 'HeaderTooSmall'
  | 'HeaderTooLarge'
  | 'InvalidHeaderLength'
  | 'InvalidHeader'
  | 'InvalidHeaderDeserialization'
  | 'InvalidOffset'
  | 'ValidationOverflow'
  | 'MisalignedSlice'
  | 'TensorInvalidInfo'
  | 'MetadataIncompleteBuffer'
  | 'TensorNotFound'
  | 'InvalidTensorView'
  | 'IoError';

/** Machine-readable reason of a {@link SafetensorsError}; stable, cite it in issues. */
export type SafetensorsRule =
  | 'header-too-small'
  | 'header-too-large'
  | 'header-length-exceeds-file'
  | 'header-not-utf8'
  | 'invalid-json'
  | 'duplicate-key'
  | 'header-not-object'
  | 'invalid-metadata'
  | 'invalid-tensor-entry'
  | 'unknown-dtype'
  | 'invalid-shape'
  | 'invalid-offsets'
  | 'offsets-not-contiguous'
  | 'size-overflow'
  | 'misaligned-slice'
  | 'size-mismatch'
  | 'data-region-mismatch'
  | 'dim-not-safe-integer'
  | 'tensor-not-found'
  | 'invalid-tensor-view'
  | 'invalid-name'
  | 'non-finite'
  | 'not-a-regular-file'
  | 'short-read'
  | 'io-error'
  | 'invalid-index'
  | 'path-escape'
  | 'shard-missing'
  | 'index-mismatch'
  | 'unsupported-platform';

const REFERENCE_CLASS: Record<SafetensorsRule, ReferenceErrorClass | null> = {
  'header-too-small': 'HeaderTooSmall',
  'header-too-large': 'HeaderTooLarge',
  'header-length-exceeds-file': 'InvalidHeaderLength',
  'header-not-utf8': 'InvalidHeader',
  'invalid-json': 'InvalidHeaderDeserialization',
  // The reference rejects a duplicate `__metadata__` or duplicate fields inside an entry
  // (InvalidHeaderDeserialization) but silently keeps the last duplicate tensor or metadata key.
  'duplicate-key': 'InvalidHeaderDeserialization',
  'header-not-object': 'InvalidHeaderDeserialization',
  'invalid-metadata': 'InvalidHeaderDeserialization',
  'invalid-tensor-entry': 'InvalidHeaderDeserialization',
  'unknown-dtype': 'InvalidHeaderDeserialization',
  'invalid-shape': 'InvalidHeaderDeserialization',
  'invalid-offsets': 'InvalidHeaderDeserialization',
  'offsets-not-contiguous': 'InvalidOffset',
  'size-overflow': 'ValidationOverflow',
  'misaligned-slice': 'MisalignedSlice',
  'size-mismatch': 'TensorInvalidInfo',
  'data-region-mismatch': 'MetadataIncompleteBuffer',
  'dim-not-safe-integer': null,
  'tensor-not-found': 'TensorNotFound',
  'invalid-tensor-view': 'InvalidTensorView',
  'invalid-name': null,
  'non-finite': null,
  'not-a-regular-file': 'IoError',
  'short-read': 'IoError',
  'io-error': 'IoError',
  'invalid-index': null,
  'path-escape': null,
  'shard-missing': null,
  'index-mismatch': null,
  'unsupported-platform': null,
};

/**
 * A safetensors file, index or write request that fewstep refuses. The message names the tensor
 * or field, the value found, what is allowed and the fix (STYLE.md G18). Thrown before any
 * tensor is returned (RELIABILITY.md P1).
 */
export class SafetensorsError extends FewstepError {
  /** The reference reader's error class for the same input, or `null` (see {@link ReferenceErrorClass}). */
  readonly referenceClass: ReferenceErrorClass | null;
  constructor(
    readonly rule: SafetensorsRule,
    message: string,
    options?: { cause?: unknown; file?: string },
  ) {
    super(
      'E_SAFETENSORS',
      (options?.file !== undefined ? `${options.file}: ` : '') + `[${rule}] ${message}`,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.referenceClass = REFERENCE_CLASS[rule];
  }
}

/** Renders an untrusted string for an error message: JSON-quoted, cut to `max` characters. */
export function quote(s: string, max = 80): string {
  const q = JSON.stringify(s.length > max ? s.slice(0, max) : s);
  return s.length > max ? `${q}… (${s.length} chars)` : q;
}
