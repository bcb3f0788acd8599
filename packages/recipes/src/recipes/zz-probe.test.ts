import * as tf from '@tensorflow/tfjs-core';
import { it } from 'vitest';
import { flowMatchingSchedule } from '@fewstep/core';
import { VideoDiT, perturbZeroInitialised } from '@fewstep/backbones';
import { odePairSource, tinyTeacher, tinyMixture } from '../testing/tiny-world.test-util.js';
import { distill } from '../runtime/distill.js';
import { dmdx } from './dmdx.recipe.js';
it('probe', async () => {
  await tf.setBackend('cpu');
  const teacher = tinyTeacher();
  perturbZeroInitialised(teacher.backbone.net, 1, 0.2);
  const pairs = odePairSource(64, 16);
  const rows: string[] = [];
  const t0 = performance.now();
  const r = await distill({ recipe: dmdx, teacher, preset: 'tiny', sampleShape: tinyMixture().shape, batchSize: 16, steps: 80, seed: 1, data: { 'ode-pairs': pairs.source },
    onRun: (run, st) => run.events$.subscribe((e) => { if (e.type === 'step/completed' && e.payload.step % 10 === 0) rows.push(`${st.recipe} ${e.payload.step} ${JSON.stringify(Object.fromEntries(Object.entries({ ...e.payload.losses, ...e.payload.metrics }).map(([k, v]) => [k.replace(/^.*\//, '').slice(0, 18) + (k.includes('#2') ? '2' : ''), +v.toFixed(3)])))}`); }) });
  console.log(rows.join('\n'), '\nseconds', ((performance.now() - t0) / 1000).toFixed(1));
  r.student.dispose();
}, 600_000);
