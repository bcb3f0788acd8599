import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '@fewstep/core';
import { diversity, frameStatistics, sharpness, temporalChange } from './frame-metrics.js';

/** Videos `[N, F, H, W, C]` whose value at (n, t, i, j, c) is `f(n, t, i, j, c)`. */
function videos(shape: [number, number, number, number, number], f: (n: number, t: number, i: number, j: number, c: number) => number) {
  const [N, F, H, W, C] = shape;
  const values = new Float32Array(N * F * H * W * C);
  let k = 0;
  for (let n = 0; n < N; n++) for (let t = 0; t < F; t++) for (let i = 0; i < H; i++) for (let j = 0; j < W; j++) for (let c = 0; c < C; c++) values[k++] = f(n, t, i, j, c);
  return { values, shape };
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('sharpness (variance of the Laplacian of luminance)', () => {
  it('is 0 for a constant video, and for harmonic or quadratic ramps (constant Laplacian)', () => {
    expect(sharpness(videos([2, 3, 5, 5, 3], () => 0.3))).toBe(0);
    expect(sharpness(videos([1, 1, 6, 6, 1], (_n, _t, i, j) => 0.1 * i * j))).toBeCloseTo(0, 12); // Laplacian of i j is 0
    expect(sharpness(videos([1, 1, 6, 6, 1], (_n, _t, i) => 0.01 * i * i))).toBeCloseTo(0, 12); // Laplacian of i^2 is 2
  });

  it('a checkerboard of +-a: the Laplacian is -+8a at every interior pixel, variance 64 a^2 (1 - m^2) (RGB gray = its luma)', () => {
    const a = 0.75;
    const board = (_n: number, _t: number, i: number, j: number) => ((i + j) % 2 === 0 ? a : -a);
    // 4 x 5 interior: 10 pixels of each sign, mean m = 0.
    expect(sharpness(videos([2, 2, 6, 7, 1], board))).toBeCloseTo(64 * a * a, 5);
    // 3 x 3 interior: 5 of one sign, 4 of the other, m = 1/9.
    expect(sharpness(videos([1, 1, 5, 5, 3], board))).toBeCloseTo(64 * a * a * (1 - 1 / 81), 5);
  });

  it('a single bright pixel: hand-computed variance over the 2x2 interior of a 4x4 frame', () => {
    // Interior Laplacians: L(1,1) = -4, L(1,2) = L(2,1) = 1, L(2,2) = 0; mean -0.5, variance 17/4.
    expect(sharpness(videos([1, 1, 4, 4, 1], (_n, _t, i, j) => (i === 1 && j === 1 ? 1 : 0)))).toBeCloseTo(4.25, 6);
  });

  it('averages over frames and videos, and accepts tensors', () => {
    // Frame 0 a checkerboard of +-1 with a 4 x 4 interior (64), frame 1 constant (0): mean 32.
    const v = videos([1, 2, 6, 6, 1], (_n, t, i, j) => (t === 0 ? ((i + j) % 2 ? 1 : -1) : 0));
    const t = tf.tensor(v.values, v.shape);
    expect(sharpness(t)).toBeCloseTo(32, 5);
    t.dispose();
  });

  it('refuses frames smaller than 3 x 3 and non-video shapes', () => {
    expect(() => sharpness(videos([1, 1, 2, 5, 1], () => 0))).toThrow(ShapeError);
    expect(() => sharpness({ values: new Float32Array(4), shape: [2, 2] })).toThrow(ShapeError);
  });
});

describe('temporalChange (mean |x_t - x_{t-1}|)', () => {
  it('is 0 for a frozen video and the step for a linear fade', () => {
    expect(temporalChange(videos([2, 4, 3, 3, 3], (n, _t, i, j) => n + i - j))).toBe(0);
    expect(temporalChange(videos([2, 4, 3, 3, 1], (_n, t) => 0.25 * t))).toBeCloseTo(0.25, 6);
  });

  it('is 2 for frames flashing between -1 and 1', () => {
    expect(temporalChange(videos([1, 5, 2, 2, 3], (_n, t) => (t % 2 ? 1 : -1)))).toBe(2);
  });

  it('refuses single-frame videos', () => {
    expect(() => temporalChange(videos([2, 1, 3, 3, 1], () => 0))).toThrow(ShapeError);
  });
});

describe('diversity (mean pairwise L2 distance)', () => {
  it('a copy shifted by s: the distance is ||s||', () => {
    const shift = (_t: number, i: number, j: number, c: number) => 0.1 * (i - j) + 0.05 * c;
    const v = videos([2, 2, 3, 3, 3], (n, t, i, j, c) => Math.sin(t + i * 3 + j + c) + (n === 1 ? shift(t, i, j, c) : 0));
    let norm2 = 0;
    for (let t = 0; t < 2; t++) for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) for (let c = 0; c < 3; c++) norm2 += shift(t, i, j, c) ** 2;
    expect(diversity(v)).toBeCloseTo(Math.sqrt(norm2), 5);
  });

  it('three one-pixel videos 0, 3, 4: mean of 3, 4 and 1; maxVideos keeps the first ones', () => {
    const v = videos([3, 1, 1, 1, 1], (n) => [0, 3, 4][n]!);
    expect(diversity(v)).toBeCloseTo(8 / 3, 6);
    expect(diversity(v, { maxVideos: 2 })).toBeCloseTo(3, 6);
  });

  it('is 0 for a collapsed set, and refuses a single video', () => {
    expect(diversity(videos([4, 2, 3, 3, 1], (_n, t, i) => t + i))).toBe(0);
    expect(() => diversity(videos([1, 2, 3, 3, 1], () => 0))).toThrow(ShapeError);
  });
});

describe('frameStatistics', () => {
  it('collects the three numbers, with nulls where a statistic is undefined', () => {
    const one = frameStatistics(videos([1, 1, 4, 4, 1], (_n, _t, i, j) => (i === 1 && j === 1 ? 1 : 0)));
    expect(one).toEqual({ sharpness: expect.closeTo(4.25, 6), temporalChange: null, diversity: null });
    const v = videos([3, 2, 3, 3, 1], (n, t) => [0, 3, 4][n]! / 9 + 0.5 * t);
    const t = tf.tensor(v.values, v.shape);
    expect(frameStatistics(t)).toEqual({ sharpness: expect.closeTo(0, 10), temporalChange: expect.closeTo(0.5, 6), diversity: expect.closeTo(((8 / 3) * Math.sqrt(18)) / 9, 5) });
    t.dispose();
  });
});
