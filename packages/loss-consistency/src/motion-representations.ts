/**
 * @file MCM's motion representations `M(x)` of a video (MCM Sec. 4.1, Eq. 6 and Table 5), all on
 * `[B, F, H, W, C]` videos (latents or pixels):
 *
 * - `frameDifference`: `x[:, 1:] - x[:, :-1]`, `[B, F-1, H, W, C]`.
 * - `correlationVolume`: for every pixel of frame f, the dot product over channels with the pixels of
 *   frame f+1 in a `(2r+1) x (2r+1)` window centred on the same position (zero outside the frame),
 *   `[B, F-1, H, W, (2r+1)^2]`, offsets ordered row-major (dy, then dx, from -r to r). Plain dot
 *   products (no 1/sqrt(C) scaling). Default r = 1.
 * - `temporalLowFrequency` / `temporalHighFrequency`: a normalized Gaussian low-pass ALONG THE FRAME
 *   AXIS (radius r frames, std `sigma` frames, edge frames replicated), and its residual
 *   `x - lowpass(x)`. Filtering time rather than space makes the split a motion decomposition: a
 *   static video has low = x and high = 0. (A spatial or FFT-based split is not provided.)
 * - `MotionHead`: MCM's learnable representation, a 2-layer MLP applied per pixel over the channels
 *   of the frame difference, `W2 silu(W1 dx + b1) + b2`, `[B, F-1, H, W, out]`; its EMA copy (core's
 *   `ExponentialMovingAverage`) embeds the target (MCM keeps an EMA head, discarded at inference).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ExponentialMovingAverage, heUniform, Network, ShapeError, zeros } from '@fewstep/core';

function checkVideo(x: tf.Tensor, what: string, minFrames = 2): void {
  if (x.rank !== 5 || (x.shape[1] ?? 0) < minFrames) {
    throw new ShapeError(what, x.shape, `[B, F >= ${minFrames}, H, W, C]`, `pass a video [B, F, H, W, C] with F >= ${minFrames}`);
  }
}

/**
 * Consecutive frame differences.
 * @param x `[B, F, H, W, C]`, F >= 2
 * @returns `[B, F-1, H, W, C]`
 */
export function frameDifference(x: tf.Tensor): tf.Tensor {
  checkVideo(x, 'frameDifference input');
  const [b, f, h, w, c] = x.shape as number[] as [number, number, number, number, number];
  return tf.tidy(() => tf.sub(tf.slice(x, [0, 1, 0, 0, 0], [b, f - 1, h, w, c]), tf.slice(x, [0, 0, 0, 0, 0], [b, f - 1, h, w, c])));
}

/**
 * Local correlation cost volume between consecutive frames.
 * @param x `[B, F, H, W, C]`, F >= 2
 * @param radius window radius r >= 0 @default 1
 * @returns `[B, F-1, H, W, (2r+1)^2]`; entry `k = (dy + r)(2r+1) + (dx + r)` is
 *   `sum_c x[b, f, i, j, c] x[b, f+1, i+dy, j+dx, c]` (0 when outside the frame)
 */
export function correlationVolume(x: tf.Tensor, radius = 1): tf.Tensor {
  checkVideo(x, 'correlationVolume input');
  if (!(Number.isInteger(radius) && radius >= 0)) throw new ConfigError('radius', radius, 'an integer >= 0', 'use 1 (3x3 window)');
  const [b, f, h, w, c] = x.shape as number[] as [number, number, number, number, number];
  return tf.tidy(() => {
    const cur = tf.slice(x, [0, 0, 0, 0, 0], [b, f - 1, h, w, c]);
    const next = tf.pad(tf.slice(x, [0, 1, 0, 0, 0], [b, f - 1, h, w, c]), [
      [0, 0],
      [0, 0],
      [radius, radius],
      [radius, radius],
      [0, 0],
    ]);
    const planes: tf.Tensor[] = [];
    for (let dy = -radius; dy <= radius; dy++) {
      for (let dx = -radius; dx <= radius; dx++) {
        const shifted = tf.slice(next, [0, 0, radius + dy, radius + dx, 0], [b, f - 1, h, w, c]);
        planes.push(tf.sum(tf.mul(cur, shifted), 4));
      }
    }
    return tf.stack(planes, 4);
  });
}

/** Normalized Gaussian taps `exp(-k^2 / (2 sigma^2))`, k = -r..r. */
function gaussianTaps(radius: number, sigma: number): number[] {
  const taps = Array.from({ length: 2 * radius + 1 }, (_, i) => Math.exp(-((i - radius) ** 2) / (2 * sigma * sigma)));
  const total = taps.reduce((a, v) => a + v, 0);
  return taps.map((v) => v / total);
}

/** Options of the temporal frequency split. */
export interface TemporalFilterOptions {
  /** Low-pass radius in frames (>= 0). @default 1 */
  radius?: number;
  /** Gaussian std in frames (> 0). @default 1 */
  sigma?: number;
}

/**
 * Temporal low-frequency component: Gaussian blur along the frame axis, edge frames replicated.
 * @param x `[B, F, H, W, C]`
 * @returns `[B, F, H, W, C]`
 */
export function temporalLowFrequency(x: tf.Tensor, options: TemporalFilterOptions = {}): tf.Tensor {
  checkVideo(x, 'temporalLowFrequency input', 1);
  const radius = options.radius ?? 1;
  const sigma = options.sigma ?? 1;
  if (!(Number.isInteger(radius) && radius >= 0)) throw new ConfigError('radius', radius, 'an integer >= 0', 'use 1');
  if (!(sigma > 0)) throw new ConfigError('sigma', sigma, 'a number > 0', 'use 1 (frames)');
  const frames = x.shape[1] as number;
  const taps = gaussianTaps(radius, sigma);
  return tf.tidy(() => {
    let out: tf.Tensor | undefined;
    taps.forEach((wk, i) => {
      const k = i - radius;
      const idx = tf.tensor1d(
        Array.from({ length: frames }, (_, fr) => Math.min(frames - 1, Math.max(0, fr + k))),
        'int32',
      );
      const term = tf.mul(tf.gather(x, idx, 1), wk);
      out = out === undefined ? term : tf.add(out, term);
    });
    return out as tf.Tensor;
  });
}

/**
 * Temporal high-frequency component `x - temporalLowFrequency(x)`.
 * @param x `[B, F, H, W, C]`
 * @returns `[B, F, H, W, C]`
 */
export function temporalHighFrequency(x: tf.Tensor, options: TemporalFilterOptions = {}): tf.Tensor {
  return tf.tidy(() => tf.sub(x, temporalLowFrequency(x, options)));
}

/** Sizes of a {@link MotionHead}. */
export interface MotionHeadOptions {
  /** Input channels C. */
  channels: number;
  /** Hidden width. @default 64 */
  hidden?: number;
  /** Output channels. @default channels */
  outChannels?: number;
  /** Parameter seed. @default 1 */
  seed?: number;
}

/**
 * MCM's learnable motion head: a per-pixel 2-layer MLP on frame differences. Parameters live in a
 * core `Network` (`w1 [C, hidden]`, `b1 [hidden]`, `w2 [hidden, out]`, `b2 [out]`).
 */
export class MotionHead {
  /** Wraps an existing network holding `w1`, `b1`, `w2`, `b2` (use {@link MotionHead.create} for a new head). */
  constructor(
    readonly network: Network,
    readonly channels: number,
  ) {}

  /** A freshly initialised head (He-uniform weights, zero biases). */
  static create(options: MotionHeadOptions): MotionHead {
    const { channels, hidden = 64, outChannels = channels, seed = 1 } = options;
    for (const [field, v] of [
      ['channels', channels],
      ['hidden', hidden],
      ['outChannels', outChannels],
    ] as const) {
      if (!(Number.isInteger(v) && v >= 1)) throw new ConfigError(field, v, 'an integer >= 1', 'set a positive layer width');
    }
    const network = new Network('motion-head', { seed });
    network.param('w1', [channels, hidden], heUniform());
    network.param('b1', [hidden], zeros());
    network.param('w2', [hidden, outChannels], heUniform());
    network.param('b2', [outChannels], zeros());
    return new MotionHead(network, channels);
  }

  /** The head's trainable variables. */
  variables(): tf.Variable[] {
    return [...this.network.trainableVariables().values()];
  }

  /**
   * `M(x) = W2 silu(W1 (x[:,1:] - x[:,:-1]) + b1) + b2`, per pixel.
   * @param x `[B, F, H, W, C]`
   * @returns `[B, F-1, H, W, out]`
   */
  apply(x: tf.Tensor): tf.Tensor {
    if (x.shape[4] !== this.channels) {
      throw new ShapeError('MotionHead input channels', x.shape, `[B, F, H, W, ${this.channels}]`, 'build the head with the video channel count');
    }
    const n = this.network;
    return tf.tidy(() => {
      const d = frameDifference(x);
      const flat = tf.reshape(d, [-1, this.channels]);
      const h = tf.add(tf.matMul(flat, n.kernel('w1')), n.kernel('b1'));
      const y = tf.add(tf.matMul(tf.mul(h, tf.sigmoid(h)), n.kernel('w2')), n.kernel('b2'));
      return tf.reshape(y, [...d.shape.slice(0, 4), y.shape[1] as number]);
    });
  }

  /** The EMA target head (a clone of this head's network, averaged by `ema.update()`). */
  emaTarget(decay: number): { head: MotionHead; ema: ExponentialMovingAverage } {
    const target = this.network.clone('motion-head.ema');
    return { head: new MotionHead(target, this.channels), ema: new ExponentialMovingAverage(target, this.network, { decay }) };
  }

  dispose(): void {
    this.network.dispose();
  }
}
