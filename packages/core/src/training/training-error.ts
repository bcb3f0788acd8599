import { FewstepError } from '../errors.js';

/** A training run failed for a reason other than bad config or checkpoint (which have their own classes). */
export class TrainingError extends FewstepError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_TRAINING', message, options);
  }
}

/**
 * Too many non-finite skips (RELIABILITY.md P27): the run is aborted after a final checkpoint of
 * its last good state. Names the phase, the counts and the steps.
 */
export class NonFiniteError extends FewstepError {
  constructor(
    readonly phase: string,
    readonly step: number,
    readonly consecutive: number,
    readonly inWindow: number,
    readonly window: number,
    message: string,
  ) {
    super('E_NON_FINITE', message);
  }
}
