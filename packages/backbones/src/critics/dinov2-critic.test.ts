import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '@fewstep/core';
import { expectNoLeak } from '@fewstep/testing';
import { loadCritic } from './load-critic.js';
import { Dinov2Critic, dinov2CheckpointSpec } from './dinov2-critic.js';
import { DINOV2_PRESETS, type Dinov2Config } from './dinov2-config.js';
import { targetShape } from './checkpoint-spec.js';
import { maxAbsError, readReference, reportParity, tensorOf } from './fixtures/reference.js';

const TOL = 1e-4;

beforeAll(async () => {
  await initEngine({ backend: 'wasm', report: false });
});

describe('Dinov2Critic parity with transformers (fixtures from make-critic-fixtures.py)', () => {
  it.each(['dinov2-tiny', 'dinov2-swiglu-tiny', 'dinov2-registers-tiny'])('%s: every hidden state and last_hidden_state', async (model) => {
    const ref = await readReference(model);
    const critic = await loadCritic('dinov2', ref.dir);
    try {
      expect(critic.net.trainableVariables().size).toBe(0);
      for (const c of ref.cases) {
        const x = tensorOf(ref, `${c.name}.pixel_values`) as tf.Tensor4D;
        const all = Array.from({ length: c.hidden_states }, (_, i) => i);
        const hs = critic.hiddenStates(x, all);
        const errs = hs.map((h, i) => maxAbsError(h, ref.tensors.get(`${c.name}.hidden_states.${i}`)!));
        const last = critic.lastHiddenState(x);
        const lastErr = maxAbsError(last, ref.tensors.get(`${c.name}.last_hidden_state`)!);
        reportParity(`${model} ${c.name} B=${c.batch}: hidden_states ${errs.map((e) => e.toExponential(1)).join(' ')} | last ${lastErr.toExponential(1)}`);
        for (const e of [...errs, lastErr]) expect(e).toBeLessThanOrEqual(TOL);
        tf.dispose([x, last, ...hs]);
      }
    } finally {
      critic.dispose();
    }
  });

  it('selects, reorders and counts back from the end; forward returns taps and the normed output', async () => {
    const ref = await readReference('dinov2-tiny');
    const critic = await loadCritic('dinov2', ref.dir);
    const x = tensorOf(ref, '40x24.pixel_values') as tf.Tensor4D;
    const [a, b, c] = critic.hiddenStates(x, [-1, 1, 3]);
    expect(a!.shape).toEqual([1, 1 + 10 * 6, 32]);
    expect(maxAbsError(a!, ref.tensors.get('40x24.hidden_states.3')!)).toBeLessThanOrEqual(TOL);
    expect(maxAbsError(b!, ref.tensors.get('40x24.hidden_states.1')!)).toBeLessThanOrEqual(TOL);
    expect(c).not.toBe(a);
    const { out, taps } = critic.forward(x, { taps: ['hidden_states.0', 'hidden_states.3'] });
    expect(Object.keys(taps)).toEqual(['hidden_states.0', 'hidden_states.3']);
    expect(maxAbsError(out, ref.tensors.get('40x24.last_hidden_state')!)).toBeLessThanOrEqual(TOL);
    expect(maxAbsError(taps['hidden_states.0']!, ref.tensors.get('40x24.hidden_states.0')!)).toBeLessThanOrEqual(TOL);
    expect(critic.tapNames()).toEqual(['hidden_states.0', 'hidden_states.1', 'hidden_states.2', 'hidden_states.3']);
    expect(() => critic.hiddenStates(x, [4])).toThrow(/hiddenStates\(layers\).*\[-4, 4\)/);
    expect(() => critic.forward(x, { taps: ['block.1'] })).toThrow(/forward\(taps\)/);
    // Patch size 4: 30x24 is not a multiple.
    const bad = tf.zeros([1, 30, 24, 3]) as tf.Tensor4D;
    expect(() => critic.hiddenStates(bad, [0])).toThrow(/multiples of the patch size 4/);
    tf.dispose([x, a!, b!, c!, out, ...Object.values(taps), bad]);
    critic.dispose();
  });

  it('frees every intermediate tensor and lets gradients reach the images', async () => {
    const ref = await readReference('dinov2-registers-tiny');
    const critic = await loadCritic('dinov2', ref.dir);
    const x = tensorOf(ref, '56x42.pixel_values') as tf.Tensor4D;
    await expectNoLeak(() => tf.dispose(critic.hiddenStates(x, [0, 2])), 'Dinov2Critic.hiddenStates');
    const grad = tf.grad((img: tf.Tensor) => tf.sum(tf.square(critic.hiddenStates(img as tf.Tensor4D, [2])[0]!)))(x);
    expect(grad.shape).toEqual(x.shape);
    const g = grad.dataSync();
    expect(g.every(Number.isFinite)).toBe(true);
    expect(g.some((v) => v !== 0)).toBe(true);
    tf.dispose([x, grad]);
    critic.dispose();
  });
});

describe('Dinov2Critic.create and presets', () => {
  it('builds an untrained frozen critic whose variables follow the checkpoint spec', () => {
    const config: Dinov2Config = { ...DINOV2_PRESETS['vit-s14'], hiddenSize: 16, numHeads: 2, numLayers: 1, imageSize: 28, numRegisterTokens: 1 };
    const critic = Dinov2Critic.create(config, { seed: 3 });
    expect(critic.net.trainableVariables().size).toBe(0);
    const names = dinov2CheckpointSpec(config).flatMap((e) => e.targets.map((t) => t.name));
    expect([...critic.net.variables().keys()].sort()).toEqual(names.sort());
    const x = tf.zeros([2, 42, 28, 3]) as tf.Tensor4D;
    const [h] = critic.hiddenStates(x, [1]);
    expect(h!.shape).toEqual([2, 1 + 1 + 6, 16]);
    tf.dispose([x, h!]);
    critic.dispose();
  });

  it.each([
    ['vit-s14', 22_056_192],
    ['vit-b14', 86_579_712],
  ] as const)('%s has the parameter count of transformers Dinov2Model (mask token excluded)', (preset, count) => {
    const spec = dinov2CheckpointSpec(DINOV2_PRESETS[preset]);
    expect(spec.length).toBe(222);
    const n = spec.flatMap((e) => e.targets.map((t) => targetShape(e, t).reduce((a, b) => a * b, 1))).reduce((a, b) => a + b, 0);
    expect(n).toBe(count);
  });
});
