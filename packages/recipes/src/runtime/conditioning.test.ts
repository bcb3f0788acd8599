import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, ShapeError } from '@fewstep/core';
import { lcm } from '../recipes/lcm.recipe.js';
import { firstBatch, imagePathGradient, stepContext, tempDirs } from '../testing/recipe-harness.test-util.js';
import { TINY_BATCH, i2vRealSource, tinyI2vMixture, tinyI2vTeacher, tinyTeacher } from '../testing/tiny-world.test-util.js';
import { conditioningForBatch, emptyConditioning, repeatConditioning, withConditionFrame } from './conditioning.js';
import { instantiateRecipe } from './distill.js';
import { MODEL_JSON, loadModelDirectory, saveModelDirectory } from './model-directory.js';

const tmp = tempDirs('fewstep-conditioning-');
const shape = tinyI2vMixture().shape;

describe('image-to-video conditioning in the recipe runtime', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('the CFG unconditional input zeroes text embeddings, drops the image and keeps the rest', () => {
    const cond = { context: tf.ones([2, 3, 4]), contextMask: tf.ones([2, 3]), image: tf.ones([2, 4, 4, 3]), imageMask: tf.ones([2, 2]), dropImage: tf.zeros([2]), imageNoiseSigma: tf.fill([2], 0.1) };
    const u = emptyConditioning(cond);
    expect(Object.keys(u).sort()).toEqual(['context', 'contextMask', 'imageNoiseSigma']);
    expect(Array.from(u['context']!.dataSync()).every((v) => v === 0)).toBe(true);
    expect(u['contextMask']).toBe(cond.contextMask);
    expect(u['imageNoiseSigma']).toBe(cond.imageNoiseSigma);
    tf.dispose([...Object.values(cond), u['context']!]);
  });

  it('stacks conditioning for [real; fake] passes and prepends the conditioning frame', () => {
    const image = tf.tensor4d(Array.from({ length: 2 * 2 * 2 * 1 }, (_, i) => i), [2, 2, 2, 1]);
    const sigma = tf.tensor1d([0.1, 0.2]);
    const r = repeatConditioning({ image, imageNoiseSigma: sigma }, 2)!;
    expect(r['image']!.shape).toEqual([4, 2, 2, 1]);
    expect(Array.from(r['imageNoiseSigma']!.dataSync())).toEqual(Array.from(new Float32Array([0.1, 0.2, 0.1, 0.2])));
    expect(conditioningForBatch({ image }, 2)!['image']).toBe(image);
    expect(conditioningForBatch(undefined, 6)).toBeUndefined();
    expect(() => conditioningForBatch({ image }, 3)).toThrow(ShapeError);
    const x = tf.ones([2, 3, 2, 2, 1]);
    expect(withConditionFrame(x, undefined)).toBe(x);
    const framed = withConditionFrame(x, { image });
    expect(framed.shape).toEqual([2, 4, 2, 2, 1]);
    expect(Array.from(tf.slice(framed, [1, 0], [1, 1]).dataSync())).toEqual([4, 5, 6, 7]);
    expect(() => withConditionFrame(tf.ones([2, 3, 4, 4, 1]), { image })).toThrow(ShapeError);
    tf.dispose([image, sigma, ...Object.values(r), x, framed]);
  });

  it('a batch image and its noise level become rc.cond (data keys do not); LCM trains the student image path on it', async () => {
    const teacher = tinyI2vTeacher({ seed: 2 });
    const inst = instantiateRecipe(lcm, { teacher, preset: 'tiny', sampleShape: shape, batchSize: TINY_BATCH, seed: 1 });
    const batch = await firstBatch(i2vRealSource());
    const { rc, ctx } = stepContext(inst, teacher, { phase: 'generator', step: 0, batch });
    expect(Object.keys(rc.cond!).sort()).toEqual(['image', 'imageNoiseSigma']);
    expect(rc.cond!['image']).toBe(batch['image']);
    const g = imagePathGradient(inst, 'generator', 0, ctx);
    expect(g.variables).toEqual(expect.arrayContaining(['patch_embed_image.kernel', 'image_encoder.patch_embed.kernel']));
    expect(g.max).toBeGreaterThan(0);
    const { image: _i, ...noImage } = batch;
    expect(imagePathGradient(inst, 'generator', 0, stepContext(inst, teacher, { phase: 'generator', step: 0, batch: noImage }).ctx).max).toBe(0);
    inst.dispose();
    tf.dispose(Object.values(batch));
    teacher.backbone.net.dispose();
  });

  it("model directories record the task: 'i2v' for image-conditioned backbones, 't2v' otherwise, inferred for older directories", async () => {
    const i2v = tinyI2vTeacher();
    const t2v = tinyTeacher();
    const a = await saveModelDirectory(join(tmp(), 'i2v'), i2v, { role: 'teacher', sampleShape: shape });
    const b = await saveModelDirectory(join(tmp(), 't2v'), t2v, { role: 'teacher', sampleShape: shape });
    expect(JSON.parse(readFileSync(join(a, MODEL_JSON), 'utf8')).task).toBe('i2v');
    expect(JSON.parse(readFileSync(join(b, MODEL_JSON), 'utf8')).task).toBe('t2v');
    const la = await loadModelDirectory(a);
    expect(la.task).toBe('i2v');
    expect(la.model.backbone.net.has('patch_embed_image.kernel')).toBe(true);
    la.dispose();
    // A directory written before tasks were recorded: inferred from the backbone config.
    const m = JSON.parse(readFileSync(join(a, MODEL_JSON), 'utf8'));
    delete m.task;
    writeFileSync(join(a, MODEL_JSON), JSON.stringify(m));
    const old = await loadModelDirectory(a);
    expect(old.task).toBe('i2v');
    old.dispose();
    await expect(saveModelDirectory(join(tmp(), 'bad'), t2v, { role: 'teacher', sampleShape: shape, task: 'i2v' })).rejects.toThrow(ConfigError);
    i2v.backbone.net.dispose();
    t2v.backbone.net.dispose();
  });
});
