import { FewstepError } from '../errors.js';

/** Why a checkpoint could not be used; stable, cite it in issues. */
export type CheckpointProblem =
  | 'not-found'
  | 'missing-manifest'
  | 'invalid-manifest'
  | 'unsafe-path'
  | 'missing-file'
  | 'size-mismatch'
  | 'hash-mismatch'
  | 'invalid-file'
  | 'config-mismatch'
  | 'state-mismatch'
  | 'non-finite'
  | 'io-error';

/** One named item of a checkpoint that does not fit the run it is loaded into. */
export interface CheckpointMismatch {
  /** `weights.generator`, `optimizer.fakeScore`, `state.json`, `config` ... */
  readonly component: string;
  /** The tensor or field, e.g. `dense.0.kernel` or `phases[1].every`. */
  readonly name: string;
  readonly problem: 'missing' | 'unexpected' | 'shape' | 'dtype' | 'value';
  readonly found: string;
  readonly expected: string;
}

/**
 * A checkpoint that cannot be loaded (RELIABILITY.md P15, P19, P25, P26): uncommitted (no
 * manifest), corrupt (size or SHA-256 differs from the manifest), written by another config or
 * architecture, or whose contents do not fit the run. Nothing was assigned when it is thrown.
 */
export class CheckpointError extends FewstepError {
  constructor(
    readonly problem: CheckpointProblem,
    /** The checkpoint directory. */
    readonly checkpoint: string,
    message: string,
    options: { cause?: unknown; details?: readonly CheckpointMismatch[]; fix?: string } = {},
  ) {
    const details = options.details ?? [];
    const lines = [`Checkpoint ${checkpoint}: [${problem}] ${message}`];
    for (const d of details.slice(0, 20)) {
      lines.push(`  ${d.component}: '${d.name}' ${d.problem}: found ${d.found}, expected ${d.expected}`);
    }
    if (details.length > 20) lines.push(`  ... (${details.length - 20} more)`);
    if (options.fix) lines.push(`Fix: ${options.fix}`);
    super('E_CHECKPOINT', lines.join('\n'), options.cause === undefined ? undefined : { cause: options.cause });
    this.details = details;
  }

  readonly details: readonly CheckpointMismatch[];
}
