import type * as tf from '@tensorflow/tfjs-core';
import type { AdamWConfig } from './adamw.js';

/** One trainable tensor, named as in the PyTorch twin (the name also seeds its initial values). */
export interface NamedParam {
  name: string;
  value: tf.Tensor;
}

/** A built benchmark model: parameters, constant inputs, the loss and the optimizer settings. */
export interface WorkloadModel {
  /** Trainable parameters, in a fixed order. */
  params: NamedParam[];
  /** Constant inputs (no gradient), disposed with the model. */
  inputs: tf.Tensor[];
  /** The scalar training loss as a function of the parameters (by name). */
  loss(params: Record<string, tf.Tensor>): tf.Scalar;
  /** AdamW settings (weightDecay 0 = Adam). */
  optimizer: AdamWConfig;
  /** Nominal FLOPs of one training step: 3 × the forward pass's conv/matMul FLOPs. */
  flopsPerStep: number;
}

/** A named benchmark workload with default shapes that tests may shrink. */
export interface WorkloadDefinition<S extends object> {
  name: string;
  /** One line: what it measures. */
  description: string;
  /** The benchmark's shapes (those the PyTorch twin uses by default too). */
  defaults: S;
  /** Builds the model for `shapes` (merged over defaults). `lr` overrides the optimizer's rate (tests). */
  build(shapes: S, overrides?: { lr?: number }): WorkloadModel;
}
