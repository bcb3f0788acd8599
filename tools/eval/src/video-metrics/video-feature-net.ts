/**
 * @file `fewstep-video-features`: a small (2+1)D convolutional video network, trained by
 * `fewstep train-features` on shapes-video clips to predict their caption attributes, whose pooled
 * embedding is the feature space of fewstep's video Frechet distance (an FVD-style metric: Unterthiner
 * et al. 2018 use an I3D's features; ours is trained on the synthetic data so it runs offline) and
 * whose heads score caption agreement.
 *
 * Architecture (input `[N, F, H, W, C]` in [-1, 1]; widths `w_0..w_S`, default 24, 48, 96):
 * 1. input `[x_t, x_{t+1} - x_t]` per frame (the last frame repeats the last difference), kept for
 *    every `frameStride`-th frame (default 2: t = 0, 2, 4, 6 of 8; velocity is constant within a
 *    shapes-video clip, so this halves the cost and loses little): `[N*F', H, W, 2C]`, F' = F / stride
 *    (explicit motion channels make direction cheap to read at this size);
 * 2. stem: conv 3x3 (2C -> w_0), GroupNorm, SiLU;
 * 3. S stages: conv 3x3 stride 2 (w_{i-1} -> w_i), GroupNorm, SiLU, then a residual temporal conv
 *    (kernel `[k_t, 1]` over time at each pixel, zero padded: a factorised 3D conv, Tran et al.
 *    2018 "R(2+1)D"), GroupNorm, SiLU: `[N*F', H/2^i, W/2^i, w_i]`;
 * 4. global mean and max pooling over (F', H, W): `[N, 2 w_S]`; `fc` to the feature `[N, D]` (D = 128);
 * 5. heads: `linear(SiLU(feature))` to `[N, K (1 + S + Dir)]` (see attribute-heads.ts).
 * GroupNorm statistics are per frame. The architecture is ours (no paper defines a feature network
 * for this synthetic data): widths, pooling and the explicit differences were picked for accuracy
 * per wasm millisecond (tools/eval/assets/video-features-v1/README.md). Only public tfjs ops (conv2d included) are used, so the wasm
 * backend runs it fast.
 *
 * Checkpoint: `model.json` (this config: `name: 'fewstep-video-features'`, `version: 1`, the input
 * it expects, the data spec it was trained on, plus provenance) and `model.safetensors` (F32,
 * variable names as keys), written weights first, model.json last.
 *
 * Inputs of another size (our choice, documented): frames are resized bilinearly in space
 * (half-pixel centres) to `size` x `size`, and longer clips are subsampled to `frames` evenly
 * spaced frames (first and last kept); clips with FEWER frames than `frames`, another channel
 * count, or another rank are refused with a {@link ShapeError} (frames or colour cannot be made up).
 */
import { mkdir, readFile } from 'node:fs/promises';
import * as nodePath from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, Network, ShapeError, readSafetensors, uniform, writeFileAtomic, writeSafetensors, zeros, type ParamScope, type TensorToWrite } from '@fewstep/core';
import { conv2d, groupNorm, initConv2d, initLinear, initNorm, linear, resolveGroups, silu } from '@fewstep/backbones';
import { COLOUR_NAMES, DIRECTION_NAMES, SHAPE_NAMES, evenlySpaced, formatShapesVideoSpec, parseShapesVideoSpec } from '@fewstep/data';
import { attributeLoss, attributeTargets, decodeAttributePredictions, headWidth, type AttributeLoss, type AttributeVocabulary } from './attribute-heads.js';
import type { VideoAttributeClassifier, VideoAttributePredictions, VideoFeatureExtractor } from './feature-extractor.js';

/** The feature network's name (model.json `name`). */
export const VIDEO_FEATURE_NET_NAME = 'fewstep-video-features';
/** The checkpoint format / feature-space version this code reads and writes. */
export const VIDEO_FEATURE_NET_VERSION = 1;
/** Files of a feature network directory. */
export const FEATURE_NET_JSON = 'model.json';
export const FEATURE_NET_WEIGHTS = 'model.safetensors';

/** The input a network expects: `[F, size, size, C]` per clip. */
export interface VideoFeatureNetInput {
  readonly frames: number;
  readonly size: number;
  readonly channels: 1 | 3;
}

/** The serializable config (model.json without provenance). */
export interface VideoFeatureNetConfig {
  readonly name: typeof VIDEO_FEATURE_NET_NAME;
  readonly version: typeof VIDEO_FEATURE_NET_VERSION;
  readonly input: VideoFeatureNetInput;
  /** Channel widths: stem, then one per stride-2 stage. @default [24, 48, 96] */
  readonly widths: readonly number[];
  /** Feature dimension D. @default 128 */
  readonly featureDim: number;
  /** Maximum GroupNorm groups (see backbones' `resolveGroups`). @default 8 */
  readonly normGroups: number;
  /** Temporal kernel size k_t (odd). @default 3 */
  readonly temporalKernel: number;
  /**
   * Frames kept after the difference channels are formed: `x_t, x_{t+1} - x_t` for t = 0, s, 2s,
   * ... (velocity is constant within a clip, so every other frame loses little and halves the
   * cost). Must divide `input.frames`. @default 2
   */
  readonly frameStride: number;
  /** The attribute vocabularies of the heads (shapes-video's, in label order). */
  readonly attributes: AttributeVocabulary;
  /** The canonical shapes-video spec it was (or will be) trained on. */
  readonly data: string;
}

/** What {@link VideoFeatureNet.create} needs: a data spec; the rest has defaults (input from the spec). */
export type VideoFeatureNetOptions = Partial<Omit<VideoFeatureNetConfig, 'name' | 'version'>> & { readonly data: string };

/** Default architecture. */
export const VIDEO_FEATURE_NET_DEFAULTS = Object.freeze({ widths: [24, 48, 96], featureDim: 128, normGroups: 8, temporalKernel: 3, frameStride: 2 });

const positiveInt = (field: string, v: unknown, min = 1): number => {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new ConfigError(field, v, `an integer >= ${min}`);
  return v;
};

const stringList = (field: string, v: unknown): string[] => {
  if (!Array.isArray(v) || v.length === 0 || v.some((s) => typeof s !== 'string' || s === '')) throw new ConfigError(field, v, 'a non-empty array of names');
  return [...(v as string[])];
};

/**
 * Validates a feature-network config (model.json or the options of `create`). Every problem is a
 * {@link ConfigError} naming the field; a foreign `name` or another `version` is refused.
 */
export function validateVideoFeatureNetConfig(raw: unknown, what = 'video feature net config'): VideoFeatureNetConfig {
  if (typeof raw !== 'object' || raw === null) throw new ConfigError(what, raw, 'an object');
  const c = raw as Record<string, unknown>;
  if (c['name'] !== VIDEO_FEATURE_NET_NAME) throw new ConfigError(`${what}.name`, c['name'], `'${VIDEO_FEATURE_NET_NAME}'`, 'point --features at a directory written by `fewstep train-features`');
  if (c['version'] !== VIDEO_FEATURE_NET_VERSION) {
    throw new ConfigError(`${what}.version`, c['version'], `${VIDEO_FEATURE_NET_VERSION} (the version this fewstep reads)`, 'retrain with this fewstep (`fewstep train-features`) or use the fewstep release that wrote it');
  }
  const input = c['input'] as Record<string, unknown> | undefined;
  if (typeof input !== 'object' || input === null) throw new ConfigError(`${what}.input`, input, '{ frames, size, channels }');
  const frames = positiveInt(`${what}.input.frames`, input['frames'], 2);
  const size = positiveInt(`${what}.input.size`, input['size'], 4);
  const channels = input['channels'];
  if (channels !== 1 && channels !== 3) throw new ConfigError(`${what}.input.channels`, channels, '1 or 3');
  const widths = c['widths'];
  if (!Array.isArray(widths) || widths.length < 2) throw new ConfigError(`${what}.widths`, widths, 'an array of >= 2 channel widths (stem, stages)');
  widths.forEach((w, i) => positiveInt(`${what}.widths[${i}]`, w, 2));
  if (size % 2 ** (widths.length - 1) !== 0) throw new ConfigError(`${what}.input.size`, size, `a multiple of ${2 ** (widths.length - 1)} (${widths.length - 1} stride-2 stages)`);
  const temporalKernel = positiveInt(`${what}.temporalKernel`, c['temporalKernel']);
  if (temporalKernel % 2 !== 1) throw new ConfigError(`${what}.temporalKernel`, temporalKernel, 'an odd integer');
  const frameStride = positiveInt(`${what}.frameStride`, c['frameStride']);
  if (frames % frameStride !== 0) throw new ConfigError(`${what}.frameStride`, frameStride, `a divisor of input.frames = ${frames}`);
  const attrs = c['attributes'] as Record<string, unknown> | undefined;
  if (typeof attrs !== 'object' || attrs === null) throw new ConfigError(`${what}.attributes`, attrs, '{ colours, shapes, directions }');
  if (typeof c['data'] !== 'string') throw new ConfigError(`${what}.data`, c['data'], "the shapes-video spec it was trained on, e.g. 'shapes-video:frames=8,size=16,seed=1'");
  return Object.freeze({
    name: VIDEO_FEATURE_NET_NAME,
    version: VIDEO_FEATURE_NET_VERSION,
    input: Object.freeze({ frames, size, channels }),
    widths: Object.freeze([...(widths as number[])]),
    featureDim: positiveInt(`${what}.featureDim`, c['featureDim']),
    normGroups: positiveInt(`${what}.normGroups`, c['normGroups']),
    temporalKernel,
    frameStride,
    attributes: Object.freeze({
      colours: stringList(`${what}.attributes.colours`, attrs['colours']),
      shapes: stringList(`${what}.attributes.shapes`, attrs['shapes']),
      directions: stringList(`${what}.attributes.directions`, attrs['directions']),
    }),
    data: c['data'],
  });
}

/** Creates `kernel` `[k_t, 1, c, c]` + `bias` `[c]` of a temporal conv (PyTorch-default uniform init). */
function initTemporalConv(scope: ParamScope, kt: number, c: number): void {
  const bound = 1 / Math.sqrt(kt * c);
  scope.param('kernel', [kt, 1, c, c], uniform(-bound, bound));
  scope.param('bias', [c], zeros());
}

/** Temporal conv over `[N, F, P, c]` (time as height, pixels as width), zero padded in time. */
function temporalConv(scope: ParamScope, x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.add(tf.conv2d(x as tf.Tensor4D, scope.kernel('kernel') as tf.Tensor4D, 1, 'same'), scope.variable('bias')));
}

/** Provenance stored next to the config in model.json (how it was trained, what it scored). */
export type VideoFeatureNetProvenance = Record<string, unknown>;

/**
 * The feature network: a {@link VideoFeatureExtractor} and a {@link VideoAttributeClassifier}.
 *
 * @example
 * const net = await VideoFeatureNet.load(defaultVideoFeatureNetDir());
 * const feats = net.extract(videos);          // [N, 128]
 * const preds = net.classify(videos).objects; // [{ colour: 'red', shape: 'circle', direction: 'left', confidence }]
 * feats.dispose(); net.dispose();
 */
export class VideoFeatureNet implements VideoFeatureExtractor, VideoAttributeClassifier {
  readonly config: VideoFeatureNetConfig;
  readonly net: Network;
  readonly provenance: VideoFeatureNetProvenance | undefined;
  readonly #groups: number[];

  private constructor(config: VideoFeatureNetConfig, net: Network, provenance?: VideoFeatureNetProvenance) {
    this.config = config;
    this.net = net;
    this.provenance = provenance;
    this.#groups = config.widths.map((w) => resolveGroups(w, config.normGroups));
  }

  get name(): string {
    return this.config.name;
  }

  get version(): number {
    return this.config.version;
  }

  get featureDim(): number {
    return this.config.featureDim;
  }

  /** A freshly initialised network (seeded) for the data spec's clips. */
  static create(options: VideoFeatureNetOptions, init: { seed?: number } = {}): VideoFeatureNet {
    const spec = parseShapesVideoSpec(options.data);
    const config = validateVideoFeatureNetConfig({
      name: VIDEO_FEATURE_NET_NAME,
      version: VIDEO_FEATURE_NET_VERSION,
      input: options.input ?? { frames: spec.frames, size: spec.size, channels: spec.channels },
      widths: options.widths ?? VIDEO_FEATURE_NET_DEFAULTS.widths,
      featureDim: options.featureDim ?? VIDEO_FEATURE_NET_DEFAULTS.featureDim,
      normGroups: options.normGroups ?? VIDEO_FEATURE_NET_DEFAULTS.normGroups,
      temporalKernel: options.temporalKernel ?? VIDEO_FEATURE_NET_DEFAULTS.temporalKernel,
      frameStride: options.frameStride ?? VIDEO_FEATURE_NET_DEFAULTS.frameStride,
      attributes: options.attributes ?? { colours: COLOUR_NAMES, shapes: SHAPE_NAMES, directions: DIRECTION_NAMES },
      data: formatShapesVideoSpec(spec),
    });
    return VideoFeatureNet.build(config, init.seed ?? 1);
  }

  /** Builds the (randomly initialised) network of a validated config. */
  static build(config: VideoFeatureNetConfig, seed = 1, provenance?: VideoFeatureNetProvenance): VideoFeatureNet {
    const net = new Network(VIDEO_FEATURE_NET_NAME, { seed });
    const { widths, input, temporalKernel, featureDim } = config;
    initConv2d(net.scope('stem.conv'), 3, 2 * input.channels, widths[0]!);
    initNorm(net.scope('stem.norm'), widths[0]!);
    for (let i = 1; i < widths.length; i++) {
      const s = net.scope(`down.${i - 1}`);
      initConv2d(s.scope('conv'), 3, widths[i - 1]!, widths[i]!);
      initNorm(s.scope('norm'), widths[i]!);
      initTemporalConv(s.scope('temporal'), temporalKernel, widths[i]!);
      initNorm(s.scope('temporal_norm'), widths[i]!);
    }
    initLinear(net.scope('fc'), 2 * widths[widths.length - 1]!, featureDim);
    initLinear(net.scope('head'), featureDim, headWidth(config.attributes));
    return new VideoFeatureNet(config, net, provenance);
  }

  /**
   * Brings videos `[N, F', H', W', C]` to the expected `[N, F, H, W, C]` (see the file comment:
   * bilinear resize in space, evenly spaced frames in time, refusals). Returns the input itself
   * when it already fits (do not dispose it then); otherwise a new tensor.
   */
  prepare(videos: tf.Tensor): tf.Tensor5D {
    const { frames, size, channels } = this.config.input;
    const want = `[N, ${frames}, ${size}, ${size}, ${channels}] (${this.name} v${this.version}; other H, W are resized, longer clips subsampled)`;
    if (videos.rank !== 5) throw new ShapeError('videos', videos.shape, want);
    const [n, f, h, w, c] = videos.shape as [number, number, number, number, number];
    if (c !== channels) throw new ShapeError('videos', videos.shape, want, `this network reads ${channels}-channel clips; use a feature network trained on ${channels === 3 ? 'RGB' : 'luma'} data of yours (--features DIR)`);
    if (f < frames) throw new ShapeError('videos', videos.shape, want, `clips need at least ${frames} frames; train a feature network for ${f}-frame clips (fewstep train-features --data shapes-video:frames=${f},...)`);
    if (n === 0) throw new ShapeError('videos', videos.shape, want);
    if (f === frames && h === size && w === size) return videos as tf.Tensor5D;
    return tf.tidy(() => {
      let x: tf.Tensor = videos;
      if (f !== frames) x = tf.gather(x, tf.tensor1d(evenlySpaced(f, frames), 'int32'), 1);
      if (h !== size || w !== size) {
        const frames4 = tf.reshape(x, [n * frames, h, w, c]) as tf.Tensor4D;
        x = tf.reshape(tf.image.resizeBilinear(frames4, [size, size], false, true), [n, frames, size, size, c]);
      }
      return x as tf.Tensor5D;
    });
  }

  /**
   * Features `[N, D]` and head logits `[N, K (1 + S + Dir)]` of clips already of the expected
   * shape (differentiable: the training loss calls it inside the gradient closure).
   */
  forward(videos: tf.Tensor): { features: tf.Tensor2D; logits: tf.Tensor2D } {
    const { frames: f, size, channels: c } = this.config.input;
    if (videos.rank !== 5 || videos.shape[1] !== f || videos.shape[2] !== size || videos.shape[3] !== size || videos.shape[4] !== c) {
      throw new ShapeError('forward videos', videos.shape, `[N, ${f}, ${size}, ${size}, ${c}] (call prepare() first)`);
    }
    const n = videos.shape[0]!;
    const net = this.net;
    const groups = this.#groups;
    return tf.tidy(() => {
      // 1. Frames and their forward differences (the last difference repeated). Rank-4 views:
      // the wasm backend slices rank-5 tensors an order of magnitude slower.
      const p = size * size;
      const x4 = tf.reshape(videos, [n, f, p, c]);
      const diff = tf.sub(tf.slice(x4, [0, 1, 0, 0], [n, f - 1, p, c]), tf.slice(x4, [0, 0, 0, 0], [n, f - 1, p, c]));
      const diffs = tf.concat([diff, tf.slice(diff, [0, f - 2, 0, 0], [n, 1, p, c])], 1);
      let both: tf.Tensor = tf.concat([x4, diffs], 3);
      const stride = this.config.frameStride;
      const fk = f / stride;
      if (stride > 1) both = tf.gather(both, tf.tensor1d(Array.from({ length: fk }, (_, i) => i * stride), 'int32'), 1);
      let y: tf.Tensor = tf.reshape(both, [n * fk, size, size, 2 * c]);
      // 2. Stem.
      y = silu(groupNorm(net.scope('stem.norm'), conv2d(net.scope('stem.conv'), y), groups[0]!));
      // 3. Stride-2 stages with a residual temporal conv.
      for (let i = 1; i < this.config.widths.length; i++) {
        const s = net.scope(`down.${i - 1}`);
        y = silu(groupNorm(s.scope('norm'), conv2d(s.scope('conv'), y, 2), groups[i]!));
        const [, hh, ww, ch] = y.shape as [number, number, number, number];
        const t = tf.reshape(temporalConv(s.scope('temporal'), tf.reshape(y, [n, fk, hh * ww, ch])), [n * fk, hh, ww, ch]);
        y = silu(groupNorm(s.scope('temporal_norm'), tf.add(y, t), groups[i]!));
      }
      // 4. Global mean + max pooling over (F, H, W), then the feature projection.
      const ch = y.shape[3]!;
      const r = tf.reshape(y, [n, -1, ch]);
      const pooled = tf.concat([tf.mean(r, 1), tf.max(r, 1)], 1);
      const features = linear(net.scope('fc'), pooled) as tf.Tensor2D;
      // 5. Attribute heads.
      const logits = linear(net.scope('head'), silu(features)) as tf.Tensor2D;
      return { features, logits };
    });
  }

  /** Runs `f` over chunks of the prepared videos and concatenates the `[b, ...]` results. */
  #chunked(videos: tf.Tensor, batchSize: number, f: (x: tf.Tensor) => tf.Tensor): tf.Tensor {
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new ConfigError('batchSize', batchSize, 'an integer >= 1');
    const x = this.prepare(videos);
    try {
      const n = x.shape[0];
      if (n <= batchSize) return f(x);
      const parts: tf.Tensor[] = [];
      try {
        for (let i = 0; i < n; i += batchSize) {
          const b = Math.min(batchSize, n - i);
          parts.push(tf.tidy(() => f(tf.slice(x, [i, 0, 0, 0, 0], [b, -1, -1, -1, -1]))));
        }
        return tf.concat(parts, 0);
      } finally {
        tf.dispose(parts);
      }
    } finally {
      if (x !== videos) x.dispose();
    }
  }

  /** Features `[N, D]` of videos (resized / subsampled as needed). The caller disposes the result. */
  extract(videos: tf.Tensor, batchSize = 64): tf.Tensor2D {
    return this.#chunked(videos, batchSize, (x) =>
      tf.tidy(() => {
        const { features, logits } = this.forward(x);
        logits.dispose();
        return features;
      }),
    ) as tf.Tensor2D;
  }

  /** Head logits `[N, K (1 + S + Dir)]`. The caller disposes the result. */
  logits(videos: tf.Tensor, batchSize = 64): tf.Tensor2D {
    return this.#chunked(videos, batchSize, (x) =>
      tf.tidy(() => {
        const { features, logits } = this.forward(x);
        features.dispose();
        return logits;
      }),
    ) as tf.Tensor2D;
  }

  /** Per-video attribute predictions (plain arrays). */
  classify(videos: tf.Tensor, batchSize = 64): VideoAttributePredictions {
    const logits = this.logits(videos, batchSize);
    try {
      return decodeAttributePredictions(logits, this.config.attributes);
    } finally {
      logits.dispose();
    }
  }

  /**
   * The training objective on clips and their shapes-video labels int32 `[B, M, 3]` (see
   * attribute-heads.ts); call inside a gradient closure / `tf.tidy`.
   */
  loss(videos: tf.Tensor, labels: tf.Tensor): AttributeLoss {
    const { logits } = this.forward(videos);
    return attributeLoss(logits, attributeTargets(labels, this.config.attributes), this.config.attributes);
  }

  /** Number of scalar parameters. */
  numParameters(): number {
    return this.net.numParameters();
  }

  /**
   * Writes `<dir>/model.safetensors` then `<dir>/model.json` (the config plus `provenance`), each
   * crash-atomically. Returns the directory.
   */
  async save(dir: string, provenance: VideoFeatureNetProvenance | undefined = this.provenance): Promise<string> {
    await mkdir(dir, { recursive: true });
    const tensors = new Map<string, TensorToWrite>();
    for (const [name, v] of this.net.variables()) tensors.set(name, { dtype: 'F32', shape: v.shape, data: (await v.data()) as Float32Array });
    await writeSafetensors(nodePath.join(dir, FEATURE_NET_WEIGHTS), tensors, { metadata: { 'fewstep.model': VIDEO_FEATURE_NET_NAME, 'fewstep.version': String(VIDEO_FEATURE_NET_VERSION) } });
    const json = { ...this.config, ...(provenance ? { provenance } : {}) };
    await writeFileAtomic(nodePath.join(dir, FEATURE_NET_JSON), [new TextEncoder().encode(JSON.stringify(json, null, 2) + '\n')]);
    return dir;
  }

  /**
   * Loads a directory written by {@link VideoFeatureNet.save}.
   * @throws ConfigError (no model.json, not JSON, another name or version, a bad field)
   * @throws StateMismatchError (weights that do not fit the config: missing, unexpected, mis-shaped)
   */
  static async load(dir: string): Promise<VideoFeatureNet> {
    const file = nodePath.join(dir, FEATURE_NET_JSON);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      throw new ConfigError('feature network', dir, `a directory with ${FEATURE_NET_JSON} and ${FEATURE_NET_WEIGHTS}`, 'train one with `fewstep train-features --data shapes-video:... --steps N --out DIR`');
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (e) {
      throw new ConfigError(file, text.slice(0, 60), 'JSON', (e as Error).message);
    }
    const config = validateVideoFeatureNetConfig(raw, file);
    const provenance = (raw as { provenance?: VideoFeatureNetProvenance }).provenance;
    const { tensors } = await readSafetensors(nodePath.join(dir, FEATURE_NET_WEIGHTS));
    const out = VideoFeatureNet.build(config, 1, provenance);
    const weights = new Map<string, tf.Tensor>();
    try {
      for (const [name, t] of tensors) weights.set(name, tf.tensor(t.data as Float32Array, t.shape as number[], 'float32'));
      out.net.setWeights(weights);
    } catch (e) {
      out.dispose();
      throw e;
    } finally {
      tf.dispose([...weights.values()]);
    }
    out.net.freeze();
    return out;
  }

  dispose(): void {
    this.net.dispose();
  }
}
