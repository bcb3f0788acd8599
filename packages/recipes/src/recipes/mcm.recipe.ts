/**
 * @file MCM: motion consistency model (Zhai et al. 2024), a single-stage video distillation on a
 * video LCM with disentangled motion distillation, a sparse-frame image discriminator and mixed
 * trajectory distillation. Videos are `[B, F, H, W, C]` (F >= 2), frames `[B*l, H, W, C]`.
 *
 * Per step (phases in this order):
 * 1. `generator` (LoRA rank 64, or full fine-tuning; Adam lr 5e-6). A trajectory kind is
 *    - real: `x_{t_{n+1}} = alpha x0 + sigma eps` from the batch's `x0` (Eq. 3), or
 *    - generated (Eq. 7): `x_{t_{n+1}} = alpha f_theta(x_T, T) + sigma eps`, the student's own
 *      one-step sample (no gradient) re-noised;
 *    on it: an adjacent pair `t_{n+1} > t_n` of the teacher's `solverSteps`-step DDIM grid (LCM's,
 *    `adjacentPair`), one teacher DDIM step to `x^phi_{t_n}` (with CFG, w ~ U[guidanceRange] per
 *    step in `guidanceFormula`, when the batch has conditioning: MCM App. C.2 following LCM), and
 *    - `L_MCD = d(M(f_theta(x_{t_{n+1}}, t_{n+1})), M-(f_theta-(x^phi_{t_n}, t_n)))` (Eq. 6 / 8,
 *      pseudo-Huber d, EMA target theta^-), M one of `MOTION_REPRESENTATIONS` (Table 5);
 *    - `L_adv^G = -mean D(l sparse frames of f_theta(x_{t_{n+1}}, t_{n+1}))` (Eq. 4, hinge).
 *    Eq. 9, `lambda_real (L_MCD + lambda_adv L_adv) + (1 - lambda_real)(L_MCD^gen + lambda_adv
 *    L_adv^gen)`, is estimated by `trajectoryMixing`: `'per-step'` (default; the authors' code,
 *    `--cd_pred_x0_portion 0.5` in yhZhai/mcm: one kind per step, generated with probability
 *    1 - lambda_real, the same expectation at half the cost) or `'weighted-sum'` (both kinds every
 *    step, weighted as Eq. 9 is written). lambda_real = 1 never draws the generated kind and
 *    lambda_real = 0 never reads `x0` in either mode.
 * 2. `discriminator` (heads only; Adam lr 5e-5): hinge `relu(1 - D(real)) + relu(1 + D(fake))`
 *    (Eq. 5) with real = the batch's `images` `[N, H, W, C]` (the paper's high-quality image set)
 *    when present, else l sparse frames of the batch's `x0` (the paper's setting without an extra
 *    image set, `--disc_gt_data webvid`). Fake = the l sparse frames of the student output
 *    `f_theta(x_{t_{n+1}}, t_{n+1})` the generator phase of the same step computed (before its
 *    update, as the authors' code feeds D `model_pred.detach()`), of the step's trajectory kind
 *    (with `'weighted-sum'`: one kind, drawn with probability lambda_real). When D runs without a
 *    generator phase in its step, it draws the fakes itself the same way.
 *
 * The learnable motion head (Table 5's best, MCM Fig. 4: a 2-layer MLP on the student output, no
 * temporal layers; here `MotionHead`, a per-pixel MLP on frame differences) is trained WITH the
 * student in the generator phase: its variables `motionHead.{w1,b1,w2,b2}` live in the generator
 * role's network (trainable also under LoRA), so the generator's EMA `generatorEma` carries the
 * EMA target head `M-`, the generator's checkpoint carries the head, and the exported student
 * drops it ("discarded at inference"). Its learning rate is the generator's (the paper is silent).
 *
 * The student is a consistency model (`f = cSkip x + cOut x0_hat`, LCM boundary condition)
 * sampled with consistency multistep sampling in `steps` steps. Batch: `x0` `[B, F, H, W, C]`,
 * optional `images` `[N, H, W, C]` (N a multiple of B when text-conditioned) and conditioning keys.
 * Issue 8 adds a separate styled image set as its own data source.
 *
 * Image-to-video teachers (the paper distils text-to-video models; our choices): the batch's
 * `image` / `imageNoiseSigma` reach the teacher, the student, its EMA and the one-step samples of
 * the generated trajectories through `rc.cond`; CFG's unconditional branch drops the image
 * (`emptyConditioning`). The motion representation M is applied to the whole clip, conditioning
 * frame position 0 included, so the first motion step is the one away from the condition; D's l
 * sparse frames are drawn from all F frames (frame 0 included) of the student output and of the
 * real clip, and with `discriminatorFeatures: 'teacher'` each frame is featurised under its own
 * clip's condition (`perFrameConditioning`). Not implemented: the authors'
 * R1-style penalty on D (`--disc_lambda_r1 1e-5`, omitted in the paper) and their gradient
 * clipping at 10.
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { ConfigError, Network, defineLoss, forwardDiffuse, kStepTimesteps, type DenoiseOptions, type GuidanceFormula } from '@fewstep/core';
import { hingeDiscriminatorLoss, hingeGeneratorLoss, sampleSparseFrames } from '@fewstep/loss-adversarial';
import {
  ICT_HUBER_C,
  MOTION_REPRESENTATIONS,
  MotionHead,
  generatedTrajectoryStart,
  mixedTrajectoryLoss,
  motionConsistencyLoss,
  teacherSolve,
  type MixedTrajectoryOptions,
  type MotionConsistencyOptions,
} from '@fewstep/loss-consistency';
import { defineRecipe, phase, use, type DistillRecipe } from '../runtime/define-recipe.js';
import { emptyConditioning } from '../runtime/conditioning.js';
import type { Conditioning } from '../runtime/diffusion-model.js';
import { detach, type RecipeContext } from '../runtime/recipe-context.js';
import { customRole, fromTeacher, type RoleEnv, type RoleSpec } from '../runtime/roles.js';
import { adjacentPair } from './lcm.recipe.js';
import {
  MCM_DINOV2_PRESETS,
  MCM_FEATURE_SOURCES,
  buildMcmDiscriminator,
  criticInputSize,
  dinov2FeatureSource,
  perFrameConditioning,
  randomDinov2Critic,
  teacherFeatureSource,
  teacherTextConditioning,
  type McmDiscriminator,
  type McmFeatureSource,
} from './mcm-discriminator.js';

const positiveInts = z.array(z.number().int().min(1)).min(1);
const GUIDANCE_FORMULA_NAMES = ['cond + w * (cond - uncond)', 'uncond + w * (cond - uncond)'] as const satisfies readonly GuidanceFormula[];

/** How Eq. 9's two trajectory kinds are combined (see the file comment). */
export const MCM_TRAJECTORY_MIXING = ['per-step', 'weighted-sum'] as const;
export type McmTrajectoryMixing = (typeof MCM_TRAJECTORY_MIXING)[number];

export const mcmOptions = z
  .strictObject({
    /** Student sampling steps (MCM evaluates 1, 2, 4, 8). */
    steps: z.number().int().min(1).max(8).default(4),
    /** The teacher DDIM grid N (MCM: DDIM with 50 steps as the ODE solver). */
    solverSteps: z.number().int().min(2).max(1000).default(50),
    /** EMA decay mu of the target theta^- (and of the motion head); MCM is silent, LCM uses 0.95. */
    emaDecay: z.number().min(0).max(1).default(0.95),
    /** Motion representation M of Eq. 6 (MCM Table 5: the learnable head is best). */
    motion: z.enum(MOTION_REPRESENTATIONS).default('learnable'),
    /** Hidden width of the learnable motion head (MCM is silent; `MotionHead`'s default). */
    motionHidden: z.number().int().min(1).default(64),
    /** Distance d: pseudo-Huber (MCM Sec. 2, following LCM / AnimateLCM) or squared L2. */
    distance: z.enum(['pseudo-huber', 'l2']).default('pseudo-huber'),
    /** Pseudo-Huber c per sqrt(D) (iCT's 0.00054; MCM gives no delta). */
    huberC: z.number().positive().default(ICT_HUBER_C),
    /** lambda_real of Eq. 9 (MCM: 0.5; Table 6 compares 0, 0.5, 1). */
    lambdaReal: z.number().min(0).max(1).default(0.5),
    /** Estimator of Eq. 9: one trajectory kind per step (the authors' code) or both, weighted. */
    trajectoryMixing: z.enum(MCM_TRAJECTORY_MIXING).default('per-step'),
    /** lambda_adv of Eq. 9 (MCM: 1). */
    lambdaAdv: z.number().min(0).default(1),
    /** l, the sparsely sampled frames per video seen by D (Eq. 4; the paper gives no value, the authors' code uses 2). */
    sparseFrames: z.number().int().min(1).default(2),
    /** Frozen feature source of D: a (random-init) DINOv2 (the paper) or the teacher's taps at t = 0. */
    discriminatorFeatures: z.enum(MCM_FEATURE_SOURCES).default('dinov2'),
    /** DINOv2 shape: ViT-S/14 (MCM App. C.1, following ADD) or a tiny ViT for CPU runs. */
    dinov2: z.enum(MCM_DINOV2_PRESETS).default('vit-s14'),
    /** DINOv2 hidden states read by the heads (MCM App. C.1: layers 2, 5, 8, 11). */
    dinov2Layers: z.array(z.number().int()).min(1).default([2, 5, 8, 11]),
    /** Side of the critic input (ADD feeds DINOv2 224 x 224); null = the frame size rounded up to the patch size. */
    dinov2Size: z.number().int().min(1).nullable().default(224),
    /** Teacher taps for `discriminatorFeatures: 'teacher'`; null = every tap of the teacher. */
    teacherTaps: z.array(z.string().min(1)).min(1).nullable().default(null),
    /** Widths of each head's 4x4 stride-2 blocks (MCM App. C.1 points to StyleGAN-T / ADD; our choice). */
    headChannels: positiveInts.default([64, 64]),
    /**
     * Teacher CFG scale range [min, max] in `guidanceFormula`, w ~ U per step when the batch has
     * conditioning; null = no CFG. MCM App. C.2: [5, 15] for ModelScopeT2V (Tables 4-6), [7, 8]
     * for AnimateDiff, in LCM's `cond + w (cond - uncond)` (the authors' code).
     */
    guidanceRange: z
      .tuple([z.number(), z.number()])
      .refine(([a, b]) => a <= b, { message: 'guidanceRange [min, max] needs min <= max' })
      .nullable()
      .default([5, 15]),
    /** The CFG formula `guidanceRange` is written in (LCM's, as MCM's code; core's default is the other). */
    guidanceFormula: z.enum(GUIDANCE_FORMULA_NAMES).default('cond + w * (cond - uncond)'),
    /** LoRA rank of the student (MCM: 64, following LCM / AnimateLCM); null = full fine-tuning. */
    loraRank: z.number().int().min(1).nullable().default(64),
    /** Student learning rate (MCM: 5e-6, Adam). */
    lr: z.number().positive().default(5e-6),
    /** Discriminator-head learning rate (MCM: 5e-5, Adam). */
    discriminatorLr: z.number().positive().default(5e-5),
  });
export type McmOptions = z.infer<typeof mcmOptions>;

/** Names of the learnable motion head's variables inside the generator network. */
export const MOTION_HEAD_PREFIX = 'motionHead';
const HEAD_PARAMS = ['w1', 'b1', 'w2', 'b2'] as const;

/**
 * Adds a freshly initialised `MotionHead` (C -> hidden -> C) to `net` as trainable variables
 * `motionHead.{w1,b1,w2,b2}`.
 */
export function attachMotionHead(net: Network, channels: number, hidden: number, seed: number): void {
  const head = MotionHead.create({ channels, hidden, seed });
  for (const n of HEAD_PARAMS) net.adopt(`${MOTION_HEAD_PREFIX}.${n}`, head.network.detach(n));
  head.dispose();
}

const headViews = new WeakMap<Network, MotionHead>();

/**
 * The motion head stored in `net` (the generator or its EMA), as a `MotionHead` sharing the
 * network's variables (gradients and EMA updates reach them). Never dispose the view's network.
 */
export function motionHeadOf(net: Network, channels: number): MotionHead {
  let head = headViews.get(net);
  if (head === undefined) {
    if (!net.has(`${MOTION_HEAD_PREFIX}.w1`)) {
      throw new ConfigError(`network '${net.name}'`, 'no motion head', `variables ${MOTION_HEAD_PREFIX}.{w1,b1,w2,b2}`, "build the generator with motion: 'learnable'");
    }
    const view = new Network(`${net.name}.${MOTION_HEAD_PREFIX}`);
    for (const n of HEAD_PARAMS) view.adopt(n, net.variable(`${MOTION_HEAD_PREFIX}.${n}`));
    head = new MotionHead(view, channels);
    headViews.set(net, head);
  }
  return head;
}

/** The generator: `fromTeacher` (LoRA when `loraRank` is set) plus the motion head for `'learnable'`. */
function mcmGenerator(): RoleSpec<McmOptions> {
  const base = fromTeacher<McmOptions>({ lora: (o) => (o.loraRank === null ? undefined : { rank: o.loraRank }) });
  return (env: RoleEnv<McmOptions>) => {
    const frames = env.sampleShape[0] ?? 0;
    if (env.sampleShape.length !== 4 || frames < 2) {
      throw new ConfigError('sampleShape', env.sampleShape, '[F, H, W, C] with F >= 2', 'MCM distils motion between consecutive frames: use a video teacher');
    }
    const inst = base(env);
    if (env.options.motion === 'learnable') attachMotionHead(inst.net, env.sampleShape[3]!, env.options.motionHidden, env.seed);
    return {
      ...inst,
      // The student without the motion head (and with LoRA merged): `W + (alpha / r) A B`.
      exportNetwork: () => {
        const out = (env.carried ?? env.teacher.backbone.net).clone(`${env.role}.export`);
        const weights = new Map<string, tf.Tensor>();
        const owned: tf.Tensor[] = [];
        for (const [name] of out.variables()) {
          if (inst.net.lowRankDelta(name) !== undefined) {
            const k = inst.net.kernel(name);
            owned.push(k);
            weights.set(name, k);
          } else weights.set(name, inst.net.variable(name));
        }
        out.setWeights(weights);
        for (const k of owned) k.dispose();
        return out;
      },
    };
  };
}

/** A feature source factory for the discriminator role (plug a loaded DINOv2 here). */
export type McmFeatureSourceFactory = (env: RoleEnv<McmOptions>) => McmFeatureSource;

/** The built-in feature sources: random-init DINOv2 or the teacher's taps (option `discriminatorFeatures`). */
export function defaultMcmFeatureSource(env: RoleEnv<McmOptions>): McmFeatureSource {
  const [, h, w, c] = env.sampleShape as [number, number, number, number];
  const o = env.options;
  if (o.discriminatorFeatures === 'teacher') return teacherFeatureSource({ teacher: env.teacher, taps: o.teacherTaps, frameShape: [h, w, c] });
  const patch = o.dinov2 === 'tiny' ? 2 : 14;
  const size = criticInputSize([h, w], patch, o.dinov2Size);
  const critic = randomDinov2Critic(o.dinov2, size, env.seed + 1, `${env.role}.dinov2`);
  try {
    return dinov2FeatureSource({ critic, layers: o.dinov2Layers, channels: c, size });
  } catch (e) {
    critic.dispose();
    throw e;
  }
}

function mcmDiscriminatorRole(featureSource: McmFeatureSourceFactory): RoleSpec<McmOptions> {
  return customRole<McmOptions, McmDiscriminator>((env) => {
    const frames = env.sampleShape[0]!;
    if (env.options.sparseFrames > frames) {
      throw new ConfigError('sparseFrames', env.options.sparseFrames, `an integer in [1, ${frames}] (F)`, 'D sees l of the F frames of each video');
    }
    const source = featureSource(env);
    const net = new Network(env.role, { seed: env.seed });
    try {
      const text = teacherTextConditioning(env.teacher);
      const d = buildMcmDiscriminator(net, source, { headChannels: env.options.headChannels, ...(text === undefined ? {} : { text }) });
      return { net, api: d, dispose: () => d.dispose() };
    } catch (e) {
      source.dispose?.();
      net.dispose();
      throw e;
    }
  });
}

/** The teacher's denoise options: conditioning and, when configured, the CFG range with a null (zero) embedding. */
function teacherOptions(rc: RecipeContext<McmOptions>, stream: string): DenoiseOptions<Conditioning> {
  const cond = rc.cond;
  if (cond === undefined) return {};
  const range = rc.options.guidanceRange;
  if (range === null) return { cond };
  // No empty-prompt embedding comes with a batch: the unconditional branch uses zero text
  // embeddings and drops the conditioning frame of image-to-video batches (the backbone's null
  // image embedding); masks and the image noise level unchanged. Our choice.
  return { cond, guidance: { uncond: emptyConditioning(cond), scale: { min: range[0], max: range[1] }, formula: rc.options.guidanceFormula, rng: rc.rng(`${stream}/w`) } };
}

/** Options of the motion-consistency loss from the recipe options. */
function mcdOptions(o: McmOptions): MotionConsistencyOptions {
  return { ...motionConsistencyLoss.defaults, representation: o.motion, distance: o.distance, huberC: o.huberC };
}

/** MCM Eq. 7: the student's one-step sample `f_theta(x_T, T)` from fresh noise (a constant). */
export function oneStepSample(rc: RecipeContext<McmOptions>, stream: string): tf.Tensor {
  const top = kStepTimesteps(rc.schedule, 1)[0] as number;
  const xT = rc.randomNormal([rc.batchSize, ...rc.sampleShape], `${stream}/xT`);
  try {
    return tf.tidy(() => detach(rc.studentX0(xT, top)));
  } finally {
    xT.dispose();
  }
}

/** The start `x_{t}` of a trajectory kind at model time `t` (Eq. 3 real data, Eq. 7 generated). */
function trajectoryStart(rc: RecipeContext<McmOptions>, kind: 'real' | 'gen', t: number): tf.Tensor {
  const stream = `mcm/${kind}`;
  if (kind === 'real') {
    const x0 = rc.data('x0');
    return tf.tidy(() => forwardDiffuse(rc.schedule, x0, rc.randomNormal(x0.shape, `${stream}/eps`), t));
  }
  const x0Gen = oneStepSample(rc, stream);
  try {
    return tf.tidy(() => generatedTrajectoryStart(rc.schedule, x0Gen, rc.randomNormal(x0Gen.shape, `${stream}/eps`), t));
  } finally {
    x0Gen.dispose();
  }
}

/** `L_MCD` and `L_adv^G` of one trajectory kind (both differentiable in the generator). */
export interface McmBranchLosses {
  mcd: tf.Scalar;
  adv?: tf.Scalar;
}

function branchLosses(rc: RecipeContext<McmOptions>, kind: 'real' | 'gen', stashForD: boolean): McmBranchLosses {
  const o = rc.options;
  const stream = `mcm/${kind}`;
  const { tFrom, tTo } = adjacentPair(rc, o.solverSteps, `${stream}/t`);
  const xFrom = trajectoryStart(rc, kind, tFrom);
  const target = tf.tidy(() => {
    const xPhi = teacherSolve(rc.teacher, xFrom, tFrom, tTo, 1, teacherOptions(rc, stream));
    return detach(rc.studentX0(xPhi, tTo, 'generatorEma'));
  });
  const pred = rc.studentX0(xFrom, tFrom);
  const channels = rc.sampleShape[3]!;
  const heads =
    o.motion === 'learnable'
      ? {
          motionHead: (v: tf.Tensor) => motionHeadOf(rc.networks.generator!, channels).apply(v),
          targetMotionHead: (v: tf.Tensor) => motionHeadOf(rc.networks.generatorEma!, channels).apply(v),
        }
      : {};
  const mcd = motionConsistencyLoss.compute({ pred, target, ...heads }, mcdOptions(o)).loss;
  const d = rc.api<McmDiscriminator>('discriminator');
  const { frames } = sampleSparseFrames(pred, o.sparseFrames, rc.rng(`${stream}/frames`));
  // The D phase of this step trains on these frames (the authors' code feeds D the step's
  // generator output): no second student forward there.
  if (stashForD) d.stash(rc.step, frames);
  if (o.lambdaAdv === 0) return { mcd };
  const cond = perFrameConditioning(rc.cond, frames.shape[0]!);
  const adv = hingeGeneratorLoss.compute({ fakeLogits: () => d.logits(frames, cond) }, { margin: 1 }).loss;
  return { mcd, adv };
}

/** Inputs of {@link mcmGeneratorLoss}: the branches that ran (a skipped branch has weight 0). */
export interface McmGeneratorInputs {
  real?: McmBranchLosses;
  generated?: McmBranchLosses;
}

/** MCM Eq. 9 via `mixedTrajectoryLoss`, with each branch's `L_MCD` / `L_adv` as metrics. */
export const mcmGeneratorLoss = defineLoss<MixedTrajectoryOptions, McmGeneratorInputs>({
  name: 'mcm:generator',
  description: 'lambda_real (L_MCD + lambda_adv L_adv) + (1 - lambda_real)(L_MCD^gen + lambda_adv L_adv^gen)',
  equation: 'MCM Eq. 4, 6-9',
  defaults: mixedTrajectoryLoss.defaults,
  requires: ['generator', 'generatorEma', 'discriminator', 'teacher'],
  trains: 'generator',
  validate: (o) => mixedTrajectoryLoss.validate?.(o),
  compute: ({ real, generated }, options) =>
    tf.tidy(() => {
      if (real === undefined && generated === undefined) throw new ConfigError('mcm:generator inputs', 'no branch', 'real and / or generated losses');
      // A single drawn kind (per-step mixing, or lambda_real in {0, 1}) carries the whole weight,
      // so that E[loss] is Eq. 9; with both kinds, Eq. 9's weights apply.
      const lambdaReal = real !== undefined && generated !== undefined ? options.lambdaReal : real !== undefined ? 1 : 0;
      const zero = tf.scalar(0);
      const out = mixedTrajectoryLoss.compute(
        {
          real: real?.mcd ?? zero,
          generated: generated?.mcd ?? zero,
          ...(real?.adv === undefined ? {} : { realAdversarial: real.adv }),
          ...(generated?.adv === undefined ? {} : { generatedAdversarial: generated.adv }),
        },
        { ...options, lambdaReal },
      );
      // Per-kind totals only for the kinds drawn this step (an undrawn kind is not a zero loss).
      const metrics: Record<string, tf.Scalar> = {};
      for (const [k, v] of Object.entries(out.metrics ?? {})) {
        if ((k === 'real' && real === undefined) || (k === 'generated' && generated === undefined)) v.dispose();
        else metrics[k] = v;
      }
      const add = (key: string, v: tf.Scalar | undefined) => {
        if (v !== undefined) metrics[key] = tf.clone(v);
      };
      add('mcdReal', real?.mcd);
      add('advReal', real?.adv);
      add('mcdGenerated', generated?.mcd);
      add('advGenerated', generated?.adv);
      return { loss: out.loss, metrics };
    }),
});

/**
 * The trajectory kind of this step (probability lambda_real of `real`); lambda_real 0 / 1 draw
 * nothing.
 */
export function drawTrajectoryKind(rc: RecipeContext<McmOptions>, stream: string): 'real' | 'gen' {
  const { lambdaReal } = rc.options;
  if (lambdaReal === 1) return 'real';
  if (lambdaReal === 0) return 'gen';
  return rc.rng(stream)() < lambdaReal ? 'real' : 'gen';
}

/**
 * The generator term's inputs: the kinds this step draws (never one with weight 0). The student
 * frames of one kind (the drawn one; with both, one drawn with probability lambda_real) are left
 * for the D phase.
 */
export function mcmGeneratorInputs(rc: RecipeContext<McmOptions>): McmGeneratorInputs {
  const { lambdaReal, trajectoryMixing } = rc.options;
  if (trajectoryMixing === 'per-step' || lambdaReal === 0 || lambdaReal === 1) {
    return drawTrajectoryKind(rc, 'mcm/kind') === 'real' ? { real: branchLosses(rc, 'real', true) } : { generated: branchLosses(rc, 'gen', true) };
  }
  const dKind = drawTrajectoryKind(rc, 'mcm/d-kind');
  return { real: branchLosses(rc, 'real', dKind === 'real'), generated: branchLosses(rc, 'gen', dKind === 'gen') };
}

/** The discriminator term's inputs (Eq. 5): real images / frames vs constant student frames. */
export function mcmDiscriminatorInputs(rc: RecipeContext<McmOptions>): { realLogits: () => tf.Tensor; fakeLogits: () => tf.Tensor } {
  const o = rc.options;
  const d = rc.api<McmDiscriminator>('discriminator');
  let fake = d.stashed(rc.step);
  if (fake === undefined) {
    // No generator phase ran this step (D trained alone): draw the fakes here.
    const kind = drawTrajectoryKind(rc, 'mcm/d/kind');
    const { tFrom } = adjacentPair(rc, o.solverSteps, `mcm/d/${kind}/t`);
    fake = tf.tidy(() => {
      const xt = trajectoryStart(rc, kind, tFrom);
      return detach(sampleSparseFrames(rc.studentX0(xt, tFrom), o.sparseFrames, rc.rng(`mcm/d/${kind}/frames`)).frames);
    });
  }
  const images = rc.batch.images;
  let real: tf.Tensor;
  if (images !== undefined) {
    const [, h, w, c] = rc.sampleShape;
    if (images.rank !== 4 || images.shape[1] !== h || images.shape[2] !== w || images.shape[3] !== c) {
      throw new ConfigError('batch images', images.shape, `[N, ${h}, ${w}, ${c}] (frames of the sample shape)`, 'give the image set at the video frame size');
    }
    real = images;
  } else real = sampleSparseFrames(rc.data('x0'), o.sparseFrames, rc.rng('mcm/d/real-frames')).frames;
  const realCond = perFrameConditioning(rc.cond, real.shape[0]!);
  const fakeCond = perFrameConditioning(rc.cond, fake.shape[0]!);
  return { realLogits: () => d.logits(real, realCond), fakeLogits: () => d.logits(fake, fakeCond) };
}

/** Options of {@link createMcmRecipe}. */
export interface CreateMcmOptions {
  /** @default 'recipe:mcm' */
  name?: string;
  /** D's frozen feature source (e.g. a loaded DINOv2); overrides `discriminatorFeatures`. */
  featureSource?: McmFeatureSourceFactory;
}

/** An MCM recipe, optionally with a custom discriminator feature source. */
export function createMcmRecipe(custom: CreateMcmOptions = {}): DistillRecipe<McmOptions> {
  return defineRecipe<McmOptions>({
    name: custom.name ?? 'recipe:mcm',
    description: 'Motion consistency model: LCM on motion representations + sparse-frame image GAN + mixed real / generated trajectories',
    paper: 'MCM (Zhai et al. 2024) Eq. 3-9, App. C',
    schema: mcmOptions,
    presets: {
      paper: {},
      // 2-core CPU: full fine-tuning (the tiny DiT is narrower than rank 64), a tiny random DINOv2
      // on the frames as they are with one tapped layer (one head), small heads and motion head, lrs in the benchmark's Adam
      // range, mild CFG (LCM's w in [0, 1], i.e. scale 1-2) for a tiny conditional teacher.
      tiny: {
        loraRank: null,
        lr: 1e-4,
        discriminatorLr: 5e-4,
        dinov2: 'tiny',
        dinov2Layers: [2],
        dinov2Size: null,
        headChannels: [32],
        motionHidden: 16,
        guidanceRange: [0, 1],
      },
    },
    data: 'real',
    roles: { generator: mcmGenerator(), discriminator: mcmDiscriminatorRole(custom.featureSource ?? defaultMcmFeatureSource) },
    ema: [{ role: 'generatorEma', source: 'generator', decay: (o) => o.emaDecay }],
    phases: [
      phase<McmOptions>('generator', [use(mcmGeneratorLoss, mcmGeneratorInputs, (o) => ({ lambdaReal: o.lambdaReal, lambdaAdv: o.lambdaAdv }))], {
        optimizer: (o) => ({ type: 'adam', lr: o.lr }),
      }),
      phase<McmOptions>('discriminator', [use(hingeDiscriminatorLoss, mcmDiscriminatorInputs, { margin: 1 })], {
        optimizer: (o) => ({ type: 'adam', lr: o.discriminatorLr }),
      }),
    ],
    student: (o) => ({ parameterization: 'consistency', sampler: 'multistep', steps: o.steps }),
  });
}

/** MCM with the built-in discriminator feature sources. */
export const mcm = createMcmRecipe();
