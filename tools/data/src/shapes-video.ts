/**
 * @file The `shapes-video` synthetic dataset (issue 8, item 1): short clips of 1-3 coloured shapes
 * (circle, square, triangle) moving with constant velocity and bouncing off the frame edges over a
 * plain background, each with a caption from fixed vocabularies ("a red circle moving left and a
 * blue square moving down") and integer labels (shape, colour, direction per object), so that a
 * classifier can later check that a generated clip agrees with its caption.
 *
 * Spec strings: `shapes-video:frames=8,size=32,seed=1[,shapes=1..3][,channels=3][,n=1024]`.
 * Videos are `[F, H, W, C]` (NHWC per frame, H = W = size) with values in [-1, 1]; edges are
 * antialiased by 2x2 supersampling, so frames are not binary. Item `i` is a pure function of
 * `(seed, i)`: its random stream is `seededRng(deriveSeed(seed, 'shapes-video:<i>'))`.
 *
 * The image set {@link shapesImages} (MCM's separate high-quality image set, MCM Eq. 5) renders
 * single frames `[H, W, C]` of the same world in a `sharp` (one sample per pixel, no blur) or
 * `outlined` (darker rim) style.
 *
 * Choices where the issue is silent (documented here): motion is axis-aligned (4 directions:
 * left / right / up / down) so the direction label is unambiguous; the caption's direction is the
 * direction at frame 0, and a start position that avoids any bounce during the clip is chosen
 * whenever the travel fits (for long clips it cannot, and the object bounces); colours are distinct
 * within one clip; objects are drawn in caption order (later ones on top); the background is a
 * fixed dark grey; with `channels=1` colours are converted to luma (Rec. 601).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, deriveSeed, seededRng, type SeededRng } from '@fewstep/core';

/** Shapes, in label order. */
export const SHAPE_NAMES = ['circle', 'square', 'triangle'] as const;
/** Colours of the palette, in label order. */
export const COLOUR_NAMES = ['red', 'green', 'blue', 'yellow', 'purple'] as const;
/** Motion directions (image axes: `down` is +y), in label order. */
export const DIRECTION_NAMES = ['left', 'right', 'up', 'down'] as const;

export type ShapeName = (typeof SHAPE_NAMES)[number];
export type ColourName = (typeof COLOUR_NAMES)[number];
export type DirectionName = (typeof DIRECTION_NAMES)[number];

/** sRGB 0..255 of each palette colour (same order as {@link COLOUR_NAMES}). */
export const PALETTE: Readonly<Record<ColourName, readonly [number, number, number]>> = Object.freeze({
  red: [220, 45, 45],
  green: [50, 185, 70],
  blue: [40, 100, 230],
  yellow: [240, 205, 35],
  purple: [150, 60, 200],
});
/** The plain background, sRGB 0..255. */
export const BACKGROUND: readonly [number, number, number] = [24, 24, 30];

/**
 * The caption vocabulary: token id = index (0 is padding). Every caption is a sequence of
 * `a <colour> <shape> moving <direction>` clauses joined by `and`.
 */
export const SHAPES_VIDEO_VOCAB: readonly string[] = Object.freeze(['<pad>', 'a', 'and', 'moving', ...SHAPE_NAMES, ...COLOUR_NAMES, ...DIRECTION_NAMES]);

/** A parsed `shapes-video` spec. */
export interface ShapesVideoSpec {
  /** Frames per clip F. */
  readonly frames: number;
  /** Frame height = width. */
  readonly size: number;
  /** Seed of the dataset's content (the order of a data source uses the run's seed). */
  readonly seed: number;
  /** Objects per clip, `minShapes..maxShapes` (1 <= min <= max <= 3). */
  readonly minShapes: number;
  readonly maxShapes: number;
  /** 3 (RGB) or 1 (luma). */
  readonly channels: 1 | 3;
  /** Items per epoch of a data source (the generator itself accepts any index >= 0). */
  readonly n: number;
}

export const SHAPES_VIDEO_DEFAULTS: ShapesVideoSpec = Object.freeze({ frames: 8, size: 32, seed: 0, minShapes: 1, maxShapes: 3, channels: 3, n: 1024 });

const SPEC_KEYS = ['frames', 'size', 'seed', 'shapes', 'channels', 'n'] as const;
const MAX_SHAPES = 3;

function intField(field: string, raw: string, lo: number, hi: number): number {
  const v = /^[+-]?\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(v) || v < lo || v > hi) throw new ConfigError(`shapes-video.${field}`, raw, `an integer in [${lo}, ${hi}]`);
  return v;
}

/**
 * Parses `shapes-video:frames=8,size=32,seed=1[,shapes=1..3][,channels=3][,n=1024]` (every key
 * optional, defaults {@link SHAPES_VIDEO_DEFAULTS}). Errors are `ConfigError`s naming the field
 * (`shapes-video.frames`), the value and the allowed values.
 */
export function parseShapesVideoSpec(spec: string): ShapesVideoSpec {
  const text = spec.trim();
  const m = /^shapes-video(?::(.*))?$/s.exec(text);
  if (!m) throw new ConfigError('shapes-video', spec, "a spec 'shapes-video:frames=8,size=32,seed=1[,shapes=1..3][,channels=3][,n=1024]'");
  const out = { ...SHAPES_VIDEO_DEFAULTS } as { -readonly [K in keyof ShapesVideoSpec]: ShapesVideoSpec[K] };
  const seen = new Set<string>();
  const body = (m[1] ?? '').trim();
  for (const part of body === '' ? [] : body.split(',')) {
    const eq = part.indexOf('=');
    const key = (eq < 0 ? part : part.slice(0, eq)).trim();
    const raw = eq < 0 ? '' : part.slice(eq + 1).trim();
    if (!(SPEC_KEYS as readonly string[]).includes(key)) throw new ConfigError('shapes-video', key, `one of the keys ${SPEC_KEYS.join(', ')} (as key=value)`);
    if (seen.has(key)) throw new ConfigError(`shapes-video.${key}`, part.trim(), 'each key once');
    seen.add(key);
    if (eq < 0) throw new ConfigError(`shapes-video.${key}`, part.trim(), `${key}=<value>`);
    switch (key) {
      case 'frames':
        out.frames = intField(key, raw, 1, 256);
        break;
      case 'size':
        out.size = intField(key, raw, 8, 1024);
        break;
      case 'seed':
        out.seed = intField(key, raw, 0, 0xffffffff);
        break;
      case 'n':
        out.n = intField(key, raw, 1, 1 << 30);
        break;
      case 'channels': {
        if (raw !== '1' && raw !== '3') throw new ConfigError('shapes-video.channels', raw, '1 (luma) or 3 (RGB)');
        out.channels = raw === '1' ? 1 : 3;
        break;
      }
      case 'shapes': {
        const r = /^(\d+)(?:\.\.(\d+))?$/.exec(raw);
        const lo = r ? Number(r[1]) : NaN;
        const hi = r ? Number(r[2] ?? r[1]) : NaN;
        if (!(lo >= 1 && hi <= MAX_SHAPES && lo <= hi)) throw new ConfigError('shapes-video.shapes', raw, `'k' or 'lo..hi' with 1 <= lo <= hi <= ${MAX_SHAPES}`);
        out.minShapes = lo;
        out.maxShapes = hi;
        break;
      }
    }
  }
  return Object.freeze(out);
}

/** The canonical spec string of a parsed spec (round-trips through {@link parseShapesVideoSpec}). */
export function formatShapesVideoSpec(s: ShapesVideoSpec): string {
  return `shapes-video:frames=${s.frames},size=${s.size},seed=${s.seed},shapes=${s.minShapes}..${s.maxShapes},channels=${s.channels},n=${s.n}`;
}

function resolveSpec(spec: string | ShapesVideoSpec): ShapesVideoSpec {
  return typeof spec === 'string' ? parseShapesVideoSpec(spec) : parseShapesVideoSpec(formatShapesVideoSpec({ ...SHAPES_VIDEO_DEFAULTS, ...spec }));
}

/** One moving object of a clip. Positions are pixel coordinates (pixel (i, j) covers [j, j+1) x [i, i+1)). */
export interface ShapesObject {
  readonly shape: ShapeName;
  readonly colour: ColourName;
  readonly direction: DirectionName;
  /** `[shape, colour, direction]` indices into {@link SHAPE_NAMES} / {@link COLOUR_NAMES} / {@link DIRECTION_NAMES}. */
  readonly labels: readonly [number, number, number];
  /** Half extent: the shape fits in the box `center ± radius`. */
  readonly radius: number;
  /** Center at frame 0, `[x, y]`. */
  readonly start: readonly [number, number];
  /** Pixels per frame at frame 0, `[vx, vy]` (axis-aligned). */
  readonly velocity: readonly [number, number];
}

/** The world of one clip: its objects (back to front) and caption. */
export interface ShapesWorld {
  readonly index: number;
  readonly objects: readonly ShapesObject[];
  readonly caption: string;
}

/** Reflects `p` into [lo, hi] (a bounce off both walls: a triangle wave). */
function bounce(p: number, lo: number, hi: number): number {
  const l = hi - lo;
  if (l <= 0) return lo;
  let u = (p - lo) % (2 * l);
  if (u < 0) u += 2 * l;
  return lo + (u > l ? 2 * l - u : u);
}

/** Center of `o` at frame `t` (constant velocity, bouncing off the edges). */
export function objectCenter(o: ShapesObject, t: number, size: number): [number, number] {
  return [bounce(o.start[0] + o.velocity[0] * t, o.radius, size - o.radius), bounce(o.start[1] + o.velocity[1] * t, o.radius, size - o.radius)];
}

/** Caption of a list of objects; with `motion: false` the `moving <direction>` words are left out (image captions). */
export function shapesCaption(objects: readonly Pick<ShapesObject, 'shape' | 'colour' | 'direction'>[], motion = true): string {
  return objects.map((o) => `a ${o.colour} ${o.shape}` + (motion ? ` moving ${o.direction}` : '')).join(' and ');
}

/** Token ids of a caption in {@link SHAPES_VIDEO_VOCAB}, right-padded with 0 to `length` (default: no padding). */
export function captionTokens(caption: string, length?: number): Int32Array {
  const words = caption.trim() === '' ? [] : caption.trim().split(/\s+/);
  const ids = words.map((w) => {
    const id = SHAPES_VIDEO_VOCAB.indexOf(w);
    if (id <= 0) throw new ConfigError('caption', w, `a word of the shapes-video vocabulary: ${SHAPES_VIDEO_VOCAB.slice(1).join(', ')}`);
    return id;
  });
  const n = length ?? ids.length;
  if (ids.length > n) throw new ConfigError('caption length', ids.length, `at most ${n} tokens`);
  const out = new Int32Array(n);
  out.set(ids);
  return out;
}

/** Longest caption of a spec in tokens: 5 per object plus `and` between objects. */
export function maxCaptionTokens(spec: ShapesVideoSpec): number {
  return 6 * spec.maxShapes - 1;
}

/** Draws the world of item `index` (pure function of `(spec.seed, index)`). */
export function shapesWorld(spec: ShapesVideoSpec, index: number): ShapesWorld {
  if (!Number.isSafeInteger(index) || index < 0) throw new ConfigError('shapes-video index', index, 'an integer >= 0');
  const rng: SeededRng = seededRng(deriveSeed(spec.seed, `shapes-video:${index}`));
  const { size, frames } = spec;
  const k = spec.minShapes + Math.floor(rng() * (spec.maxShapes - spec.minShapes + 1));
  const colours = [...COLOUR_NAMES.keys()];
  const objects: ShapesObject[] = [];
  for (let i = 0; i < k; i++) {
    const s = Math.floor(rng() * SHAPE_NAMES.length);
    const ci = Math.floor(rng() * colours.length);
    const c = colours.splice(ci, 1)[0]!;
    const d = Math.floor(rng() * DIRECTION_NAMES.length);
    const radius = size * (0.1 + 0.08 * rng());
    const speed = size * (0.03 + 0.04 * rng());
    const sign = d === 0 || d === 2 ? -1 : 1;
    const horizontal = d < 2;
    const lo = radius;
    const hi = size - radius;
    const travel = speed * (frames - 1);
    // Along the motion axis: start where the whole clip fits without a bounce when it can.
    const along = travel <= hi - lo ? (sign > 0 ? lo + rng() * (hi - lo - travel) : lo + travel + rng() * (hi - lo - travel)) : lo + rng() * (hi - lo);
    const across = lo + rng() * (hi - lo);
    objects.push({
      shape: SHAPE_NAMES[s]!,
      colour: COLOUR_NAMES[c]!,
      direction: DIRECTION_NAMES[d]!,
      labels: [s, c, d],
      radius,
      start: horizontal ? [along, across] : [across, along],
      velocity: horizontal ? [sign * speed, 0] : [0, sign * speed],
    });
  }
  return { index, objects, caption: shapesCaption(objects) };
}

/** How a frame is rendered: `soft` = 2x2 supersampled (the videos), `sharp` = 1 sample per pixel, `outlined` = soft with a darker rim. */
export type ShapesRenderStyle = 'soft' | 'sharp' | 'outlined';

/**
 * Signed distance-like function of a shape centred at the origin (< 0 inside); exact for the
 * circle, the Chebyshev distance for the square, the max of the three edge distances for the
 * triangle (apex up, base at +radius).
 */
function shapeDistance(shape: ShapeName, dx: number, dy: number, r: number): number {
  switch (shape) {
    case 'circle':
      return Math.hypot(dx, dy) - r;
    case 'square':
      return Math.max(Math.abs(dx), Math.abs(dy)) - r;
    case 'triangle': {
      // Edges: base y = r; sides through (0, -r) and (±r, r): |dx| = (dy + r) / 2.
      const k = 1 / Math.sqrt(1.25); // normalises (1, -1/2)
      return Math.max(dy - r, (Math.abs(dx) - (dy + r) / 2) * k);
    }
  }
}

function colourOf(name: ColourName, channels: 1 | 3, scale = 1): number[] {
  return toChannels(PALETTE[name].map((v) => v * scale) as [number, number, number], channels);
}

function toChannels(rgb: readonly [number, number, number], channels: 1 | 3): number[] {
  const v = channels === 3 ? [...rgb] : [0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]];
  return v.map((x) => x / 127.5 - 1);
}

/** Darkening of the `outlined` style's rim and its width in pixels (our choice). */
const OUTLINE_SCALE = 0.4;
const outlineWidth = (size: number): number => Math.max(1, size / 32);

/**
 * Renders frame `t` of `world` into `out` at `offset` (`H * W * C` values in [-1, 1]).
 */
export function renderFrame(spec: ShapesVideoSpec, world: ShapesWorld, t: number, style: ShapesRenderStyle, out: Float32Array, offset = 0): void {
  const { size, channels: c } = spec;
  const bg = toChannels(BACKGROUND, c);
  const objs = world.objects.map((o) => {
    const [cx, cy] = objectCenter(o, t, size);
    return { o, cx, cy, fill: colourOf(o.colour, c), rim: colourOf(o.colour, c, OUTLINE_SCALE) };
  });
  const subs = style === 'sharp' ? [0.5] : [0.25, 0.75];
  const weight = 1 / (subs.length * subs.length);
  const rimW = style === 'outlined' ? outlineWidth(size) : 0;
  const acc = new Float64Array(c);
  for (let i = 0; i < size; i++) {
    for (let j = 0; j < size; j++) {
      acc.fill(0);
      for (const sy of subs) {
        for (const sx of subs) {
          const x = j + sx;
          const y = i + sy;
          let col = bg;
          for (let q = objs.length - 1; q >= 0; q--) {
            const ob = objs[q]!;
            const r = ob.o.radius;
            if (Math.abs(x - ob.cx) > r + 1 || Math.abs(y - ob.cy) > r + 1) continue;
            const dist = shapeDistance(ob.o.shape, x - ob.cx, y - ob.cy, r);
            if (dist <= 0) {
              col = dist > -rimW ? ob.rim : ob.fill;
              break;
            }
          }
          for (let ch = 0; ch < c; ch++) acc[ch]! += weight * col[ch]!;
        }
      }
      const base = offset + (i * size + j) * c;
      for (let ch = 0; ch < c; ch++) out[base + ch] = acc[ch]!;
    }
  }
}

/** One clip of {@link ShapesVideo}. The caller owns (disposes) `video`. */
export interface ShapesVideoSample {
  /** `[F, H, W, C]` in [-1, 1]. */
  readonly video: tf.Tensor4D;
  readonly caption: string;
  readonly objects: readonly ShapesObject[];
  /** `[shape, colour, direction]` per object. */
  readonly labels: readonly (readonly [number, number, number])[];
}

/** A batch of clips. The caller owns (disposes) the tensors. */
export interface ShapesVideoBatch {
  /** `[N, F, H, W, C]` in [-1, 1]. */
  readonly videos: tf.Tensor5D;
  readonly captions: string[];
  /** int32 `[N, maxShapes, 3]`: `[shape, colour, direction]` per object, rows of -1 for absent objects. */
  readonly labels: tf.Tensor3D;
  /** int32 `[N, L]` caption token ids in {@link SHAPES_VIDEO_VOCAB}, 0-padded (L = {@link maxCaptionTokens}). */
  readonly tokens: tf.Tensor2D;
}

/** Int32 labels `[N, maxShapes, 3]` (-1 rows for absent objects) and tokens `[N, L]` of worlds. */
function labelArrays(spec: ShapesVideoSpec, worlds: readonly ShapesWorld[], motion = true): { labels: Int32Array; tokens: Int32Array } {
  const k = spec.maxShapes;
  const len = maxCaptionTokens(spec);
  const labels = new Int32Array(worlds.length * k * 3).fill(-1);
  const tokens = new Int32Array(worlds.length * len);
  worlds.forEach((w, b) => {
    w.objects.forEach((o, q) => labels.set(o.labels, (b * k + q) * 3));
    tokens.set(captionTokens(motion ? w.caption : shapesCaption(w.objects, false), len), b * len);
  });
  return { labels, tokens };
}

/** The `shapes-video` dataset: `sample(index)` / `batch(start, n)`, deterministic from `(seed, index)`. */
export class ShapesVideo {
  readonly spec: ShapesVideoSpec;
  constructor(spec: string | ShapesVideoSpec = SHAPES_VIDEO_DEFAULTS) {
    this.spec = resolveSpec(spec);
  }

  /** `[F, H, W, C]` of one clip. */
  get videoShape(): [number, number, number, number] {
    const { frames, size, channels } = this.spec;
    return [frames, size, size, channels];
  }

  /** Items per epoch (`n` of the spec). */
  get length(): number {
    return this.spec.n;
  }

  world(index: number): ShapesWorld {
    return shapesWorld(this.spec, index);
  }

  /** The pixels of clip `index` into `out` at `offset` (`F * H * W * C` values). */
  renderInto(index: number, out: Float32Array, offset = 0): ShapesWorld {
    const w = this.world(index);
    const [f, h, wd, c] = this.videoShape;
    for (let t = 0; t < f; t++) renderFrame(this.spec, w, t, 'soft', out, offset + t * h * wd * c);
    return w;
  }

  sample(index: number): ShapesVideoSample {
    const shape = this.videoShape;
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    const w = this.renderInto(index, data);
    return { video: tf.tensor4d(data, shape), caption: w.caption, objects: w.objects, labels: w.objects.map((o) => o.labels) };
  }

  /** Clips `start .. start + n - 1`. */
  batch(start: number, n: number): ShapesVideoBatch {
    if (!Number.isSafeInteger(n) || n < 1) throw new ConfigError('shapes-video batch n', n, 'an integer >= 1');
    return this.gather(Array.from({ length: n }, (_, i) => start + i));
  }

  /** Clips at the given indices, in that order. */
  gather(indices: ArrayLike<number>): ShapesVideoBatch {
    const shape = this.videoShape;
    const per = shape.reduce((a, b) => a * b, 1);
    const n = indices.length;
    const data = new Float32Array(n * per);
    const worlds: ShapesWorld[] = [];
    for (let b = 0; b < n; b++) worlds.push(this.renderInto(indices[b]!, data, b * per));
    const { labels, tokens } = labelArrays(this.spec, worlds);
    return {
      videos: tf.tensor5d(data, [n, ...shape]),
      captions: worlds.map((w) => w.caption),
      labels: tf.tensor3d(labels, [n, this.spec.maxShapes, 3], 'int32'),
      tokens: tf.tensor2d(tokens, [n, maxCaptionTokens(this.spec)], 'int32'),
    };
  }
}

/** Styles of the image set. */
export type ShapesImageStyle = ShapesRenderStyle;

/** Options of {@link shapesImages}. */
export interface ShapesImagesOptions {
  /** @default 'sharp' */
  style?: ShapesImageStyle;
}

/** A batch of images. The caller owns (disposes) the tensors. */
export interface ShapesImageBatch {
  /** `[N, H, W, C]` in [-1, 1]. */
  readonly images: tf.Tensor4D;
  /** Image captions (no motion words): "a red circle and a blue square". */
  readonly captions: string[];
  /** int32 `[N, maxShapes, 3]` as {@link ShapesVideoBatch.labels}. */
  readonly labels: tf.Tensor3D;
  /** Frame of the clip each image shows. */
  readonly frames: number[];
}

/**
 * The image set of a `shapes-video` world (MCM's separate image set): image `i` is frame
 * `f_i` (drawn from `(seed, i)`) of clip `i`, rendered in `style`.
 */
export class ShapesImages {
  readonly spec: ShapesVideoSpec;
  readonly style: ShapesImageStyle;
  constructor(spec: string | ShapesVideoSpec, options: ShapesImagesOptions = {}) {
    this.spec = resolveSpec(spec);
    const style = options.style ?? 'sharp';
    if (!['soft', 'sharp', 'outlined'].includes(style)) throw new ConfigError('shapes-images.style', style, "'sharp', 'outlined' or 'soft'");
    this.style = style;
  }

  get imageShape(): [number, number, number] {
    return [this.spec.size, this.spec.size, this.spec.channels];
  }

  get length(): number {
    return this.spec.n;
  }

  /** The clip frame image `index` shows. */
  frameOf(index: number): number {
    return Math.floor(seededRng(deriveSeed(this.spec.seed, `shapes-images:${index}`))() * this.spec.frames);
  }

  /** The pixels of image `index` into `out` at `offset`; returns its world and frame. */
  renderInto(index: number, out: Float32Array, offset = 0): { world: ShapesWorld; frame: number } {
    const world = shapesWorld(this.spec, index);
    const frame = this.frameOf(index);
    renderFrame(this.spec, world, frame, this.style, out, offset);
    return { world, frame };
  }

  sample(index: number): { image: tf.Tensor3D; caption: string; objects: readonly ShapesObject[]; frame: number } {
    const shape = this.imageShape;
    const data = new Float32Array(shape[0] * shape[1] * shape[2]);
    const { world, frame } = this.renderInto(index, data);
    return { image: tf.tensor3d(data, shape), caption: shapesCaption(world.objects, false), objects: world.objects, frame };
  }

  batch(start: number, n: number): ShapesImageBatch {
    if (!Number.isSafeInteger(n) || n < 1) throw new ConfigError('shapes-images batch n', n, 'an integer >= 1');
    return this.gather(Array.from({ length: n }, (_, i) => start + i));
  }

  gather(indices: ArrayLike<number>): ShapesImageBatch {
    const shape = this.imageShape;
    const per = shape[0] * shape[1] * shape[2];
    const n = indices.length;
    const data = new Float32Array(n * per);
    const worlds: ShapesWorld[] = [];
    const frames: number[] = [];
    for (let b = 0; b < n; b++) {
      const r = this.renderInto(indices[b]!, data, b * per);
      worlds.push(r.world);
      frames.push(r.frame);
    }
    const { labels } = labelArrays(this.spec, worlds, false);
    return {
      images: tf.tensor4d(data, [n, ...shape]),
      captions: worlds.map((w) => shapesCaption(w.objects, false)),
      labels: tf.tensor3d(labels, [n, this.spec.maxShapes, 3], 'int32'),
      frames,
    };
  }
}

/** The image set of a `shapes-video` spec in a `sharp` or `outlined` style (MCM's image set). */
export function shapesImages(spec: string | ShapesVideoSpec, options: ShapesImagesOptions = {}): ShapesImages {
  return new ShapesImages(spec, options);
}
