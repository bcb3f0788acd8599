import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import type * as tfTypes from '@tensorflow/tfjs-core';
import { makeOutput } from '../output.js';
import { intOption } from '../options.js';
import { parseAnalyticModel, pickSchedule, pickSolver, SCHEDULES, SOLVERS } from '../analytic-model.js';

/**
 * The conditioning frame of an image-to-video model from a decoded PNG: `[1, H, W, C]` values in
 * `range` (0 maps to `lo`, 255 to `hi`). Channels: a 3-channel model takes RGB / RGBA (alpha
 * dropped) or gray (replicated), a 1-channel model gray (alpha dropped). A PNG of another size
 * with the model's aspect ratio is resized (bilinear, half-pixel centres); any other size is a
 * ShapeError naming both.
 * @throws ConfigError (channels), ShapeError (size)
 */
export async function conditionFrameFromPng(png: { width: number; height: number; channels: 1 | 2 | 3 | 4; data: Uint8Array }, frameShape: readonly number[], range: readonly [number, number], what = '--image'): Promise<tfTypes.Tensor> {
  const tf = await import('@tensorflow/tfjs-core');
  const { ConfigError, ShapeError } = await import('@fewstep/core');
  const [H, W, C] = frameShape as [number, number, number];
  const gray = png.channels <= 2;
  if (!(C === 3 || (C === 1 && gray))) {
    throw new ConfigError(
      what,
      `a ${png.channels === 1 ? 'gray' : png.channels === 2 ? 'gray + alpha' : png.channels === 3 ? 'RGB' : 'RGBA'} PNG`,
      C === 1 ? 'a grayscale PNG (the model has 1 channel)' : `a PNG of a ${C}-channel frame: only 1-channel (gray) and 3-channel (RGB) models take images`,
      C === 1 ? 'convert the image to grayscale' : 'sample a pixel-space model, or pass the conditioning latent some other way',
    );
  }
  const [h, w] = [png.height, png.width];
  if (!(h === H && w === W) && Math.abs(w * H - h * W) > 1e-9 * w * H) {
    throw new ShapeError(what, [h, w, png.channels], `[${H}, ${W}, ${C}] (the model's frame), or any size with its aspect ratio ${W}:${H} (resized)`, `crop the image to ${W}:${H}`);
  }
  const [lo, hi] = range;
  return tf.tidy(() => {
    const px = tf.tensor(Float32Array.from(png.data), [h, w, png.channels]);
    const colour = gray ? tf.slice(px, [0, 0, 0], [h, w, 1]) : tf.slice(px, [0, 0, 0], [h, w, 3]);
    const channels = C === 3 && gray ? tf.tile(colour, [1, 1, 3]) : colour;
    const sized = h === H && w === W ? channels : tf.image.resizeBilinear(channels as tfTypes.Tensor3D, [H, W], false, true);
    return tf.expandDims(tf.add(tf.mul(sized, (hi - lo) / 255), lo), 0);
  });
}

export interface SampleInfo {
  model: string;
  /** `t2v`, or `i2v` (image-to-video: sampled given `image`, or `unconditional`). */
  task: 't2v' | 'i2v';
  /** The conditioning PNG of an i2v model (absent: t2v, or --unconditional). */
  image?: string;
  /** The augmentation level sigma_aug of the conditioning frame. */
  imageNoiseSigma?: number;
  solver: string;
  schedule: string;
  spacing: string;
  steps: number;
  nfe: number;
  n: number;
  seed: number;
  shape: number[];
  seconds: number;
  msPerSample: number;
  backend: string;
}

/** `fewstep sample`: draw N samples from a model with a solver, write them to DIR. */
export function sampleCommand(): Command {
  return new Command('sample')
    .description('draw samples from a model (a teacher or student directory, or analytic:SPEC: the exact Gaussian-mixture teacher); writes DIR/samples.safetensors and DIR/sample-info.json')
    .requiredOption('--model <model>', "a model directory (`fewstep distill` writes <out>/student), or 'analytic:gmm-video:modes=16,frames=8,size=8,channels=3,std=0.05,seed=7'")
    .option('--solver <name>', `solver: ${Object.keys(SOLVERS).join(' | ')}`, 'ddim')
    .option('--schedule <name>', `noise schedule for an analytic model: ${Object.keys(SCHEDULES).join(' | ')}`, 'vp')
    .option('--spacing <name>', "timestep spacing: discrete 'leading' | 'trailing' | 'linspace'; continuous 'uniform' | 'diffusers-flow' (default: trailing / uniform)")
    .option('--steps <k>', 'solver steps (default: 50 for teachers, the trained count for students)', intOption('--steps', 1))
    .option('--n <n>', 'number of samples', intOption('--n', 1), 256)
    .option('--batch <b>', 'samples per batch', intOption('--batch', 1), 64)
    .option('--seed <s>', 'seed of the initial noise', intOption('--seed', 1), 1)
    .requiredOption('--out <dir>', 'output directory')
    .option('--format <list>', 'comma-separated outputs besides samples.safetensors: png (frame strips), gif (animated grid), mp4 (needs ffmpeg)', '')
    .option('--range <lo,hi>', 'value range mapped to 0..255 in images', '-1,1')
    .option('--json', 'print one JSON object')
    .option('--image <png>', "image-to-video models: the conditioning first frame (a PNG of the model's frame size, or of its aspect ratio: resized; values mapped by --range)")
    .option('--image-noise <s>', 'image-to-video: augmentation level sigma_aug of the conditioning frame (c + s e per sample; default 0)', Number)
    .option('--unconditional', 'image-to-video: sample without a condition (the empty condition of classifier-free guidance)')
    .action(async (opts: { model: string; solver: string; schedule: string; spacing?: string; steps?: number; n: number; batch: number; format: string; range: string; seed: number; out: string; json?: boolean; image?: string; imageNoise?: number; unconditional?: boolean }) => {
      const out = makeOutput(Boolean(opts.json));
      const core = await import('@fewstep/core');
      const [lo, hi] = opts.range.split(',').map(Number) as [number, number];
      if (!(Number.isFinite(lo) && Number.isFinite(hi) && hi > lo)) throw new core.ConfigError('--range', opts.range, "'lo,hi' with lo < hi (e.g. -1,1)");
      if (opts.imageNoise !== undefined && !(Number.isFinite(opts.imageNoise) && opts.imageNoise >= 0)) throw new core.ConfigError('--image-noise', opts.imageNoise, 'a number >= 0');
      const engine = await core.initEngine();
      let denoiser: import('@fewstep/core').Denoiser<never> & { dispose?(): void };
      let task: 't2v' | 'i2v' = 't2v';
      /** Whether the model takes `imageNoiseSigma` (analytic: always; a backbone: when it embeds the level). */
      let takesNoiseLevel = true;
      let sampler: import('@fewstep/core').Sampler;
      let shape: readonly number[];
      let modelName: string;
      let spacing = opts.spacing ?? '';
      let solverName = opts.solver;
      let scheduleName = opts.schedule;
      let steps: number;
      if (opts.model.startsWith('analytic:')) {
        const gmm = parseAnalyticModel(core, opts.model);
        const schedule = pickSchedule(core, opts.schedule);
        spacing = opts.spacing ?? (schedule.time.kind === 'discrete' ? 'trailing' : 'uniform');
        steps = opts.steps ?? 50;
        sampler = pickSolver(core, opts.solver, { steps, spacing: spacing as never });
        task = gmm.toString().startsWith(core.GMM_I2V_PREFIX) ? 'i2v' : 't2v';
        denoiser = (task === 'i2v' ? core.conditionalMixtureDenoiser(gmm, schedule, 'sample') : core.mixtureDenoiser(gmm, schedule, 'sample')) as never;
        shape = gmm.shape;
        modelName = `analytic:${gmm.toString()}`;
      } else {
        const recipes = await import('@fewstep/recipes');
        const loaded = await recipes.loadModelDirectory(opts.model);
        task = loaded.task;
        takesNoiseLevel = (loaded.model.backbone.toConfig() as { imageCondition?: { noiseAugment?: boolean } | null }).imageCondition?.noiseAugment === true;
        const schedule = loaded.model.schedule;
        scheduleName = schedule.toConfig().type;
        shape = loaded.manifest.sampleShape;
        modelName = resolve(opts.model);
        if (loaded.student) {
          steps = opts.steps ?? loaded.student.steps;
          sampler = recipes.studentSampler(loaded.student, schedule, steps);
          solverName = `student:${loaded.student.sampler}`;
          spacing = 'student';
        } else {
          spacing = opts.spacing ?? (schedule.time.kind === 'discrete' ? 'trailing' : 'uniform');
          steps = opts.steps ?? 50;
          sampler = pickSolver(core, opts.solver, { steps, spacing: spacing as never });
        }
        denoiser = Object.assign(recipes.modelDenoiser(loaded.model), { dispose: loaded.dispose }) as never;
      }
      // Image-to-video: the conditioning frame (or explicitly none).
      let condition: tfTypes.Tensor | undefined;
      try {
        if (task === 'i2v') {
          if (opts.image === undefined && !opts.unconditional) {
            throw new core.ConfigError('--image', undefined, 'a PNG of the conditioning first frame (this is an image-to-video model: task i2v)', 'pass --image frame.png, or --unconditional to sample without a condition');
          }
          if (opts.image !== undefined && opts.unconditional) throw new core.ConfigError('--unconditional', true, 'not with --image', 'pass one of them');
          if (opts.unconditional && opts.imageNoise !== undefined) throw new core.ConfigError('--image-noise', opts.imageNoise, 'only with --image');
          if (opts.imageNoise !== undefined && opts.imageNoise > 0 && !takesNoiseLevel) throw new core.ConfigError('--image-noise', opts.imageNoise, "0 (the model's image conditioning does not embed the noise level)");
        } else if (opts.image !== undefined || opts.unconditional || opts.imageNoise !== undefined) {
          const flag = opts.image !== undefined ? '--image' : opts.unconditional ? '--unconditional' : '--image-noise';
          throw new core.ConfigError(flag, opts.image ?? true, 'only for image-to-video models (task i2v)', `${opts.model} generates from noise alone: drop ${flag}`);
        }
        if (opts.image !== undefined) {
          const { decodePng } = await import('@fewstep/data');
          let bytes: Uint8Array;
          try {
            bytes = readFileSync(opts.image);
          } catch {
            throw new core.ConfigError('--image', opts.image, 'a readable PNG file');
          }
          condition = await conditionFrameFromPng(decodePng(bytes, opts.image), shape.slice(-3), [lo, hi]);
        }
      } catch (e) {
        denoiser.dispose?.();
        throw e;
      }
      const sigmaAug = opts.imageNoise ?? 0;
      const D = shape.reduce((a, b) => a * b, 1);
      const rng = core.seededRng(opts.seed);
      const augRng = core.seededRng(opts.seed + 7919);
      const dir = resolve(opts.out);
      mkdirSync(dir, { recursive: true });
      const values = new Float32Array(opts.n * D);
      let nfe = 0;
      const start = performance.now();
      const tf = await import('@tensorflow/tfjs-core');
      try {
        for (let i = 0; i < opts.n; i += opts.batch) {
          const b = Math.min(opts.batch, opts.n - i);
          const xT = core.randomNormal([b, ...shape], rng);
          let cond: Record<string, tfTypes.Tensor> | undefined;
          if (condition) {
            const tiled = tf.tile(condition, [b, 1, 1, 1]);
            cond = { image: sigmaAug > 0 ? tf.add(tiled, tf.mul(core.randomNormal(tiled.shape, augRng), sigmaAug)) : tiled, ...(takesNoiseLevel ? { imageNoiseSigma: tf.fill([b], sigmaAug) } : {}) };
            if (sigmaAug > 0) tiled.dispose();
          }
          const result = sampler.sample(denoiser, xT, { rng, ...(cond ? { cond: cond as never } : {}) });
          values.set(await result.sample.data(), i * D);
          nfe = result.nfe;
          tf.dispose([xT, result.sample, ...Object.values(cond ?? {})]);
          out.progress(`sample: ${Math.min(i + b, opts.n)}/${opts.n} (${sampler.name}, ${steps} steps)`);
        }
      } finally {
        denoiser.dispose?.();
      }
      const conditionValues = condition ? ((await condition.data()) as Float32Array) : undefined;
      const conditionShape = condition?.shape;
      condition?.dispose();
      const seconds = (performance.now() - start) / 1000;
      const info: SampleInfo = {
        model: modelName,
        task,
        ...(opts.image !== undefined ? { image: resolve(opts.image), imageNoiseSigma: sigmaAug } : {}),
        solver: solverName,
        schedule: scheduleName,
        spacing,
        steps,
        nfe,
        n: opts.n,
        seed: opts.seed,
        shape: [opts.n, ...shape],
        seconds,
        msPerSample: (seconds * 1000) / opts.n,
        backend: engine.backend,
      };
      // The conditioning frame (clean, as given) is stored next to the samples as `condition` [1, H, W, C].
      await core.writeSafetensors(
        join(dir, 'samples.safetensors'),
        { samples: { dtype: 'F32', shape: info.shape, data: values }, ...(conditionValues ? { condition: { dtype: 'F32' as const, shape: conditionShape!, data: conditionValues } } : {}) },
        { metadata: Object.fromEntries(Object.entries(info).map(([k, v]) => [k, JSON.stringify(v)])) },
      );
      writeFileSync(join(dir, 'sample-info.json'), JSON.stringify(info, null, 2) + '\n');
      const formats = opts.format.split(',').map((f) => f.trim()).filter(Boolean);
      const allowedFormats = ['png', 'gif', 'mp4', 'safetensors'];
      for (const f of formats) if (!allowedFormats.includes(f)) throw new core.ConfigError('--format', f, allowedFormats.join(', '));
      const files: string[] = [join(dir, 'samples.safetensors')];
      if (formats.some((f) => f !== 'safetensors')) {
        const evalPkg = await import('@fewstep/eval');
        // With a condition, the first video of the grid / strip is the conditioning frame held still.
        const held = conditionValues && shape.length === 4 ? 1 : 0;
        const shown = Math.min(opts.n, 16 - held);
        const frameSize = D / (shape[0] ?? 1);
        const view = new Float32Array((shown + held) * D);
        if (held) for (let f = 0; f < shape[0]!; f++) view.set(conditionValues!, f * frameSize);
        view.set(values.subarray(0, shown * D), held * D);
        const shape5 = [shown + held, ...shape];
        if (shape5.length !== 5) throw new core.ConfigError('--format', opts.format, 'images need videos [N, F, H, W, C]');
        if (formats.includes('png')) {
          writeFileSync(join(dir, 'samples.png'), evalPkg.videoStripPng(view, shape5, { range: [lo, hi] }));
          files.push(join(dir, 'samples.png'));
        }
        const grid = evalPkg.videoGridFrames(view, shape5, { range: [lo, hi] });
        if (formats.includes('gif')) {
          writeFileSync(join(dir, 'samples.gif'), evalPkg.encodeGif(grid.frames, grid.width, grid.height));
          files.push(join(dir, 'samples.gif'));
        }
        if (formats.includes('mp4')) {
          if (evalPkg.writeMp4(join(dir, 'samples.mp4'), grid.frames, grid.width, grid.height)) files.push(join(dir, 'samples.mp4'));
          else out.progress('sample: ffmpeg not found, no MP4 written (apt-get install ffmpeg)');
        }
      }
      out.text(`wrote ${opts.n} samples (NFE ${nfe}, ${info.msPerSample.toFixed(2)} ms/sample on ${engine.backend}) to ${join(dir, 'samples.safetensors')}`);
      out.result({ out: dir, files, ...info });
    });
}
