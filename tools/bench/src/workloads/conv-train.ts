import * as tf from '@tensorflow/tfjs-core';
import { defaultBound, hashUniform } from '../hash-init.js';
import type { NamedParam, WorkloadDefinition } from '../workload.js';

/** Shapes of `conv-train`. */
export interface ConvTrainShapes {
  batch: number;
  size: number;
  channels: number;
  layers: number;
}

/**
 * `conv-train`: a stack of 3×3 'same' convolutions C→C with bias, ReLU between them (not after
 * the last), loss mean(h²), Adam lr 1e-3. x `[N, S, S, C]` (NHWC). Measures the conv forward and
 * both conv gradients (input and filter).
 */
export const convTrain: WorkloadDefinition<ConvTrainShapes> = {
  name: 'conv-train',
  description: '4 conv3x3 64->64 + ReLU on [4,32,32,64], Adam',
  defaults: { batch: 4, size: 32, channels: 64, layers: 4 },
  build(s, overrides = {}) {
    const c = s.channels;
    const bound = defaultBound(9 * c);
    const params: NamedParam[] = [];
    for (let i = 0; i < s.layers; i++) {
      params.push({ name: `conv${i}.w`, value: hashUniform(`conv${i}.w`, [3, 3, c, c], bound) });
      params.push({ name: `conv${i}.b`, value: hashUniform(`conv${i}.b`, [c], bound) });
    }
    const x = hashUniform('input.x', [s.batch, s.size, s.size, c], 1);
    const loss = (p: Record<string, tf.Tensor>): tf.Scalar =>
      tf.tidy(() => {
        let h: tf.Tensor4D = x as tf.Tensor4D;
        for (let i = 0; i < s.layers; i++) {
          // Bias fused into the conv; ReLU separate (tfjs un-fuses non-linear activations under a tape).
          h = tf.fused.conv2d({
            x: i > 0 ? tf.relu(h) : h,
            filter: p[`conv${i}.w`] as tf.Tensor4D,
            bias: p[`conv${i}.b`] as tf.Tensor,
            strides: 1,
            pad: 'same',
          });
        }
        return tf.mean(tf.square(h));
      });
    const convFlops = 2 * s.batch * s.size * s.size * c * c * 9;
    return {
      params,
      inputs: [x],
      loss,
      optimizer: { lr: overrides.lr ?? 1e-3 },
      flopsPerStep: 3 * s.layers * convFlops,
    };
  },
};
