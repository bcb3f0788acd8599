/**
 * @file Pieces shared by the DMD2 and AVDM2 recipes: a denoising-GAN discriminator role (frozen
 * teacher taps + trainable heads), the generator sample of a phase (backward simulation), the
 * discriminator and fake-score phase inputs, and switches that turn a term or a phase off.
 *
 * Denoising GAN (AVDM2 Eq. 6-7; DMD2 Sec. 4.3 with `diffusion_gan`): `D(x_t, t)` sees real data
 * and generator samples diffused to the same noise level, `x_t = alpha_t x0 + sigma_t eps`, with
 * `t` drawn per sample from a fraction range of the schedule's time span. `D` reads taps of the
 * frozen teacher at `(x_t, t)` (videos `[B, F', H', W', C]` are folded to frames `[B*F', H', W', C]`)
 * and a trainable head turns them into patch logits `[B, N]`:
 * - `'multi-scale'` (AVDM2 Sec. 4.1): one 3x3 conv per tap, resized to the smallest tap, concatenated,
 *   then a conv to logits (`multiScaleHead`). On a DiT every tap has the same grid, so the
 *   "scales" are depths of the network (our reading; AnimateDiff's UNet gives three resolutions).
 * - `'per-tap'` (DMD2's classifier branch, ADM): a `head2d` per tap, logits concatenated.
 * Only the heads train; the teacher is read, never updated (it is no role of the run).
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { ConfigError, Network, defineLoss, forwardDiffuse, type LossDefinition, type NoiseSchedule } from '@fewstep/core';
import { head2d, multiScaleHead, type DiscriminatorHead, type MultiScaleDiscriminatorHead } from '@fewstep/loss-adversarial';
import type { FakeScoreDenoisingInputs } from '@fewstep/loss-sdm';
import type { DiscriminatorObjectiveInputs } from '@fewstep/loss-adversarial';
import { modelTaps, type Conditioning, type DiffusionModel } from '../runtime/diffusion-model.js';
import type { RecipeOptions } from '../runtime/define-recipe.js';
import { detach, type RecipeContext } from '../runtime/recipe-context.js';
import { customRole, type RoleSpec } from '../runtime/roles.js';

/** The discriminator heads of {@link denoisingDiscriminator}. */
export type DiscriminatorHeadKind = 'multi-scale' | 'per-tap';
export const DISCRIMINATOR_HEAD_KINDS: readonly DiscriminatorHeadKind[] = ['multi-scale', 'per-tap'];

/** How a denoising discriminator is built (from the recipe options). */
export interface DenoisingDiscriminatorSpec {
  /** Teacher taps the heads read; undefined = {@link pickTaps}`(tapNames, tapCount)`. */
  taps?: readonly string[] | undefined;
  /** Number of taps when `taps` is not given. */
  tapCount: number;
  head: DiscriminatorHeadKind;
  /** Width of the head convolutions (a power of two keeps GroupNorm happy). */
  channels: number;
}

/** The API of a discriminator role: `D(x_t, t)`. */
export interface DenoisingDiscriminator {
  /** The teacher taps the heads read. */
  readonly taps: readonly string[];
  /**
   * Logits of noisy samples: differentiable in `xt` (through the frozen teacher) and in the heads.
   * @param xt `[B, ...sampleShape]` already diffused to `t`
   * @param t model times `[B]`
   * @returns `[B, N]` patch logits
   */
  logits(xt: tf.Tensor, t: tf.Tensor, cond?: Conditioning): tf.Tensor;
}

/**
 * Taps a discriminator reads by default: among the encoder taps (`down.*` and `mid` of a UNet;
 * every block of a DiT) `count` evenly spaced ones, the deepest always included (for `count = 1`
 * the UNet bottleneck, as DMD2's classifier branch).
 */
export function pickTaps(available: readonly string[], count: number): string[] {
  if (available.length === 0) throw new ConfigError('teacher taps', available, 'a backbone with feature taps', 'use a fewstep backbone (VideoUNet / VideoDiT)');
  const encoder = available.filter((n) => n.startsWith('down') || n === 'mid');
  const pool = encoder.length > 0 ? encoder : [...available];
  if (count >= pool.length) return pool;
  if (count === 1) return [pool[pool.length - 1]!];
  const picked = Array.from({ length: count }, (_, i) => pool[Math.round((i * (pool.length - 1)) / (count - 1))]!);
  return [...new Set(picked)];
}

/** Conditioning zeros for a probe forward of a fewstep backbone (its config names what it needs). */
function probeConditioning(config: unknown): Record<string, tf.Tensor> {
  const c = (config ?? {}) as Record<string, unknown>;
  const out: Record<string, tf.Tensor> = {};
  if (typeof c['contextDim'] === 'number') out['context'] = tf.zeros([1, 1, c['contextDim']]);
  if (typeof c['pooledDim'] === 'number') out['pooled'] = tf.zeros([1, c['pooledDim']]);
  if (c['guidanceEmbedding'] === true) out['guidanceScale'] = tf.zeros([1]);
  return out;
}

/** Shapes of `taps` for one sample of `sampleShape` (one probe forward of the teacher). */
export function probeTapShapes(teacher: DiffusionModel, sampleShape: readonly number[], taps: readonly string[]): Record<string, number[]> {
  return tf.tidy(() => {
    const x = tf.zeros([1, ...sampleShape]);
    const t = tf.fill([1], (teacher.schedule.tMin + teacher.schedule.tMax) / 2);
    const maps = modelTaps(teacher, teacher.backbone, x, t, [...taps], probeConditioning(teacher.backbone.toConfig()));
    const shapes: Record<string, number[]> = {};
    for (const name of taps) {
      const m = maps[name];
      if (m === undefined) throw new ConfigError('discriminator taps', name, `one of the teacher's taps: ${teacher.backbone.tapNames().join(', ')}`);
      if (m.rank !== 4 && m.rank !== 5) throw new ConfigError(`discriminator tap '${name}'`, m.shape, 'a feature map [B, H, W, C] or [B, F, H, W, C]', 'pick a convolutional / grid tap');
      shapes[name] = m.shape;
    }
    return shapes;
  });
}

/** `[B, F, H, W, C]` -> `[B*F, H, W, C]`; 4D maps unchanged. */
function foldFrames(x: tf.Tensor): tf.Tensor {
  return x.rank === 5 ? tf.reshape(x, [-1, ...x.shape.slice(2)]) : x;
}

/**
 * A discriminator role: trainable heads (a new `Network` named after the role, seeded by the run)
 * on taps of the frozen teacher. The role's API is a {@link DenoisingDiscriminator}.
 */
export function denoisingDiscriminator<R extends RecipeOptions>(spec: (options: R) => DenoisingDiscriminatorSpec): RoleSpec<R> {
  return customRole<R, DenoisingDiscriminator>((env) => {
    const s = spec(env.options);
    const available = env.teacher.backbone.tapNames();
    const unknown = (s.taps ?? []).filter((n) => !available.includes(n));
    if (unknown.length > 0) throw new ConfigError('discTaps', unknown, `taps of the teacher: ${available.join(', ')}`, 'leave discTaps unset to pick encoder taps');
    const taps = s.taps !== undefined && s.taps.length > 0 ? [...s.taps] : pickTaps(available, s.tapCount);
    const shapes = probeTapShapes(env.teacher, env.sampleShape, taps);
    const channelsOf = taps.map((n) => shapes[n]![shapes[n]!.length - 1]!);
    const net = new Network(env.role, { seed: env.seed });
    let heads: (b: number, maps: tf.Tensor[]) => tf.Tensor;
    try {
      if (s.head === 'multi-scale') {
        const size = Math.min(...taps.map((n) => shapes[n]!.at(-3)!));
        const head: MultiScaleDiscriminatorHead = multiScaleHead(net, 'head', { inChannels: channelsOf, channels: s.channels, size });
        heads = (b, maps) => tf.reshape(head.forward(maps), [b, -1]);
      } else {
        const perTap: DiscriminatorHead[] = channelsOf.map((c, i) => head2d(net, `head${i}`, { inChannels: c, channels: [s.channels] }));
        heads = (b, maps) => {
          const logits = perTap.map((h, i) => tf.reshape(h.forward(maps[i]!), [b, -1]));
          return logits.length === 1 ? logits[0]! : tf.concat(logits, 1);
        };
      }
    } catch (e) {
      net.dispose();
      throw e;
    }
    net.unfreeze();
    const teacher = env.teacher;
    const api: DenoisingDiscriminator = {
      taps,
      logits: (xt, t, cond) =>
        tf.tidy(() => {
          const maps = modelTaps(teacher, teacher.backbone, xt, t, taps, cond);
          return heads(xt.shape[0]!, taps.map((n) => foldFrames(maps[n]!)));
        }),
    };
    return { net, api };
  });
}

/** Model time at a fraction `u` of the schedule's span (`0` = `tMin`, `1` = `tMax`). */
export function timeAt(schedule: NoiseSchedule, u: number): number {
  return schedule.tMin + u * (schedule.tMax - schedule.tMin);
}

/** `n` model times uniform on the fraction range `[lo, hi]` of the schedule's span, `[n]`. */
export function uniformTimes(rc: RecipeContext<any>, n: number, lo: number, hi: number, stream: string): tf.Tensor1D {
  return rc.randomUniform([n], stream, timeAt(rc.schedule, lo), timeAt(rc.schedule, hi)) as tf.Tensor1D;
}

/** A generator sample at its backward-simulated state (see {@link generatorSample}). */
export interface GeneratorSample {
  /** `x0_hat = G_theta(x_{t_n}, t_n)` `[B, ...]`: differentiable in the generator phase, a constant elsewhere. */
  readonly x0Hat: tf.Tensor;
  /** The simulated state the generator saw and its time. */
  readonly xt: tf.Tensor;
  readonly t: number;
}

const perPhaseRun = new WeakMap<object, Map<string, unknown>>();

/**
 * One value per phase run, shared by the phase's terms (the generator sample that both the
 * DMD / SDM term and the GAN term read). Keyed on the phase run's random-stream object (the
 * trainer gives one per phase per step; the trainer runs a phase's terms in one scope). If that
 * object is not shared, or the terms ran in separate `tf.tidy` scopes that disposed the value,
 * the value is made again (from the same streams, or from where they stand).
 */
function sharedInPhase<T>(rc: RecipeContext<any>, key: string, make: () => T): T {
  const anchor = rc.rng('phase-run');
  let cache = perPhaseRun.get(anchor);
  if (cache === undefined) {
    cache = new Map();
    perPhaseRun.set(anchor, cache);
  }
  const hit = cache.get(key) as T | undefined;
  if (hit !== undefined && !isDisposed(hit)) return hit;
  const value = make();
  cache.set(key, value);
  return value;
}

/** A cached value whose tensors a closed scope has disposed (terms evaluated in separate tidies). */
function isDisposed(value: unknown): boolean {
  return Object.values(value as Record<string, unknown>).some((v) => v instanceof tf.Tensor && v.isDisposed);
}

/**
 * Backward simulation (DMD2 Sec. 4.5, AVDM2 Algorithm 1 line 4): the student's own sampler runs
 * from noise for `n ~ U{0..k-1}` steps with no gradient, then `x0_hat = G_theta(x_{t_n}, t_n)`.
 * Within one phase run every call with the same `stream` returns the same sample.
 */
export function generatorSample(rc: RecipeContext<any>, stream: string): GeneratorSample {
  return sharedInPhase(rc, `generator-sample/${stream}`, () => {
    const { xt, t } = rc.simulate(stream);
    return { x0Hat: rc.studentX0(xt, t), xt, t };
  });
}

/** A constant generator sample `sg(G_theta(...))` `[B, ...]` for the fake-score and discriminator phases. */
export function detachedGeneratorSample(rc: RecipeContext<any>, stream: string): tf.Tensor {
  return tf.tidy(() => {
    const { xt, t } = rc.simulate(stream);
    return detach(rc.studentX0(xt, t));
  });
}

/** Time range of a denoising GAN, as fractions of the schedule span. */
export interface GanTimeRange {
  tMin: number;
  tMax: number;
}

/**
 * Inputs of the discriminator objective (AVDM2 Eq. 6, DMD2's `guidance_cls_loss`): real data and a
 * constant generator sample, each diffused at its own per-sample `t ~ U[tMin, tMax]` (fractions of
 * the span) with fresh noise. Logits are thunks evaluated inside the loss (gradients reach the heads).
 */
export function discriminatorInputs(rc: RecipeContext<any>, role: string, range: GanTimeRange, stream: string): DiscriminatorObjectiveInputs {
  const d = rc.api<DenoisingDiscriminator>(role);
  const real = rc.data('x0');
  const fake = detachedGeneratorSample(rc, `${stream}/fake-sample`);
  const b = real.shape[0]!;
  const tReal = uniformTimes(rc, b, range.tMin, range.tMax, `${stream}/t-real`);
  const tFake = uniformTimes(rc, fake.shape[0]!, range.tMin, range.tMax, `${stream}/t-fake`);
  const epsReal = rc.randomNormal(real.shape, `${stream}/eps-real`);
  const epsFake = rc.randomNormal(fake.shape, `${stream}/eps-fake`);
  return {
    realLogits: () => d.logits(forwardDiffuse(rc.schedule, real, epsReal, tReal), tReal, rc.cond),
    fakeLogits: () => d.logits(forwardDiffuse(rc.schedule, fake, epsFake, tFake), tFake, rc.cond),
  };
}

/**
 * `D(alpha_t x0_hat + sigma_t eps', t)` of the generator sample (AVDM2 Eq. 7 / DMD2's
 * `gen_cls_loss`), a thunk: the gradient reaches `x0_hat` through the frozen teacher.
 */
export function generatorGanLogits(rc: RecipeContext<any>, role: string, x0Hat: tf.Tensor, range: GanTimeRange, stream: string): () => tf.Tensor {
  const d = rc.api<DenoisingDiscriminator>(role);
  const t = uniformTimes(rc, x0Hat.shape[0]!, range.tMin, range.tMax, `${stream}/t`);
  const eps = rc.randomNormal(x0Hat.shape, `${stream}/eps`);
  return () => d.logits(forwardDiffuse(rc.schedule, x0Hat, eps, t), t, rc.cond);
}

/**
 * Inputs of the fake score's denoising loss (DMD / DMD2 / AVDM2 Eq. 2) on a constant sample `x0`
 * `[N, ...]` at model times `t` `[N]`: `x_t = alpha_t x0 + sigma_t eps`, the fake model's raw output.
 * @param predict the fake model's raw prediction at `(x_t, t)` (differentiable in its weights)
 */
export function fakeScoreInputs(rc: RecipeContext<any>, x0: tf.Tensor, t: tf.Tensor, predict: (xt: tf.Tensor, t: tf.Tensor) => tf.Tensor, stream: string): FakeScoreDenoisingInputs {
  const eps = rc.randomNormal(x0.shape, `${stream}/eps`);
  const xt = forwardDiffuse(rc.schedule, x0, eps, t);
  return { x0, eps, t, schedule: rc.schedule, prediction: predict(xt, t), predictionType: rc.teacherModel.predictionType };
}

/**
 * Options of a {@link switchableLoss}: the inner loss's plus `enabled`. An option-less loss typed
 * `Record<string, never>` (the logistic GAN objectives) becomes `{ enabled?: boolean }`, so a
 * recipe can pass `{ weight, enabled }` to it.
 */
export type Switchable<O> = (string extends keyof O ? unknown : O) & { enabled?: boolean };

/**
 * `loss`, or nothing: with `enabled: false` the term reports 0 and computes nothing (its inputs
 * builder returns undefined). Lets a recipe option remove a term (DMD2 without GAN, AVDM2 "GAN
 * alone") without a second recipe.
 */
export function switchableLoss<O, I>(loss: LossDefinition<O, I>): LossDefinition<Switchable<O>, I | undefined> {
  return defineLoss<Switchable<O>, I | undefined>({
    name: loss.name,
    ...(loss.description === undefined ? {} : { description: loss.description }),
    ...(loss.equation === undefined ? {} : { equation: loss.equation }),
    defaults: { ...loss.defaults, enabled: true } as Switchable<O>,
    requires: loss.requires,
    trains: loss.trains,
    validate: (o) => {
      const { enabled: _e, ...rest } = o;
      loss.validate?.(rest as O);
    },
    compute: (inputs, o) => {
      const { enabled = true, ...rest } = o;
      if (!enabled || inputs === undefined) return { loss: tf.scalar(0) };
      return loss.compute(inputs, rest as O);
    },
  });
}

/**
 * A phase cadence that can be switched off: `every` when enabled, else a period no run reaches
 * (the trainer has no "off"; 2^30 steps with offset 2^30 - 1 never fires in practice).
 */
export const NEVER = 2 ** 30;
export function cadence<R extends RecipeOptions>(enabled: (o: R) => boolean, every: (o: R) => number = () => 1): { every: (o: R) => number; offset: (o: R) => number } {
  return { every: (o) => (enabled(o) ? every(o) : NEVER), offset: (o) => (enabled(o) ? 0 : NEVER - 1) };
}

/** A fraction of the schedule's time span. */
export const timeFraction = z.number().min(0).max(1);

/** Zod check `lo <= hi` on two option keys (the issue names `hi`). */
export function orderedRange(lo: string, hi: string) {
  return (o: Record<string, unknown>, ctx: z.RefinementCtx): void => {
    if ((o[lo] as number) > (o[hi] as number)) {
      ctx.addIssue({ code: 'custom', path: [hi], message: `>= ${lo} (${String(o[lo])}): a time range [${lo}, ${hi}] as fractions of the schedule span` });
    }
  };
}
