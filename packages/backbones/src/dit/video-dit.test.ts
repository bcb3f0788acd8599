import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine, ShapeError } from '@fewstep/core';
import { seededNormal } from '@fewstep/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DenoiserInputs } from '../backbone-types.js';
import {
  checkConfigRoundTrip,
  checkFrozenForward,
  checkGradientsReachTrainable,
  checkNoLeak,
  checkOutputShapes,
  checkTaps,
  perturbZeroInitialised,
} from '../testing-conformance.js';
import { VideoDiT } from './video-dit.js';

function inputs(b: number, f: number, h: number, w: number, seed = 1): DenoiserInputs {
  return {
    x: seededNormal([b, f, h, w, 4], seed),
    t: tf.tensor1d(Array.from({ length: b }, (_, i) => 0.2 + 0.5 * i)),
    context: seededNormal([b, 3, 32], seed + 1),
    contextMask: tf.tensor2d(Array.from({ length: b }, () => [1, 1, 0]), [b, 3]),
    pooled: seededNormal([b, 32], seed + 2),
  };
}

let dit: VideoDiT;
let batch: DenoiserInputs;

beforeAll(async () => {
  await initEngine({ backend: 'wasm', report: false });
  dit = VideoDiT.preset('tiny', { timestepScale: 1000 });
  perturbZeroInitialised(dit.net, 1);
  batch = inputs(1, 2, 8, 8);
});
afterAll(() => {
  dit.dispose();
  tf.dispose(Object.values(batch));
});

describe('VideoDiT (tiny) conformance', () => {
  it('output and tap shapes for several F, H, W (F = 1 included)', () => {
    expect(dit.numParameters()).toBeLessThan(1_000_000);
    const cases = [inputs(1, 1, 4, 4), inputs(2, 3, 8, 4), inputs(1, 2, 6, 10)];
    checkOutputShapes(dit, [
      { inputs: cases[0]!, out: [1, 1, 4, 4, 4], taps: { 'block.0': [1, 1, 2, 2, 64] } },
      { inputs: cases[1]!, out: [2, 3, 8, 4, 4], taps: { 'block.3': [2, 3, 4, 2, 64] } },
      { inputs: cases[2]!, out: [1, 2, 6, 10, 4] },
    ]);
    cases.forEach((c) => tf.dispose(Object.values(c)));
  });

  it('taps block.0 .. block.N-1; no leaks', () => {
    expect(dit.tapNames()).toEqual(['block.0', 'block.1', 'block.2', 'block.3']);
    checkTaps(dit, batch);
    checkNoLeak(dit, batch);
  });

  it('gradients reach exactly the trainable variables (part frozen); frozen forward', async () => {
    const net = VideoDiT.preset('tiny', { seed: 3 });
    try {
      perturbZeroInitialised(net.net, 4);
      net.net.freeze('blocks.1');
      checkGradientsReachTrainable(net, batch);
    } finally {
      net.dispose();
    }
    const { x, ...rest } = batch;
    await checkFrozenForward(dit, batch, { x, inject: (v) => ({ ...rest, x: v }) });
  });

  it('config round trip', () => {
    const fresh = VideoDiT.preset('tiny', { seed: 8, patchSize: [2, 2, 2] });
    try {
      checkConfigRoundTrip(fresh, (c) => VideoDiT.fromConfig(c), batch, (s) => perturbZeroInitialised(s.net, 6));
    } finally {
      fresh.dispose();
    }
  });
});

describe('VideoDiT behaviour', () => {
  it('starts by predicting zero (adaLN-Zero, zero final projection)', () => {
    const fresh = VideoDiT.preset('tiny', { seed: 2 });
    const out = fresh.predict(batch.x, batch.t, { context: batch.context!, pooled: batch.pooled! });
    expect(tf.max(tf.abs(out)).dataSync()[0]).toBe(0);
    out.dispose();
    fresh.dispose();
  });

  it('is position-aware through 3D RoPE: reversing the frames does not just reverse the output', () => {
    const out = dit.predict(batch.x, batch.t, { context: batch.context!, pooled: batch.pooled! });
    const rev = dit.predict(tf.reverse(batch.x, 1), batch.t, { context: batch.context!, pooled: batch.pooled! });
    const diff = tf.max(tf.abs(tf.sub(tf.reverse(rev, 1), out))).dataSync()[0]!;
    expect(diff).toBeGreaterThan(1e-4);
    tf.dispose([out, rev]);
  });

  it('masked context tokens are ignored', () => {
    const changed = tf.concat([tf.slice(batch.context!, [0, 0, 0], [1, 2, 32]), tf.fill([1, 1, 32], 5)], 1);
    const a = dit.predict(batch.x, batch.t, { context: batch.context!, contextMask: batch.contextMask!, pooled: batch.pooled! });
    const b = dit.predict(batch.x, batch.t, { context: changed, contextMask: batch.contextMask!, pooled: batch.pooled! });
    expect(tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]).toBeLessThan(1e-6);
    tf.dispose([changed, a, b]);
  });

  it('rejects sizes that do not divide by the patch and invalid head sizes', () => {
    const x = tf.zeros([1, 2, 7, 8, 4]);
    expect(() => dit.forward({ ...batch, x })).toThrow(ShapeError);
    expect(() => VideoDiT.preset('tiny', { heads: 16 })).toThrow(/3D RoPE/);
    x.dispose();
  });
});
