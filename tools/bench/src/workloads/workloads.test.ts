import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { BenchTrainer } from '../bench-trainer.js';
import { ENGINE_WORKLOADS } from './index.js';

/** Losses of 3 training steps of each workload at tiny shapes, recorded from the PyTorch twin. */
const fixture = JSON.parse(readFileSync(new URL('../fixtures/torch-tiny-losses.json', import.meta.url), 'utf8')) as {
  shapes: Record<string, object>;
  losses: Record<string, number[]>;
  params: Record<string, number>;
};

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe.each(ENGINE_WORKLOADS.map((w) => [w.name, w] as const))('%s', (name, def) => {
  it('trains like the PyTorch twin: same parameter count, same losses over 3 AdamW steps, decreasing, no leak', async () => {
    const before = tf.memory().numTensors;
    const trainer = new BenchTrainer(def.build({ ...def.defaults, ...fixture.shapes[name] }));
    expect(trainer.parameterCount).toBe(fixture.params[name]);
    const losses = [await trainer.step(), await trainer.step(), await trainer.step()];
    trainer.dispose();
    const torch = fixture.losses[name] as number[];
    losses.forEach((l, i) => expect(Math.abs(l - (torch[i] as number)) / (torch[i] as number)).toBeLessThan(1e-5));
    expect(losses[1]).toBeLessThan(losses[0] as number);
    expect(losses[2]).toBeLessThan(losses[1] as number);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('nominal FLOPs', () => {
  it('conv-train counts 3 × 4 convs of 2·N·H·W·C²·9', () => {
    const def = ENGINE_WORKLOADS.find((w) => w.name === 'conv-train')!;
    const model = def.build(def.defaults);
    expect(model.flopsPerStep).toBe(3 * 4 * 2 * 4 * 32 * 32 * 64 * 64 * 9);
    tf.dispose([model.params.map((p) => p.value), model.inputs]);
  });
});
