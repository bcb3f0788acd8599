/**
 * @file Timing of every backbone preset on the current tfjs backend: forward, and forward +
 * backward (gradients of all trainable variables). Printed, never asserted (see README.md for the
 * figures and `bench-backbones-main.ts` for the command).
 */
import * as tf from '@tensorflow/tfjs-core';
import { valueAndGrads } from '@fewstep/core';
import type { BackboneOutput } from './backbone-types.js';
import { VideoDiT } from './dit/video-dit.js';
import { TextEncoder } from './text/text-encoder.js';
import { ImageUNet } from './unet/image-unet.js';
import { VideoUNet } from './unet/video-unet.js';

/** One timed (backbone, preset, shape). */
export interface BenchRow {
  backbone: string;
  preset: string;
  /** Input shape, e.g. `[1, 8, 16, 16, 4]`. */
  shape: number[];
  params: number;
  /** Median ms of a forward pass (read back). */
  forwardMs: number;
  /** Median ms of a forward + backward pass (gradients of every trainable variable, read back). */
  trainMs: number;
}

/** Options of {@link benchBackbones}. */
export interface BenchOptions {
  /** @default ['tiny', 'small'] */
  presets?: string[];
  /** @default every backbone: ['video-unet', 'video-dit', 'image-unet', 'text-encoder'] */
  backbones?: string[];
  /** Timed repetitions (median reported). @default 3 */
  reps?: number;
  /** Untimed warm-up passes. @default 1 */
  warmup?: number;
  /** Video input `[B, F, H, W]` per preset. @default tiny [1, 8, 16, 16], small and base [1, 4, 32, 32] */
  videoShape?: Record<string, [number, number, number, number]>;
  onProgress?: (message: string) => void;
}

const DEFAULT_SHAPES: Record<string, [number, number, number, number]> = {
  tiny: [1, 8, 16, 16],
  small: [1, 4, 32, 32],
  base: [1, 4, 32, 32],
};

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

interface Subject {
  params: number;
  shape: number[];
  run: () => BackboneOutput;
  dispose: () => void;
  net: VideoUNet['net'];
}

function makeSubject(backbone: string, preset: string, shapes: Record<string, [number, number, number, number]>): Subject {
  const [b, f, h, w] = shapes[preset] ?? DEFAULT_SHAPES[preset] ?? DEFAULT_SHAPES.tiny!;
  if (backbone === 'text-encoder') {
    const enc = TextEncoder.preset(preset);
    const ids = tf.tidy(() => tf.cast(tf.add(tf.mul(tf.randomUniform([4, enc.config.maxLength], 0, 1, 'float32', 1), enc.config.vocabSize - 5), 4), 'int32'));
    return { params: enc.numParameters(), shape: ids.shape, net: enc.net, run: () => enc.forward({ ids }), dispose: () => (ids.dispose(), enc.dispose()) };
  }
  const model = backbone === 'video-unet' ? VideoUNet.preset(preset) : backbone === 'video-dit' ? VideoDiT.preset(preset) : backbone === 'image-unet' ? ImageUNet.preset(preset) : undefined;
  if (!model) throw new Error(`benchBackbones: unknown backbone '${backbone}' (known: video-unet, video-dit, image-unet, text-encoder)`);
  const cfg = model.config;
  const c = cfg.inChannels;
  const xShape = backbone === 'image-unet' ? [b * f, h, w, c] : [b, f, h, w, c];
  const batch = xShape[0]!;
  const x = tf.randomNormal(xShape, 0, 1, 'float32', 1);
  const t = tf.fill([batch], 500);
  const context = cfg.contextDim !== null ? tf.randomNormal([batch, 8, cfg.contextDim], 0, 1, 'float32', 2) : undefined;
  const pooled = cfg.pooledDim !== null ? tf.randomNormal([batch, cfg.pooledDim], 0, 1, 'float32', 3) : undefined;
  const inputs = { x, t, ...(context ? { context } : {}), ...(pooled ? { pooled } : {}), ...(cfg.guidanceEmbedding ? { guidanceScale: tf.fill([batch], 5) } : {}) };
  return {
    params: model.numParameters(),
    shape: xShape,
    net: model.net,
    run: () => model.forward(inputs),
    dispose: () => {
      tf.dispose(Object.values(inputs));
      model.dispose();
    },
  };
}

/**
 * Times forward and forward + backward of each (backbone, preset) on the current backend.
 * @example
 * await initEngine({ backend: 'wasm' });
 * console.log(formatBenchTable(await benchBackbones({ presets: ['tiny'] })));
 */
export async function benchBackbones(options: BenchOptions = {}): Promise<BenchRow[]> {
  const { presets = ['tiny', 'small'], backbones = ['video-unet', 'video-dit', 'image-unet', 'text-encoder'], reps = 3, warmup = 1, videoShape = {}, onProgress } = options;
  const rows: BenchRow[] = [];
  for (const preset of presets) {
    for (const backbone of backbones) {
      const s = makeSubject(backbone, preset, videoShape);
      try {
        const forward = async (): Promise<void> => {
          const r = s.run();
          await r.out.data();
          tf.dispose([r.out, ...Object.values(r.taps), ...Object.values(r).filter((v): v is tf.Tensor => v instanceof tf.Tensor)]);
        };
        const train = async (): Promise<void> => {
          const { value, grads } = valueAndGrads(s.net, () => tf.tidy(() => tf.mean(tf.square(s.run().out)) as tf.Scalar));
          await Promise.all([value.data(), ...[...grads.values()].map((g) => g.data())]);
          tf.dispose([value, ...grads.values()]);
        };
        const time = async (f: () => Promise<void>): Promise<number> => {
          for (let i = 0; i < warmup; i++) await f();
          const ms: number[] = [];
          for (let i = 0; i < reps; i++) {
            const t0 = performance.now();
            await f();
            ms.push(performance.now() - t0);
          }
          return median(ms);
        };
        const forwardMs = await time(forward);
        const trainMs = await time(train);
        const row = { backbone, preset, shape: s.shape, params: s.params, forwardMs, trainMs };
        rows.push(row);
        onProgress?.(`${backbone} ${preset} ${JSON.stringify(s.shape)}: forward ${forwardMs.toFixed(0)} ms, forward+backward ${trainMs.toFixed(0)} ms`);
      } finally {
        s.dispose();
      }
    }
  }
  return rows;
}

/** A markdown table of {@link benchBackbones} rows. */
export function formatBenchTable(rows: readonly BenchRow[], backend = tf.getBackend()): string {
  const lines = [
    `| backbone | preset | input | params | forward ms | forward+backward ms |`,
    `|---|---|---|---:|---:|---:|`,
    ...rows.map((r) => `| ${r.backbone} | ${r.preset} | [${r.shape.join(', ')}] | ${r.params.toLocaleString('en-US')} | ${r.forwardMs.toFixed(0)} | ${r.trainMs.toFixed(0)} |`),
  ];
  return `backend: ${backend}\n${lines.join('\n')}`;
}
