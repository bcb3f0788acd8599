import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '@fewstep/core';
import {
  BACKGROUND,
  COLOUR_NAMES,
  DIRECTION_NAMES,
  PALETTE,
  SHAPE_NAMES,
  SHAPES_VIDEO_VOCAB,
  ShapesVideo,
  captionTokens,
  formatShapesVideoSpec,
  objectCenter,
  parseShapesVideoSpec,
  shapesImages,
} from './shapes-video.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function specError(spec: string): ConfigError {
  try {
    parseShapesVideoSpec(spec);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error(`'${spec}' parsed`);
}

describe('parseShapesVideoSpec', () => {
  it('reads every key, fills defaults and round-trips through the canonical string', () => {
    const s = parseShapesVideoSpec('shapes-video:frames=6,size=16,seed=7,shapes=2..3,channels=1,n=40');
    expect(s).toEqual({ frames: 6, size: 16, seed: 7, minShapes: 2, maxShapes: 3, channels: 1, n: 40 });
    expect(parseShapesVideoSpec(formatShapesVideoSpec(s))).toEqual(s);
    expect(parseShapesVideoSpec('shapes-video:frames=8,size=32,seed=1')).toEqual({ frames: 8, size: 32, seed: 1, minShapes: 1, maxShapes: 3, channels: 3, n: 1024 });
    expect(parseShapesVideoSpec(' shapes-video ').frames).toBe(8);
    expect(parseShapesVideoSpec('shapes-video:shapes=2')).toMatchObject({ minShapes: 2, maxShapes: 2 });
  });

  it('names the field, the value and the allowed values in errors', () => {
    const frames = specError('shapes-video:frames=0,size=32');
    expect(frames.field).toBe('shapes-video.frames');
    expect(frames.message).toContain('"0"');
    expect(frames.message).toContain('[1, 256]');
    const shapes = specError('shapes-video:shapes=2..5');
    expect(shapes.field).toBe('shapes-video.shapes');
    expect(shapes.message).toContain('2..5');
    expect(shapes.allowed).toContain('<= 3');
    expect(specError('shapes-video:channels=2').field).toBe('shapes-video.channels');
    expect(specError('shapes-video:size=abc').field).toBe('shapes-video.size');
    expect(specError('shapes-video:seed=1.5').field).toBe('shapes-video.seed');
    expect(specError('shapes-video:frames=4,frames=5').field).toBe('shapes-video.frames');
    const unknown = specError('shapes-video:fps=8');
    expect(unknown.value).toBe('fps');
    expect(unknown.allowed).toContain('frames, size, seed, shapes, channels, n');
    expect(specError('moving-shapes:frames=8').field).toBe('shapes-video');
  });
});

describe('ShapesVideo', () => {
  const spec = 'shapes-video:frames=6,size=16,seed=1';

  it('is deterministic per (seed, index) and differs across seeds and indices', () => {
    const a = new ShapesVideo(spec);
    const b = new ShapesVideo(spec);
    const c = new ShapesVideo('shapes-video:frames=6,size=16,seed=2');
    const s1 = a.sample(3);
    const s2 = b.sample(3);
    const batch = a.batch(1, 4);
    const other = c.sample(3);
    const next = a.sample(4);
    expect(s1.video.shape).toEqual([6, 16, 16, 3]);
    expect(batch.videos.shape).toEqual([4, 6, 16, 16, 3]);
    expect(Array.from(s1.video.dataSync())).toEqual(Array.from(s2.video.dataSync()));
    expect(s1.caption).toBe(s2.caption);
    // batch(1, 4)[2] is item 3
    expect(Array.from(tf.tidy(() => batch.videos.slice([2], [1]).reshape([6, 16, 16, 3])).dataSync())).toEqual(Array.from(s1.video.dataSync()));
    expect(batch.captions[2]).toBe(s1.caption);
    const diff = (x: tf.Tensor, y: tf.Tensor): number => tf.tidy(() => tf.max(tf.abs(tf.sub(x, y))).dataSync()[0]!);
    expect(diff(s1.video, other.video)).toBeGreaterThan(0.1);
    expect(diff(s1.video, next.video)).toBeGreaterThan(0.1);
    // Across 16 items the seeds give different captions.
    const caps = (v: ShapesVideo): string[] => Array.from({ length: 16 }, (_, i) => v.world(i).caption);
    expect(caps(a)).not.toEqual(caps(c));
    tf.dispose([s1.video, s2.video, other.video, next.video, batch.videos, batch.labels, batch.tokens]);
  });

  it('keeps values in [-1, 1] with antialiased (non-binary) edges', () => {
    const v = new ShapesVideo('shapes-video:frames=4,size=24,seed=3');
    const b = v.batch(0, 6);
    const data = b.videos.dataSync();
    let lo = Infinity;
    let hi = -Infinity;
    for (const x of data) {
      lo = Math.min(lo, x);
      hi = Math.max(hi, x);
    }
    expect(lo).toBeGreaterThanOrEqual(-1);
    expect(hi).toBeLessThanOrEqual(1);
    // Pure colours: the background and the 5 palette colours; antialiasing adds mixtures.
    const pure = new Set([BACKGROUND, ...COLOUR_NAMES.map((c) => PALETTE[c])].flatMap((rgb) => rgb.map((x) => Math.fround(x / 127.5 - 1))));
    const mixed = Array.from(data).filter((x) => !pure.has(x)).length;
    expect(mixed / data.length).toBeGreaterThan(0.005);
    tf.dispose([b.videos, b.labels, b.tokens]);
  });

  it('moves every object: frames change, and the centroid moves by the velocity', () => {
    const v = new ShapesVideo('shapes-video:frames=8,size=32,seed=5,shapes=1');
    const [f, h, w, c] = v.videoShape;
    let checked = 0;
    for (let index = 0; index < 12; index++) {
      const world = v.world(index);
      const o = world.objects[0]!;
      // Skip clips that bounce (travel longer than the free range).
      const bounces = Array.from({ length: f }, (_, t) => objectCenter(o, t, 32)).some((p, t) => Math.abs(p[0] - (o.start[0] + o.velocity[0] * t)) + Math.abs(p[1] - (o.start[1] + o.velocity[1] * t)) > 1e-9);
      const s = v.sample(index);
      const px = s.video.dataSync();
      s.video.dispose();
      // Coverage from the channel where the colour differs most from the background.
      const fill = PALETTE[o.colour].map((x) => x / 127.5 - 1);
      const bg = BACKGROUND.map((x) => x / 127.5 - 1);
      const ch = [0, 1, 2].reduce((best, k) => (Math.abs(fill[k]! - bg[k]!) > Math.abs(fill[best]! - bg[best]!) ? k : best), 0);
      const centroids: [number, number][] = [];
      for (let t = 0; t < f; t++) {
        let m = 0;
        let mx = 0;
        let my = 0;
        let change = 0;
        for (let i = 0; i < h; i++) {
          for (let j = 0; j < w; j++) {
            const at = ((t * h + i) * w + j) * c;
            const cov = (px[at + ch]! - bg[ch]!) / (fill[ch]! - bg[ch]!);
            m += cov;
            mx += cov * (j + 0.5);
            my += cov * (i + 0.5);
            if (t > 0) change += Math.abs(px[at + ch]! - px[at + ch - h * w * c]!);
          }
        }
        if (t > 0) expect(change).toBeGreaterThan(0);
        expect(m).toBeGreaterThan(4);
        centroids.push([mx / m, my / m]);
      }
      if (bounces) continue;
      // 2x2 supersampling quantizes edges to half pixels: each step is within 0.6 px of the
      // velocity, the mean over the clip within 0.1 px / frame.
      for (let t = 1; t < f; t++) {
        expect(Math.abs(centroids[t]![0] - centroids[t - 1]![0] - o.velocity[0])).toBeLessThan(0.6);
        expect(Math.abs(centroids[t]![1] - centroids[t - 1]![1] - o.velocity[1])).toBeLessThan(0.6);
      }
      for (const k of [0, 1]) expect(Math.abs((centroids[f - 1]![k]! - centroids[0]![k]!) / (f - 1) - o.velocity[k]!)).toBeLessThan(0.1);
      expect(Math.hypot(o.velocity[0], o.velocity[1])).toBeGreaterThan(0.9);
      // The caption's direction is the sign of the velocity.
      const [vx, vy] = o.velocity;
      expect(o.direction).toBe(vx < 0 ? 'left' : vx > 0 ? 'right' : vy < 0 ? 'up' : 'down');
      checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(6);
  });

  it('gives captions that agree with the labels and the token ids', () => {
    const v = new ShapesVideo('shapes-video:frames=2,size=16,seed=9,shapes=1..3');
    const b = v.batch(0, 24);
    const labels = b.labels.arraySync();
    const tokens = b.tokens.arraySync();
    expect(b.labels.dtype).toBe('int32');
    expect(b.tokens.shape).toEqual([24, 17]);
    const counts = new Set<number>();
    b.captions.forEach((caption, i) => {
      const clauses = caption.split(' and ');
      counts.add(clauses.length);
      clauses.forEach((clause, q) => {
        const m = /^a (\w+) (\w+) moving (\w+)$/.exec(clause);
        expect(m, clause).not.toBeNull();
        expect(labels[i]![q]).toEqual([SHAPE_NAMES.indexOf(m![2] as never), COLOUR_NAMES.indexOf(m![1] as never), DIRECTION_NAMES.indexOf(m![3] as never)]);
      });
      for (let q = clauses.length; q < 3; q++) expect(labels[i]![q]).toEqual([-1, -1, -1]);
      const words = tokens[i]!.filter((id) => id !== 0).map((id) => SHAPES_VIDEO_VOCAB[id]);
      expect(words.join(' ')).toBe(caption);
      expect(Array.from(captionTokens(caption))).toEqual(tokens[i]!.filter((id) => id !== 0));
      // Colours are distinct within a clip.
      const cols = labels[i]!.filter((r) => r[0]! >= 0).map((r) => r[1]);
      expect(new Set(cols).size).toBe(cols.length);
    });
    expect([...counts].sort()).toEqual([1, 2, 3]);
    expect(() => captionTokens('a pink circle')).toThrow(ConfigError);
    tf.dispose([b.videos, b.labels, b.tokens]);
  });

  it('renders luma videos with channels=1', () => {
    const s = new ShapesVideo('shapes-video:frames=3,size=12,seed=1,channels=1').sample(0);
    expect(s.video.shape).toEqual([3, 12, 12, 1]);
    s.video.dispose();
  });
});

describe('shapesImages', () => {
  it('renders frames of the same world, sharp (binary edges) or outlined (darker rim)', () => {
    const spec = 'shapes-video:frames=4,size=24,seed=4,shapes=1';
    const sharp = shapesImages(spec, { style: 'sharp' });
    const outlined = shapesImages(spec, { style: 'outlined' });
    const video = new ShapesVideo(spec);
    const bs = sharp.batch(0, 6);
    const bo = outlined.batch(0, 6);
    expect(bs.images.shape).toEqual([6, 24, 24, 3]);
    const pure = new Set([BACKGROUND, ...COLOUR_NAMES.map((c) => PALETTE[c])].flatMap((rgb) => rgb.map((x) => Math.fround(x / 127.5 - 1))));
    // Sharp: every pixel is the background or a palette colour.
    expect(Array.from(bs.images.dataSync()).every((x) => pure.has(x))).toBe(true);
    const si = bs.images.arraySync();
    const oi = bo.images.arraySync();
    for (let i = 0; i < 6; i++) {
      const world = video.world(i);
      const o = world.objects[0]!;
      expect(bs.captions[i]).toBe(`a ${o.colour} ${o.shape}`);
      expect(bs.frames[i]).toBe(outlined.frameOf(i));
      // The same frame of the soft video differs from the sharp image only at the edges.
      const clip = video.sample(i);
      const frame = tf.tidy(() => clip.video.slice([bs.frames[i]!], [1]).reshape([24, 24, 3]).arraySync() as number[][][]);
      clip.video.dispose();
      let diffPx = 0;
      let shapePx = 0;
      let rimPx = 0;
      const fill = PALETTE[o.colour].map((x) => Math.fround(x / 127.5 - 1));
      for (let y = 0; y < 24; y++) {
        for (let x = 0; x < 24; x++) {
          if (si[i]![y]![x]!.some((v, k) => Math.abs(v - frame[y]![x]![k]!) > 1e-6)) diffPx++;
          if (si[i]![y]![x]!.every((v, k) => v === fill[k])) shapePx++;
          // Outlined: rim pixels inside the shape are darker than the fill (summed over channels).
          const dark = fill.reduce((a, v, k) => a + v - oi[i]![y]![x]![k]!, 0);
          if (dark > 0.5 && si[i]![y]![x]!.every((v, k) => v === fill[k])) rimPx++;
        }
      }
      expect(shapePx).toBeGreaterThan(4);
      expect(diffPx).toBeGreaterThan(0);
      expect(diffPx).toBeLessThan(shapePx + 20);
      expect(rimPx).toBeGreaterThan(2);
    }
    tf.dispose([bs.images, bs.labels, bo.images, bo.labels]);
  });
});
