import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { ShapeError, initEngine } from '@fewstep/core';
import { expectNoLeak } from '@fewstep/testing';
import { loadCritic } from './load-critic.js';
import { SamCritic, partition, samCheckpointSpec, unpartition } from './sam-critic.js';
import { SAM_PRESETS, type SamConfig } from './sam-config.js';
import { targetShape } from './checkpoint-spec.js';
import { maxAbsError, readReference, reportParity, tensorOf } from './fixtures/reference.js';

const TOL = 1e-4;

beforeAll(async () => {
  await initEngine({ backend: 'wasm', report: false });
});

describe('SamCritic parity with transformers SamVisionModel (fixtures from make-critic-fixtures.py)', () => {
  it('sam-tiny: every hidden state (maps and tokens) and the neck output', async () => {
    const ref = await readReference('sam-tiny');
    const exact = await loadCritic('sam', ref.dir);
    const resizing = await loadCritic('sam', ref.dir, { posEmbedResize: 'bicubic' });
    try {
      expect(exact.net.trainableVariables().size).toBe(0);
      for (const c of ref.cases) {
        const critic = c.pos_embed === 'exact' ? exact : resizing;
        const x = tensorOf(ref, `${c.name}.pixel_values`) as tf.Tensor4D;
        const all = Array.from({ length: c.hidden_states }, (_, i) => i);
        const maps = critic.hiddenStateMaps(x, all);
        const errs = maps.map((m, i) => maxAbsError(m, ref.tensors.get(`${c.name}.hidden_states.${i}`)!));
        const tokens = critic.hiddenStates(x, [-1]);
        const [, h, w, d] = maps[maps.length - 1]!.shape;
        expect(tokens[0]!.shape).toEqual([c.batch, h * w, d]);
        // transformers' neck output is NCHW; the critic's is NHWC.
        const neck = critic.lastHiddenState(x);
        const neckErr = maxAbsError(neck, ref.tensors.get(`${c.name}.last_hidden_state`)!, [0, 2, 3, 1]);
        reportParity(`sam-tiny ${c.name} B=${c.batch} (${c.pos_embed}): hidden_states ${errs.map((e) => e.toExponential(1)).join(' ')} | neck ${neckErr.toExponential(1)}`);
        for (const e of [...errs, neckErr]) expect(e).toBeLessThanOrEqual(TOL);
        tf.dispose([x, neck, ...maps, ...tokens]);
      }
    } finally {
      exact.dispose();
      resizing.dispose();
    }
  });

  it("refuses another input size unless posEmbedResize is 'bicubic' (as transformers)", async () => {
    const ref = await readReference('sam-tiny');
    const critic = await loadCritic('sam', ref.dir);
    const x = tf.zeros([1, 48, 40, 3]) as tf.Tensor4D;
    expect(() => critic.hiddenStates(x, [0])).toThrow(ShapeError);
    expect(() => critic.hiddenStates(x, [0])).toThrow(/posEmbedResize: 'bicubic'/);
    tf.dispose(x);
    critic.dispose();
  });

  it('frees every intermediate tensor and lets gradients reach the images (through the neck too)', async () => {
    const ref = await readReference('sam-tiny');
    const critic = await loadCritic('sam', ref.dir, { posEmbedResize: 'bicubic' });
    const x = tensorOf(ref, '48x40.pixel_values') as tf.Tensor4D;
    await expectNoLeak(() => tf.dispose(critic.hiddenStates(x, [1, 3])), 'SamCritic.hiddenStates');
    await expectNoLeak(() => {
      const { out, taps } = critic.forward(x, { taps: 'all' });
      expect(Object.keys(taps)).toHaveLength(4);
      tf.dispose([out, ...Object.values(taps)]);
    }, 'SamCritic.forward');
    const grad = tf.grad((img: tf.Tensor) => tf.add(tf.sum(tf.square(critic.lastHiddenState(img as tf.Tensor4D))), tf.sum(critic.hiddenStates(img as tf.Tensor4D, [2])[0]!)))(x);
    expect(grad.shape).toEqual(x.shape);
    const g = grad.dataSync();
    expect(g.every(Number.isFinite)).toBe(true);
    expect(g.some((v) => v !== 0)).toBe(true);
    tf.dispose([x, grad]);
    critic.dispose();
  });

  it('window partition pads to a multiple of the window and unpartition inverts it', () => {
    const x = tf.reshape(tf.range(0, 2 * 5 * 7 * 3), [2, 5, 7, 3]) as tf.Tensor4D;
    const win = partition(x, 3);
    expect(win.shape).toEqual([2 * 2 * 3, 3, 3, 3]);
    const back = unpartition(win, x.shape);
    expect(Array.from(back.dataSync())).toEqual(Array.from(x.dataSync()));
    tf.dispose([x, win, back]);
  });
});

describe('SamCritic.create and presets', () => {
  it('builds an untrained frozen critic whose variables follow the checkpoint spec', () => {
    const config: SamConfig = { ...SAM_PRESETS['sam-vit-b'], hiddenSize: 16, numHeads: 2, numLayers: 2, imageSize: 32, patchSize: 8, windowSize: 3, globalAttnIndexes: [1], mlpDim: 32, outputChannels: 8 };
    const critic = SamCritic.create(config, { seed: 5 });
    expect(critic.net.trainableVariables().size).toBe(0);
    const names = samCheckpointSpec(config).flatMap((e) => e.targets.map((t) => t.name));
    expect([...critic.net.variables().keys()].sort()).toEqual(names.sort());
    const x = tf.zeros([1, 32, 32, 3]) as tf.Tensor4D;
    const out = critic.lastHiddenState(x);
    expect(out.shape).toEqual([1, 4, 4, 8]);
    tf.dispose([x, out]);
    critic.dispose();
  });

  it('sam-vit-b has the 177 tensors / 89,670,912 parameters of transformers SamVisionModel', () => {
    const spec = samCheckpointSpec(SAM_PRESETS['sam-vit-b']);
    expect(spec.length).toBe(177);
    const n = spec.flatMap((e) => e.targets.map((t) => targetShape(e, t).reduce((a, b) => a * b, 1))).reduce((a, b) => a + b, 0);
    expect(n).toBe(89_670_912);
  });
});
