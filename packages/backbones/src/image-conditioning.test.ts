import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { ConfigError, flowMatchingSchedule, predictRaw, seededRng, ShapeError, valueAndGrads, type Denoiser } from '@fewstep/core';
import { expectTensorsClose, finiteDifferenceCheck, seededNormal } from '@fewstep/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Conditioning, DenoiserInputs } from './backbone-types.js';
import { VideoDiT } from './dit/video-dit.js';
import {
  augmentConditionFrame,
  conditionChannels,
  firstFrameMask,
  imageConditioning,
  sampleConditionNoiseSigma,
  withoutImage,
  type ImageConditioningConfig,
} from './image-conditioning.js';
import {
  checkConfigRoundTrip,
  checkFrozenForward,
  checkGradientsReachTrainable,
  checkNoLeak,
  checkOutputShapes,
  checkTaps,
  perturbZeroInitialised,
  projectionLoss,
} from './testing-conformance.js';
import { VideoUNet } from './unet/video-unet.js';

const C = 4;
/** A DiT small enough for finite differences: hiddenDim 24 (head dim 12), depth 2. */
const DIT = { hiddenDim: 24, depth: 2, heads: 2, mlpRatio: 2, freqDim: 16, contextDim: null, pooledDim: null } as const;

function i2vInputs(b: number, f: number, h: number, w: number, seed = 1): DenoiserInputs {
  return {
    x: seededNormal([b, f, h, w, C], seed),
    t: tf.tensor1d(Array.from({ length: b }, (_, i) => 0.3 + 0.4 * i)),
    image: seededNormal([b, h, w, C], seed + 1),
    imageNoiseSigma: tf.tensor1d(Array.from({ length: b }, (_, i) => 0.02 + 0.05 * i)),
    // Sample 1 (if any) is dropped, so the null embedding gets a gradient too.
    dropImage: tf.tensor1d(Array.from({ length: b }, (_, i) => (i === 1 ? 1 : 0))),
  };
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

/** Output of sample `i` of a batch `[B, ...]`. */
function row(x: tf.Tensor, i: number): tf.Tensor {
  return tf.tidy(() => tf.slice(x, [i], [1]));
}

let dit: VideoDiT;
let batch: DenoiserInputs;

beforeAll(async () => {
  await tf.setBackend('cpu');
  dit = VideoDiT.preset('tiny', { ...DIT, seed: 1, imageCondition: imageConditioning() });
  perturbZeroInitialised(dit.net, 1);
  batch = i2vInputs(2, 3, 4, 4);
});
afterAll(() => {
  dit.dispose();
  tf.dispose(Object.values(batch) as tf.Tensor[]);
});

describe('image conditioning: config and parameters', () => {
  it('off by default: the unconditional parameter set and config are unchanged; null is the same as absent', () => {
    const plain = VideoDiT.preset('tiny', { seed: 3 });
    const explicit = VideoDiT.preset('tiny', { seed: 3, imageCondition: null });
    const unet = VideoUNet.preset('tiny', { seed: 3 });
    const unetNull = VideoUNet.preset('tiny', { seed: 3, imageCondition: null });
    try {
      const shapes = (n: { net: { variables(): Map<string, tf.Variable> } }): string[] => [...n.net.variables()].map(([k, v]) => `${k}:${v.shape.join('x')}`);
      expect(shapes(explicit)).toEqual(shapes(plain));
      expect(shapes(unetNull)).toEqual(shapes(unet));
      expect('imageCondition' in plain.toConfig()).toBe(false);
      expect('imageCondition' in explicit.toConfig()).toBe(false);
      expect(shapes(plain).some((s) => s.startsWith('image_') || s.includes('_image'))).toBe(false);
      // An unconditional checkpoint loads strictly into a backbone built with imageCondition: null.
      const w = plain.net.getWeights();
      explicit.net.setWeights(w, { strict: true });
      tf.dispose([...w.values()]);
    } finally {
      [plain, explicit, unet, unetNull].forEach((n) => n.dispose());
    }
  });

  it('adds C+1 input channels (C without the mask), the encoder, the null embedding and the noise-level MLP', () => {
    const names = new Map([...dit.net.variables()].map(([k, v]) => [k, v.shape]));
    expect(names.get('patch_embed_image.kernel')).toEqual([1, 2, 2, C + 1, DIT.hiddenDim]);
    expect(names.get('patch_embed.kernel')).toEqual([1, 2, 2, C, DIT.hiddenDim]);
    expect(names.get('image_encoder.patch_embed.kernel')).toEqual([2 * 2 * C, 32]);
    expect(names.get('image_embed.null_embedding')).toEqual([DIT.hiddenDim]);
    expect(names.has('image_noise_embed.linear_1.kernel')).toBe(true);
    const noMask = VideoUNet.preset('tiny', { imageCondition: imageConditioning({ mask: false, embed: null, noiseAugment: false }) });
    try {
      expect(noMask.net.variable('conv_in_image.kernel').shape).toEqual([3, 3, C, 32]);
      expect([...noMask.net.variables().keys()].filter((n) => n.startsWith('image_'))).toEqual([]);
    } finally {
      noMask.dispose();
    }
  });

  it('a frozen encoder is made of buffers: never trainable, not even after unfreeze()', () => {
    const net = VideoDiT.preset('tiny', { ...DIT, imageCondition: imageConditioning({ freezeEncoder: true }) });
    try {
      net.net.unfreeze();
      const encoder = [...net.net.variables().keys()].filter((n) => n.startsWith('image_encoder.'));
      expect(encoder.length).toBeGreaterThan(0);
      for (const n of encoder) expect(net.net.isTrainable(n)).toBe(false);
      expect(net.net.isTrainable('image_embed.linear_1.kernel')).toBe(true);
      const trainable = VideoDiT.preset('tiny', { ...DIT, imageCondition: imageConditioning() });
      expect(trainable.numParameters() - net.numParameters()).toBe(encoder.reduce((s, n) => s + net.net.variable(n).size, 0));
      trainable.dispose();
    } finally {
      net.dispose();
    }
  });

  it('rejects invalid configs and inputs with typed errors naming the field', () => {
    const bad = (ic: unknown, extra: object = {}): (() => unknown) => () => VideoDiT.preset('tiny', { ...DIT, ...extra, imageCondition: ic as ImageConditioningConfig });
    expect(bad(imageConditioning({ embed: 'context' }))).toThrow(/contextDim is null/);
    expect(bad({ ...imageConditioning(), extra: 1 })).toThrow(/imageCondition\.extra/);
    expect(bad(imageConditioning({ concat: false, embed: null }))).toThrow(ConfigError);
    expect(bad(imageConditioning({ embed: null, encoder: { patchSize: 2, width: 32, depth: 1, heads: 2, mlpRatio: 2 } }))).toThrow(/encoder/);
    expect(bad(imageConditioning({ encoder: { patchSize: 2, width: 30, depth: 1, heads: 2, mlpRatio: 2 } }))).toThrow(/multiple of 4/);
    expect(bad('yes')).toThrow(ConfigError);
    const plain = VideoDiT.preset('tiny', DIT);
    const { x, t, image } = batch;
    try {
      expect(() => plain.forward({ x, t, image })).toThrow(/config sets no imageCondition/);
      expect(() => dit.forward({ x, t, image: tf.zeros([2, 4, 4, 3]) })).toThrow(ShapeError);
      expect(() => dit.forward({ x, t, image: tf.zeros([1, 4, 4, C]) })).toThrow(/\[2, 4, 4, 4\]/);
      expect(() => dit.forward({ x, t, image, imageMask: tf.ones([2, 2]) })).toThrow(/imageMask/);
      expect(() => dit.forward({ x, t, image, dropImage: tf.ones([3]) })).toThrow(ShapeError);
      expect(() => dit.forward({ x: tf.zeros([2, 3, 6, 6, C]), t, image: tf.zeros([2, 6, 6, C]) })).not.toThrow();
      const p4 = VideoDiT.preset('tiny', { ...DIT, imageCondition: imageConditioning({ encoder: { patchSize: 4, width: 32, depth: 1, heads: 2, mlpRatio: 2 } }) });
      expect(() => p4.forward({ x: tf.zeros([2, 3, 6, 6, C]), t, image: tf.zeros([2, 6, 6, C]) })).toThrow(/patch size 4/);
      p4.dispose();
      const noAug = VideoDiT.preset('tiny', { ...DIT, imageCondition: imageConditioning({ noiseAugment: false }) });
      expect(() => noAug.forward({ x, t, image, imageNoiseSigma: tf.zeros([2]) })).toThrow(/noiseAugment/);
      noAug.dispose();
    } finally {
      plain.dispose();
    }
  });
});

describe('VideoDiT with image conditioning: conformance', () => {
  it('output and tap shapes; taps; no leaks', () => {
    checkOutputShapes(dit, [
      { inputs: batch, out: [2, 3, 4, 4, C], taps: { 'block.1': [2, 3, 2, 2, DIT.hiddenDim] } },
    ]);
    checkTaps(dit, batch);
    checkNoLeak(dit, batch);
    const { image: _i, dropImage: _d, ...uncond } = batch;
    checkNoLeak(dit, uncond);
  });

  it('gradients reach every trainable variable (encoder, new input channels, null embedding); frozen forward', async () => {
    const net = VideoDiT.preset('tiny', { ...DIT, seed: 5, imageCondition: imageConditioning() });
    try {
      perturbZeroInitialised(net.net, 2);
      const n = checkGradientsReachTrainable(net, batch);
      expect(n).toBe(net.net.variables().size);
    } finally {
      net.dispose();
    }
    const { x, ...rest } = batch;
    await checkFrozenForward(dit, batch, { x, inject: (v) => ({ ...rest, x: v }) });
  });

  it('config round trip (JSON) rebuilds the same I2V backbone', () => {
    const fresh = VideoDiT.preset('tiny', { ...DIT, seed: 8, imageCondition: imageConditioning({ mask: false }) });
    try {
      checkConfigRoundTrip(fresh, (c) => VideoDiT.fromConfig(c), batch, (s) => perturbZeroInitialised(s.net, 6));
      expect(fresh.toConfig().imageCondition).toEqual(imageConditioning({ mask: false }));
    } finally {
      fresh.dispose();
    }
  });
});

describe('VideoDiT with image conditioning: behaviour', () => {
  it('the output depends on the image; with the image dropped it does not', () => {
    const { image, dropImage: _d, ...rest } = batch;
    const other = tf.tidy(() => tf.add(image!, seededNormal(image!.shape as number[], 77, 0.5)));
    const keepAll = tf.zeros([2]);
    const dropAll = tf.ones([2]);
    const a = dit.predict(rest.x, rest.t, { ...rest, image, dropImage: keepAll });
    const b = dit.predict(rest.x, rest.t, { ...rest, image: other, dropImage: keepAll });
    const aDrop = dit.predict(rest.x, rest.t, { ...rest, image, dropImage: dropAll });
    const bDrop = dit.predict(rest.x, rest.t, { ...rest, image: other, dropImage: dropAll });
    const absent = dit.predict(rest.x, rest.t, rest);
    try {
      expect(maxAbsDiff(a, b)).toBeGreaterThan(1e-3);
      expect(maxAbsDiff(aDrop, bDrop)).toBeLessThan(1e-6);
      // Dropping = the empty condition (image absent): zero channels and mask, null embedding.
      expect(maxAbsDiff(aDrop, absent)).toBeLessThan(1e-6);
      // Per-sample dropout: sample 0 keeps its image, sample 1 is the empty condition.
      const mixed = dit.predict(rest.x, rest.t, { ...rest, image, dropImage: tf.tensor1d([0, 1]) });
      expect(maxAbsDiff(row(mixed, 0), row(a, 0))).toBeLessThan(1e-6);
      expect(maxAbsDiff(row(mixed, 1), row(absent, 1))).toBeLessThan(1e-6);
      mixed.dispose();
    } finally {
      tf.dispose([other, keepAll, dropAll, a, b, aDrop, bDrop, absent]);
    }
  });

  it('the concat path alone (no encoder) conditions the output; the mask chooses the frames', () => {
    const net = VideoDiT.preset('tiny', { ...DIT, seed: 4, imageCondition: imageConditioning({ embed: null, noiseAugment: false }) });
    const { x, t, image } = batch;
    try {
      perturbZeroInitialised(net.net, 3);
      const first = firstFrameMask(2, 3);
      const last = tf.tensor2d([0, 0, 1, 0, 0, 1], [2, 3]);
      const def = net.predict(x, t, { image });
      const explicitFirst = net.predict(x, t, { image, imageMask: first });
      const atLast = net.predict(x, t, { image, imageMask: last });
      const none = net.predict(x, t, {});
      expect(maxAbsDiff(def, explicitFirst)).toBe(0);
      expect(maxAbsDiff(def, atLast)).toBeGreaterThan(1e-3);
      expect(maxAbsDiff(def, none)).toBeGreaterThan(1e-3);
      // The channels themselves: the image on frame 0 only, the mask channel 1 there.
      const ch = conditionChannels(net.config.imageCondition!, { image }, x.shape);
      expect(ch.shape).toEqual([2, 3, 4, 4, C + 1]);
      expectTensorsClose(tf.slice(ch, [0, 0, 0, 0, 0], [2, 1, 4, 4, C]), tf.reshape(image!, [2, 1, 4, 4, C]), { rtol: 0 });
      expect(tf.sum(tf.slice(ch, [0, 1, 0, 0, 0], [2, 2, 4, 4, C + 1])).dataSync()[0]).toBe(0);
      expect(tf.mean(tf.slice(ch, [0, 0, 0, 0, C], [2, 1, 4, 4, 1])).dataSync()[0]).toBe(1);
      tf.dispose([first, last, def, explicitFirst, atLast, none, ch]);
    } finally {
      net.dispose();
    }
  });

  it('finite differences: gradients w.r.t. the image, the encoder and the new input channels are right', () => {
    const net = VideoDiT.preset('tiny', { ...DIT, seed: 9, imageCondition: imageConditioning() });
    const { x, t, imageNoiseSigma } = batch;
    const image = tf.slice(batch.image!, [0], [1]);
    const x1 = tf.slice(x, [0], [1]);
    const t1 = tf.slice(t, [0], [1]);
    const s1 = tf.slice(imageNoiseSigma!, [0], [1]);
    try {
      perturbZeroInitialised(net.net, 5, 0.2);
      const loss = (img: tf.Tensor): tf.Scalar => tf.tidy(() => projectionLoss(net.predict(x1, t1, { image: img, imageNoiseSigma: s1 })));
      const [worstImage] = finiteDifferenceCheck(loss, [image], { eps: 1e-2, samples: 6 });
      expect(worstImage).toBeLessThan(3e-2);
      // Parameters: analytic gradients (core's valueAndGrads) against central differences of the variable.
      const { value, grads } = valueAndGrads(net.net, () => loss(image));
      value.dispose();
      for (const name of ['patch_embed_image.kernel', 'image_encoder.patch_embed.kernel', 'image_encoder.blocks.0.attn.to_q.kernel', 'image_noise_embed.linear_1.kernel']) {
        const v = net.net.variable(name);
        const g = grads.get(name)!.dataSync();
        const base = v.dataSync().slice();
        const rng = seededRng(name.length);
        for (let k = 0; k < 3; k++) {
          // The coordinates with the largest gradient (well above float32 noise) and a random one.
          const j = k < 2 ? g.indexOf(k === 0 ? Math.max(...g) : Math.min(...g)) : Math.floor(rng() * base.length);
          const at = (delta: number): number => {
            const p = base.slice();
            p[j] = p[j]! + delta;
            tf.tidy(() => v.assign(tf.tensor(p, v.shape)));
            return tf.tidy(() => loss(image).dataSync()[0]!);
          };
          const eps = 1e-2;
          const fd = (at(eps) - at(-eps)) / (2 * eps);
          tf.tidy(() => v.assign(tf.tensor(base, v.shape)));
          const ga = g[j]!;
          expect(Math.abs(ga - fd) / Math.max(Math.abs(fd), Math.abs(ga), 1e-2), `${name}[${j}]: analytic ${ga}, fd ${fd}`).toBeLessThan(3e-2);
        }
      }
      tf.dispose([...grads.values()]);
    } finally {
      net.dispose();
      tf.dispose([image, x1, t1, s1]);
    }
  });

  it("core's classifier-free guidance: the unconditional branch is the empty image (withoutImage or no conditioning)", () => {
    const schedule = flowMatchingSchedule();
    const denoiser: Denoiser<Conditioning> = {
      schedule,
      predictionType: 'flow',
      predict: (xt, t, cond) => dit.forward({ x: xt, t, ...(cond ?? {}) }).out,
    };
    const { x, t, image, imageNoiseSigma } = batch;
    const cond = { image: image!, imageNoiseSigma: imageNoiseSigma! };
    const c = dit.predict(x, t, cond);
    const u = dit.predict(x, t, { imageNoiseSigma: imageNoiseSigma! });
    const w = 2.5;
    const guided = predictRaw(denoiser, x, t, { cond, guidance: { uncond: withoutImage(cond), scale: w } });
    const expected = tf.tidy(() => tf.add(u, tf.mul(tf.sub(c, u), w)));
    expectTensorsClose(guided, expected, { rtol: 1e-5, what: 'CFG with withoutImage(cond)' });
    // uncond undefined: core calls predict without conditioning, the empty image with sigma_aug = 0.
    const u0 = dit.predict(x, t, {});
    const g1 = predictRaw(denoiser, x, t, { cond, guidance: { scale: 0 } });
    expectTensorsClose(g1, u0, { rtol: 1e-6, what: 'CFG w = 0' });
    tf.dispose([c, u, guided, expected, u0, g1]);
  });

  it('an unconditional checkpoint initialises an I2V model that starts as the unconditional model (zero new channels, zero null embedding)', () => {
    const plain = VideoDiT.preset('tiny', { ...DIT, seed: 12 });
    const i2v = VideoDiT.preset('tiny', { ...DIT, seed: 13, imageCondition: imageConditioning({ noiseAugment: false }) });
    try {
      perturbZeroInitialised(plain.net, 4);
      const w = plain.net.getWeights();
      i2v.net.setWeights(w, { strict: false });
      tf.dispose([...w.values()]);
      const { x, t, image } = batch;
      const a = plain.predict(x, t);
      const b = i2v.predict(x, t, {});
      expect(maxAbsDiff(a, b)).toBeLessThan(1e-6);
      // With an image the concat channels still add nothing (zero kernel); the pooled embedding does.
      const c = i2v.predict(x, t, { image });
      expect(maxAbsDiff(a, c)).toBeGreaterThan(1e-4);
      tf.dispose([a, b, c]);
    } finally {
      plain.dispose();
      i2v.dispose();
    }
  });
});

describe('VideoUNet with image conditioning', () => {
  it('shapes, dependence on the image, gradients to every trainable variable, no leaks, round trip (context tokens replace text)', () => {
    const unet = VideoUNet.preset('tiny', { seed: 2, channels: [16, 32], heads: 2, temporalHeads: 2, temporalLevels: [false, true], contextDim: 16, timeEmbedDim: 32, imageCondition: imageConditioning({ embed: 'context' }) });
    const small = i2vInputs(2, 2, 4, 4, 5);
    try {
      perturbZeroInitialised(unet.net, 3);
      expect(unet.net.variable('conv_in_image.kernel').shape).toEqual([3, 3, C + 1, 16]);
      expect(unet.net.variable('image_context.null_token').shape).toEqual([16]);
      // No text context: the image tokens are the cross-attention tokens.
      checkOutputShapes(unet, [{ inputs: small, out: [2, 2, 4, 4, C], taps: { mid: [2, 2, 2, 2, 32] } }]);
      checkGradientsReachTrainable(unet, small);
      checkNoLeak(unet, small);
      const { image, dropImage: _d, ...rest } = small;
      const other = tf.tidy(() => tf.neg(image!));
      const a = unet.predict(rest.x, rest.t, { ...rest, image });
      const b = unet.predict(rest.x, rest.t, { ...rest, image: other });
      const aDrop = unet.predict(rest.x, rest.t, { ...rest, image, dropImage: tf.ones([2]) });
      const absent = unet.predict(rest.x, rest.t, rest);
      expect(maxAbsDiff(a, b)).toBeGreaterThan(1e-4);
      expect(maxAbsDiff(aDrop, absent)).toBeLessThan(1e-5);
      // With text tokens (and their mask) the image tokens are appended.
      const context = seededNormal([2, 3, 16], 9);
      const contextMask = tf.tensor2d([1, 1, 0, 1, 0, 0], [2, 3]);
      const withText = unet.predict(rest.x, rest.t, { ...rest, image, context, contextMask });
      expect(withText.shape).toEqual([2, 2, 4, 4, C]);
      expect(maxAbsDiff(withText, a)).toBeGreaterThan(1e-5);
      tf.dispose([other, a, b, aDrop, absent, context, contextMask, withText]);
      const fresh = VideoUNet.preset('tiny', { seed: 6, channels: [16, 32], heads: 2, temporalHeads: 2, temporalLevels: [false, true], contextDim: 16, timeEmbedDim: 32, imageCondition: imageConditioning() });
      try {
        checkConfigRoundTrip(fresh, (c) => VideoUNet.fromConfig(c), { ...small, context: seededNormal([2, 1, 16], 3) } as DenoiserInputs, (s) => perturbZeroInitialised(s.net, 2));
      } finally {
        fresh.dispose();
      }
    } finally {
      unet.dispose();
      tf.dispose(Object.values(small) as tf.Tensor[]);
    }
  });
});

describe('augmentConditionFrame / sampleConditionNoiseSigma', () => {
  it('c + sigma eps with seeded eps: deterministic, per-sample sigma, sigma = 0 is the identity, eps ~ N(0, 1)', () => {
    const image = seededNormal([2, 8, 8, 3], 4);
    const a = augmentConditionFrame(image, [0.1, 0.5], seededRng(3));
    const b = augmentConditionFrame(image, tf.tensor1d([0.1, 0.5]), seededRng(3));
    const zero = augmentConditionFrame(image, 0, seededRng(3));
    try {
      expectTensorsClose(a, b, { rtol: 0 });
      expectTensorsClose(zero, image, { rtol: 0 });
      const eps0 = tf.div(tf.sub(row(a, 0), row(image, 0)), 0.1);
      const eps1 = tf.div(tf.sub(row(a, 1), row(image, 1)), 0.5);
      for (const e of [eps0, eps1]) {
        const { mean, variance } = tf.moments(e);
        // 192 draws: |mean| < 4 / sqrt(192), std within 20%.
        expect(Math.abs(mean.dataSync()[0]!)).toBeLessThan(4 / Math.sqrt(192));
        expect(Math.abs(Math.sqrt(variance.dataSync()[0]!) - 1)).toBeLessThan(0.2);
        tf.dispose([mean, variance]);
      }
      tf.dispose([eps0, eps1]);
      expect(() => augmentConditionFrame(image, [0.1, 0.2, 0.3], seededRng(1))).toThrow(ShapeError);
      const s = sampleConditionNoiseSigma(4000, seededRng(5));
      const logs = tf.log(s);
      const { mean, variance } = tf.moments(logs);
      expect(mean.dataSync()[0]!).toBeCloseTo(Math.log(0.05), 1);
      expect(Math.sqrt(variance.dataSync()[0]!)).toBeCloseTo(0.5, 1);
      tf.dispose([s, logs, mean, variance]);
    } finally {
      tf.dispose([image, a, b, zero]);
    }
  });
});
