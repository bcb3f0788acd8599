import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { makeOutput } from '../output.js';
import { intOption } from '../options.js';
import { parseAnalyticModel, pickSchedule, pickSolver, SCHEDULES, SOLVERS } from '../analytic-model.js';

export interface SampleInfo {
  model: string;
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
    .action(async (opts: { model: string; solver: string; schedule: string; spacing?: string; steps?: number; n: number; batch: number; format: string; range: string; seed: number; out: string; json?: boolean }) => {
      const out = makeOutput(Boolean(opts.json));
      const core = await import('@fewstep/core');
      const engine = await core.initEngine();
      let denoiser: import('@fewstep/core').Denoiser<never> & { dispose?(): void };
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
        denoiser = core.mixtureDenoiser(gmm, schedule, 'sample') as never;
        shape = gmm.shape;
        modelName = `analytic:${gmm.toString()}`;
      } else {
        const recipes = await import('@fewstep/recipes');
        const loaded = await recipes.loadModelDirectory(opts.model);
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
      const D = shape.reduce((a, b) => a * b, 1);
      const rng = core.seededRng(opts.seed);
      const dir = resolve(opts.out);
      mkdirSync(dir, { recursive: true });
      const values = new Float32Array(opts.n * D);
      let nfe = 0;
      const start = performance.now();
      try {
        for (let i = 0; i < opts.n; i += opts.batch) {
          const b = Math.min(opts.batch, opts.n - i);
          const xT = core.randomNormal([b, ...shape], rng);
          const result = sampler.sample(denoiser, xT, { rng });
          values.set(await result.sample.data(), i * D);
          nfe = result.nfe;
          xT.dispose();
          result.sample.dispose();
          out.progress(`sample: ${Math.min(i + b, opts.n)}/${opts.n} (${sampler.name}, ${steps} steps)`);
        }
      } finally {
        denoiser.dispose?.();
      }
      const seconds = (performance.now() - start) / 1000;
      const info: SampleInfo = {
        model: modelName,
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
      await core.writeSafetensors(join(dir, 'samples.safetensors'), { samples: { dtype: 'F32', shape: info.shape, data: values } }, {
        metadata: Object.fromEntries(Object.entries(info).map(([k, v]) => [k, JSON.stringify(v)])),
      });
      writeFileSync(join(dir, 'sample-info.json'), JSON.stringify(info, null, 2) + '\n');
      const formats = opts.format.split(',').map((f) => f.trim()).filter(Boolean);
      const allowedFormats = ['png', 'gif', 'mp4', 'safetensors'];
      for (const f of formats) if (!allowedFormats.includes(f)) throw new core.ConfigError('--format', f, allowedFormats.join(', '));
      const [lo, hi] = opts.range.split(',').map(Number) as [number, number];
      if (!(Number.isFinite(lo) && Number.isFinite(hi) && hi > lo)) throw new core.ConfigError('--range', opts.range, "'lo,hi' with lo < hi (e.g. -1,1)");
      const files: string[] = [join(dir, 'samples.safetensors')];
      if (formats.some((f) => f !== 'safetensors')) {
        const evalPkg = await import('@fewstep/eval');
        const shown = Math.min(opts.n, 16);
        const view = values.subarray(0, shown * D);
        const shape5 = [shown, ...shape];
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
