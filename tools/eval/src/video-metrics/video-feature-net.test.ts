import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { Adam, ConfigError, ShapeError, StateMismatchError, valueAndGrads } from '@fewstep/core';
import { ShapesVideo } from '@fewstep/data';
import { attributeTargets } from './attribute-heads.js';
import { extractFeatures } from './feature-extractor.js';
import { VideoFeatureNet } from './video-feature-net.js';

const SPEC = 'shapes-video:frames=4,size=8,seed=3';
const tiny = () => VideoFeatureNet.create({ data: SPEC, widths: [4, 8, 8], featureDim: 16 }, { seed: 5 });
const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'fewstep-vfnet-'));
  dirs.push(d);
  return d;
};

beforeAll(async () => {
  await tf.setBackend('cpu');
});
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('VideoFeatureNet', () => {
  it('maps [N, F, H, W, C] to features [N, D] and head logits [N, K (1 + S + Dir)], without leaking', () => {
    const net = tiny();
    expect(net.config).toMatchObject({ name: 'fewstep-video-features', version: 1, input: { frames: 4, size: 8, channels: 3 }, frameStride: 2 });
    expect(net.config.data).toBe('shapes-video:frames=4,size=8,seed=3,shapes=1..3,channels=3,n=1024');
    const b = new ShapesVideo(SPEC).batch(0, 5);
    const before = tf.memory().numTensors;
    const { features, logits } = net.forward(b.videos);
    expect(features.shape).toEqual([5, 16]);
    expect(logits.shape).toEqual([5, 5 * (1 + 3 + 4)]);
    tf.dispose([features, logits]);
    const chunked = net.extract(b.videos, 2);
    const whole = net.extract(b.videos);
    expect(Array.from(chunked.dataSync())).toEqual(Array.from(whole.dataSync()));
    const viaContract = extractFeatures(net, b.videos, 3);
    expect(viaContract.shape).toEqual([5, 16]);
    tf.dispose([chunked, whole, viaContract]);
    const preds = net.classify(b.videos);
    expect(preds.presence).toHaveLength(5);
    expect(preds.presence[0]).toHaveLength(5);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([b.videos, b.labels, b.tokens]);
    net.dispose();
  });

  it('resizes other frame sizes bilinearly, subsamples longer clips evenly, refuses fewer frames or other channels', () => {
    const net = tiny();
    // Frame t of every clip is the constant t: after prepare, frames 0, 2, 5, 7 of 8 (evenly spaced).
    const long = tf.tidy(() => tf.mul(tf.ones([2, 8, 16, 16, 3]), tf.reshape(tf.range(0, 8), [1, 8, 1, 1, 1])));
    const p = net.prepare(long);
    expect(p.shape).toEqual([2, 4, 8, 8, 3]);
    const frames = tf.tidy(() => tf.mean(p, [0, 2, 3, 4]));
    expect(Array.from(frames.dataSync())).toEqual([0, 2, 5, 7]);
    const fits = new ShapesVideo(SPEC).batch(0, 2);
    expect(net.prepare(fits.videos)).toBe(fits.videos);
    const short = tf.zeros([1, 3, 8, 8, 3]);
    const gray = tf.zeros([1, 4, 8, 8, 1]);
    expect(() => net.prepare(short)).toThrow(ShapeError);
    expect(() => net.extract(gray)).toThrow(/reads 3-channel clips/);
    expect(() => net.extract(tf.zeros([4, 8, 8, 3]))).toThrow(ShapeError);
    tf.dispose([long, p, frames, fits.videos, fits.labels, fits.tokens, short, gray]);
    net.dispose();
  });

  it('saves model.json + model.safetensors and loads back with bitwise-equal outputs', async () => {
    const net = tiny();
    const dir = tmp();
    await net.save(dir, { note: 'test' });
    const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    expect(json).toMatchObject({ name: 'fewstep-video-features', version: 1, input: { frames: 4, size: 8, channels: 3 }, data: net.config.data, provenance: { note: 'test' } });
    const loaded = await VideoFeatureNet.load(dir);
    expect(loaded.config).toEqual(net.config);
    expect(loaded.provenance).toEqual({ note: 'test' });
    const b = new ShapesVideo(SPEC).batch(10, 3);
    const [a1, a2] = [net.logits(b.videos), loaded.logits(b.videos)];
    const [f1, f2] = [net.extract(b.videos), loaded.extract(b.videos)];
    expect(Array.from(a2.dataSync())).toEqual(Array.from(a1.dataSync()));
    expect(Array.from(f2.dataSync())).toEqual(Array.from(f1.dataSync()));
    tf.dispose([a1, a2, f1, f2, b.videos, b.labels, b.tokens]);
    net.dispose();
    loaded.dispose();
  });

  it('refuses a mismatched checkpoint with typed errors', async () => {
    const net = tiny();
    const dir = tmp();
    await net.save(dir);
    net.dispose();
    const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    const variant = (patch: Record<string, unknown>): string => {
      const d = tmp();
      writeFileSync(join(d, 'model.json'), JSON.stringify({ ...json, ...patch }));
      writeFileSync(join(d, 'model.safetensors'), readFileSync(join(dir, 'model.safetensors')));
      return d;
    };
    // Weights of another architecture: every mis-shaped tensor is named, nothing is loaded.
    const wider = VideoFeatureNet.load(variant({ widths: [4, 8, 16] }));
    await expect(wider).rejects.toThrow(StateMismatchError);
    await expect(VideoFeatureNet.load(variant({ widths: [4, 8, 16] }))).rejects.toThrow(/down\.1\.conv\.kernel' found \[3, 3, 8, 8\], expected \[3, 3, 8, 16\]/);
    await expect(VideoFeatureNet.load(variant({ version: 2 }))).rejects.toThrow(ConfigError);
    await expect(VideoFeatureNet.load(variant({ version: 2 }))).rejects.toThrow(/version.*2.*Allowed: 1/);
    await expect(VideoFeatureNet.load(variant({ name: 'i3d' }))).rejects.toThrow(/name.*"i3d".*'fewstep-video-features'/);
    await expect(VideoFeatureNet.load(variant({ input: { frames: 4, size: 8, channels: 2 } }))).rejects.toThrow(/input\.channels/);
    await expect(VideoFeatureNet.load(tmp())).rejects.toThrow(/a directory with model\.json and model\.safetensors/);
  });

  it('attribute targets: per-colour presence, shape and direction one-hots from shapes-video labels', () => {
    const net = tiny();
    // Clip 0: [shape 2, colour 1, direction 3]; clip 1: [0, 4, 0] and [1, 0, 2].
    const labels = tf.tensor3d(
      [
        [
          [2, 1, 3],
          [-1, -1, -1],
        ],
        [
          [0, 4, 0],
          [1, 0, 2],
        ],
      ],
      [2, 2, 3],
      'int32',
    );
    const t = attributeTargets(labels, net.config.attributes);
    expect(t.presence.arraySync()).toEqual([
      [0, 1, 0, 0, 0],
      [1, 0, 0, 0, 1],
    ]);
    expect(t.shape.arraySync()[0]![1]).toEqual([0, 0, 1]);
    expect(t.shape.arraySync()[0]![0]).toEqual([0, 0, 0]);
    expect(t.shape.arraySync()[1]![4]).toEqual([1, 0, 0]);
    expect(t.direction.arraySync()[1]![0]).toEqual([0, 0, 1, 0]);
    tf.dispose([labels, t.presence, t.shape, t.direction]);
    net.dispose();
  });

  it('a short training run on a fixed batch lowers the attribute loss and trains only its own variables', async () => {
    const net = tiny();
    const b = new ShapesVideo(SPEC).batch(0, 8);
    const adam = new Adam({ lr: 2e-2 });
    const lossOf = (): number => tf.tidy(() => net.loss(b.videos, b.labels).loss.dataSync()[0]!);
    const first = lossOf();
    for (let i = 0; i < 20; i++) {
      const { value, grads } = valueAndGrads(net.net, () => net.loss(b.videos, b.labels).loss);
      expect([...grads.keys()].sort()).toEqual([...net.net.trainableVariables().keys()].sort());
      await adam.step(grads, net.net.trainableVariables());
      tf.dispose([value, ...grads.values()]);
    }
    const last = lossOf();
    expect(first).toBeGreaterThan(2);
    expect(last).toBeLessThan(0.6 * first);
    tf.dispose([b.videos, b.labels, b.tokens]);
    net.dispose();
  });
});
