import type * as tf from '@tensorflow/tfjs-core';
import type { SeededRng } from '../diffusion/rng.js';
import type { Network } from '../nn/network.js';
import type { BatchId } from './events.js';

/**
 * What a loss term sees when the trainer calls `compute(context, options)` (the `inputs` of a
 * {@link LossDefinition} used in a trainer phase). It runs inside the gradient closure of the
 * phase: only the trained role's trainable variables get gradients, so every other network
 * (frozen teacher, EMA, the other players of a GAN) acts as a stop-gradient target (STYLE.md G10).
 */
export interface TrainingContext {
  /** Index of the current step, 0-based (= completed steps before it). */
  readonly step: number;
  /** The phase being run, and the role it updates. */
  readonly phase: string;
  readonly role: string;
  readonly seed: number;
  /** Every network of the run by role (EMA copies included). */
  readonly networks: Readonly<Record<string, Network>>;
  /** The network of `role`. @throws ConfigError listing the roles */
  network(role: string): Network;
  /** The step's batch (shared by every phase of the step); empty without a data source. */
  readonly batch: tf.NamedTensorMap;
  readonly batchId: BatchId | null;
  /**
   * A random stream of `(seed, step, phase/stream)` (P23): the same numbers in a resumed run.
   * Never use tfjs's unseeded random ops in a loss.
   */
  rng(stream: string): SeededRng;
  /** Standard-normal tensor of `shape` (times `std`) from stream `stream`. */
  randomNormal(shape: readonly number[], stream: string, std?: number): tf.Tensor;
  /** Uniform tensor on `[lo, hi)` from stream `stream`. */
  randomUniform(shape: readonly number[], stream: string, lo?: number, hi?: number): tf.Tensor;
}
