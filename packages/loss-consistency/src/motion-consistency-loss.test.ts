import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '@fewstep/core';
import { describeLossConformance, seededNormal } from '@fewstep/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { motionConsistencyLoss, type MotionConsistencyInputs } from './motion-consistency-loss.js';
import { MotionHead } from './motion-representations.js';

let video: tf.Variable;
let head: MotionHead;
let target: MotionHead;
beforeAll(async () => {
  await tf.setBackend('cpu');
  video = tf.tidy(() => tf.variable(seededNormal([2, 3, 4, 4, 1], 5, 1), true, 'mcm.student.video'));
  head = MotionHead.create({ channels: 1, hidden: 4, seed: 3 });
  target = head.emaTarget(0.9).head;
});

describeLossConformance(motionConsistencyLoss, {
  inputs: (): MotionConsistencyInputs => ({
    pred: video,
    target: seededNormal([2, 3, 4, 4, 1], 6, 1),
    weights: tf.tensor1d([1, 2]),
    motionHead: (x) => head.apply(x),
    targetMotionHead: (x) => target.apply(x),
  }),
  // Gradients reach the student's output AND the learnable motion head (MCM trains both).
  trainable: () => [video, ...head.variables()],
  valid: [{}, { representation: 'frame-difference' }, { representation: 'correlation', correlationRadius: 2 }, { representation: 'low-frequency' }, { representation: 'high-frequency', distance: 'l2' }],
  invalid: [
    { options: { representation: 'optical-flow' as never }, error: /representation/ },
    { options: { temporalSigma: 0 }, error: /temporalSigma/ },
    { options: { correlationRadius: 1.5 }, error: /correlationRadius/ },
  ],
});

describe('motionConsistencyLoss: closed form', () => {
  it('frame-difference: a per-frame constant offset has no motion (loss 0); a moving offset gives sum of squared difference changes', () => {
    const targetVideo = seededNormal([1, 3, 2, 2, 1], 7, 1);
    const base = { ...motionConsistencyLoss.defaults, representation: 'frame-difference' as const, distance: 'l2' as const };
    const same = motionConsistencyLoss.compute({ pred: tf.add(targetVideo, 0.7), target: targetVideo }, base);
    expect(same.loss.dataSync()[0]).toBeCloseTo(0, 6);
    // Offsets per frame (0, 1, 3): frame differences change by (1, 2) on each of the 4 pixels -> 4 (1 + 4) = 20.
    const offsets = tf.tensor5d([0, 1, 3], [1, 3, 1, 1, 1]);
    const moved = motionConsistencyLoss.compute({ pred: tf.add(targetVideo, offsets), target: targetVideo }, base);
    expect(moved.loss.dataSync()[0]).toBeCloseTo(20, 4);
  });

  it("'learnable' without heads is a ConfigError", () => {
    const x = tf.zeros([1, 2, 2, 2, 1]);
    expect(() => motionConsistencyLoss.compute({ pred: x, target: x }, motionConsistencyLoss.defaults)).toThrow(ConfigError);
  });
});
