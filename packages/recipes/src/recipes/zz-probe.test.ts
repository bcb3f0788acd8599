import * as tf from '@tensorflow/tfjs-core';
import { it } from 'vitest';
import { flowMatchingSchedule, startRun, inMemoryDataSource } from '@fewstep/core';
import { VideoDiT, perturbZeroInitialised } from '@fewstep/backbones';
import { instantiateRecipe } from '../runtime/distill.js';
import { adp } from './adp.recipe.js';
import { adm } from './adm.recipe.js';
it('probe', async () => {
  await tf.setBackend('cpu');
  const backbone: any = VideoDiT.preset('tiny', { inChannels: 3, outChannels: 3, contextDim: null, pooledDim: null, seed: 1 } as never);
  backbone.net.freeze();
  perturbZeroInitialised(backbone.net, 1, 0.1);
  console.log('params', backbone.net.numParameters());
  const teacher = { backbone, schedule: flowMatchingSchedule(), predictionType: 'flow' as const };
  const shape = [4, 4, 4, 3];
  const B = 16;
  const noise = tf.randomNormal([64, ...shape]); const x0 = tf.randomNormal([64, ...shape]);
  const data = inMemoryDataSource({ name: 'p', tensors: { noise, x0 }, batchSize: B });
  const x = tf.randomNormal([B, ...shape]);
  let t0 = performance.now();
  for (let i = 0; i < 5; i++) tf.tidy(() => backbone.forward({ x, t: tf.fill([B], 500) }).out.dataSync());
  console.log('teacher fwd', ((performance.now() - t0) / 5).toFixed(1));
  for (const [name, recipe, d] of [['adp', adp, data], ['adm', adm, undefined], ['adm k=4', adm, undefined]] as const) {
    const inst = instantiateRecipe(recipe as any, { teacher, preset: 'tiny', options: name === 'adm k=4' ? { steps: 4 } : {}, sampleShape: shape, batchSize: B, seed: 1 });
    for (let p = -1; p < inst.phases.length; p++) {
      const ph = p < 0 ? inst.phases : [inst.phases[p]!];
      await startRun({ seed: 1, steps: 1, roles: inst.networks, phases: ph, ...(d ? { data: d } : {}), resume: 'never' }).result;
      t0 = performance.now();
      await startRun({ seed: 1, steps: 3, roles: inst.networks, phases: ph, ...(d ? { data: d } : {}), resume: 'never' }).result;
      console.log(name, p < 0 ? 'all' : inst.phases[p]!.name, ((performance.now() - t0) / 3).toFixed(0), 'ms/step');
    }
    inst.dispose();
  }
});
