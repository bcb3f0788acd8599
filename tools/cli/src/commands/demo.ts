import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import type { ConditionalMixtureMetrics } from '@fewstep/core';
import { intOption } from '../options.js';
import { makeOutput } from '../output.js';

/** The teacher shipped with fewstep (see tools/cli/assets/demo-teacher.yaml for how it was made). */
export const DEMO_TEACHER_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../assets/demo-teacher');
export const DEMO_SPEC = 'gmm-video:modes=16,frames=4,size=4,channels=3,std=0.25,seed=7';

/** What `fewstep demo` runs by default and with `--quick`. */
export const DEMO_SETTINGS = {
  full: { recipe: 'lcm', steps: 600, n: 512, trajectories: 1024 },
  quick: { recipe: 'lcm', steps: 150, n: 256, trajectories: 256 },
} as const;

/**
 * The image-to-video teacher `fewstep demo --task i2v` distills: the demo teacher's architecture
 * with image conditioning, started from it and fitted to the exact first-frame-conditioned
 * denoiser of {@link DEMO_I2V_SPEC} (see tools/cli/assets/demo-teacher-i2v/train-teacher.yaml).
 */
export const DEMO_I2V_TEACHER_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../assets/demo-teacher-i2v');
/** The demo's mixture conditioned on its first frame (the same means and weights as {@link DEMO_SPEC}). */
export const DEMO_I2V_SPEC = 'gmm-i2v:modes=16,frames=4,size=4,channels=3,std=0.25,seed=7';

/**
 * What `fewstep demo --task i2v` runs by default and with `--quick`. LCM, not OSV (the I2V
 * method): OSV works at this scale (600 steps, 1 step + TTS = 2 NFE: first-frame RMSE 0.044,
 * precision 0.998, energy distance 0.012, against LCM's 1 step 0.049 / 0.998 / 0.016 and 4 steps
 * 0.021 / 0.996 / -0.008), but its DINOv2 critic and 5-step teacher solve make the whole demo take
 * 5 min 35 s instead of 2 min 46 s to 3 min on 2 shared cores. `--recipe osv` runs it.
 */
export const DEMO_I2V_SETTINGS = {
  full: { recipe: 'lcm', steps: 600, n: 512, trajectories: 1024 },
  quick: { recipe: 'lcm', steps: 150, n: 256, trajectories: 256 },
} as const;

interface Row {
  model: string;
  sampler: string;
  nfe: number;
  msPerSample: number;
  modeCoverage: number;
  precision: number;
  totalVariation: number;
  spreadRatio: number;
  energyDistance: number;
}

/**
 * `fewstep demo`: the whole pipeline on the built-in default: the ground-truth video mixture, the
 * shipped teacher network (fitted to it; `--fit-teacher` refits it on the spot), distillation with
 * a default recipe, teacher at 25 / 4 / 1 DDIM steps vs the student at 4 and 1 steps scored
 * against the exact distribution, and report.html (metrics, speedup, loss curves, sample strips).
 */
export function demoCommand(): Command {
  return new Command('demo')
    .description('distill the shipped teacher with a default recipe and write report.html (under 2 minutes on 2 cores; --quick: under 1); --task i2v: the image-to-video teacher, conditioning frames beside teacher and student (about 3 minutes; --quick: under 1)')
    .option('--out <dir>', 'output directory', 'fewstep-demo')
    .option('--quick', 'a smaller, faster run')
    .option('--recipe <name>', 'the recipe to distill with (default: lcm, the one that meets every 4-step target in docs/RESULTS.md; try accvideo, osv, dmd2, ...)')
    .option('--fit-teacher', 'fit the teacher to the exact denoiser on the spot instead of loading the shipped one (about 7 more minutes)')
    .option('--json', 'print one JSON object (the metrics table and paths)')
    .option('--task <task>', 't2v (default: videos from noise) | i2v (image-to-video: the shipped I2V teacher, conditions = first frames of the data; the report shows each conditioning frame beside teacher and student)')
    .addOption(new Option('--steps <n>', 'override the distillation steps').argParser(intOption('--steps', 1)).hideHelp())
    .addOption(new Option('--samples <n>', 'override the samples per evaluation').argParser(intOption('--samples', 2)).hideHelp())
    .action(async (opts: { out: string; quick?: boolean; recipe?: string; fitTeacher?: boolean; json?: boolean; steps?: number; samples?: number; task?: string }) => {
      if (opts.task !== undefined && opts.task !== 't2v' && opts.task !== 'i2v') {
        const { ConfigError } = await import('@fewstep/core');
        throw new ConfigError('--task', opts.task, "'t2v' or 'i2v'");
      }
      if (opts.task === 'i2v') return i2vDemo(opts);
      const out = makeOutput(Boolean(opts.json));
      const started = performance.now();
      const core = await import('@fewstep/core');
      const evalPkg = await import('@fewstep/eval');
      const recipes = await import('@fewstep/recipes');
      const tf = await import('@tensorflow/tfjs-core');
      const { runDistill, resolveTeacher } = await import('../distill/run-distill.js');
      const base = opts.quick ? DEMO_SETTINGS.quick : DEMO_SETTINGS.full;
      const settings = { ...base, recipe: opts.recipe ?? base.recipe, steps: opts.steps ?? base.steps, n: opts.samples ?? base.n };
      const dir = resolve(opts.out);
      mkdirSync(dir, { recursive: true });
      const engine = await core.initEngine({ report: true });
      const gmm = core.gmmVideo(DEMO_SPEC);
      out.progress(`demo: data ${gmm.toString()} (${gmm.K} modes, videos [${gmm.shape.join(', ')}])`);

      // 1. The teacher: shipped (fitted to the exact denoiser), or fitted now.
      const teacherSpec = opts.fitTeacher ? `analytic:${DEMO_SPEC}` : DEMO_TEACHER_DIR;
      const t = await resolveTeacher({ recipe: settings.recipe, teacher: teacherSpec, data: DEMO_SPEC, out: dir, steps: 1, teacherFit: { steps: 3000 } }, (l) => out.progress(`demo: ${l}`));
      const teacherDir = t.dir;
      const rows: Row[] = [];
      const strips: Array<{ label: string; pngBase64: string }> = [];
      const gifs: Array<{ label: string; pngBase64: string; mime: string }> = [];
      const gif = async (label: string, x: import('@tensorflow/tfjs-core').Tensor) => {
        const g = evalPkg.videoGridFrames((await x.data()) as Float32Array, x.shape, { columns: 4, range: [-1.5, 1.5] });
        gifs.push({ label, pngBase64: evalPkg.encodeGif(g.frames, g.width, g.height, 35).toString('base64'), mime: 'image/gif' });
      };
      const strip = async (label: string, x: import('@tensorflow/tfjs-core').Tensor) => {
        strips.push({ label, pngBase64: evalPkg.videoStripPng((await x.data()) as Float32Array, x.shape, { rows: 8, range: [-1.5, 1.5] }).toString('base64') });
      };
      const truth = gmm.sample(8, core.seededRng(5));
      await strip('exact samples (ground truth)', truth.x0);
      truth.x0.dispose();
      const teacherDen = recipes.modelDenoiser(t.teacher);
      for (const steps of [25, 4, 1]) {
        const noise = core.randomNormal([settings.n, ...gmm.shape], core.seededRng(99));
        const t0 = performance.now();
        const r = core.ddimSampler({ steps }).sample(teacherDen, noise);
        await r.sample.data();
        const ms = (performance.now() - t0) / settings.n;
        const m = core.mixtureMetrics(gmm, r.sample);
        rows.push({ model: 'teacher (video DiT)', sampler: `DDIM ${steps}`, nfe: r.nfe, msPerSample: ms, ...pick(m) });
        if (steps !== 1) {
          const head = tf.slice(r.sample, 0, 8);
          await strip(`teacher, DDIM ${steps} steps`, head);
          if (steps === 25) await gif('teacher, DDIM 25', head);
          head.dispose();
        }
        tf.dispose([noise, r.sample]);
        out.progress(`demo: teacher DDIM ${steps}: coverage ${m.modeCoverage.toFixed(2)}, precision ${m.precision.toFixed(2)}, energy distance ${m.energyDistance.toFixed(4)}`);
      }
      t.dispose();

      // 2. Distill.
      const run = join(dir, 'run');
      const result = await runDistill({
        recipe: settings.recipe,
        teacher: teacherDir,
        data: DEMO_SPEC,
        out: run,
        steps: settings.steps,
        preset: 'tiny',
        resume: true,
        dataset: { n: settings.trajectories },
        evalSteps: [4, 1],
        evalSamples: settings.n,
        progress: (l) => out.progress(`demo: ${l}`),
      });
      for (const m of result.metrics ?? []) {
        rows.push({ model: `student (${result.recipe.replace('recipe:', '')})`, sampler: `${m.steps} step${m.steps > 1 ? 's' : ''}`, nfe: m.nfe, msPerSample: m.msPerSample, ...pick(m) });
      }
      const student = await recipes.loadModelDirectory(result.student);
      for (const steps of [4, 1]) {
        const noise = core.randomNormal([8, ...gmm.shape], core.seededRng(99));
        const r = recipes.studentSampler(student.student!, student.model.schedule, steps).sample(recipes.modelDenoiser(student.model), noise, { rng: 7 });
        await strip(`student (${result.recipe.replace('recipe:', '')}), ${steps} step${steps > 1 ? 's' : ''}`, r.sample);
        await gif(`student, ${steps} step${steps > 1 ? 's' : ''}`, r.sample);
        tf.dispose([noise, r.sample]);
      }
      student.dispose();

      // 3. Report.
      const seconds = (performance.now() - started) / 1000;
      const teacher25 = rows.find((r) => r.sampler === 'DDIM 25')!;
      const student4 = rows.find((r) => r.model.startsWith('student') && r.nfe === 4) ?? rows.find((r) => r.model.startsWith('student'))!;
      const speedup = teacher25.msPerSample / student4.msPerSample;
      const curves = lossCurves(join(run, 'metrics.jsonl'));
      const lossSvg = evalPkg.linePlotSvg(curves, { title: `Distillation losses (${result.recipe})`, xLabel: 'step', yLabel: 'loss' });
      writeFileSync(join(dir, 'losses.svg'), lossSvg);
      const columns = ['model', 'sampler', 'NFE', 'ms / sample', 'coverage', 'precision', 'TV', 'spread ratio', 'energy distance'];
      const table = rows.map((r) => [r.model, r.sampler, r.nfe, r.msPerSample, r.modeCoverage, r.precision, r.totalVariation, r.spreadRatio, r.energyDistance]);
      const html = evalPkg.renderHtmlReport('fewstep demo', [
        {
          kind: 'text',
          html:
            `<p>Data: <code>${gmm.toString()}</code>, a mixture of ${gmm.K} Gaussians with unequal weights whose means are moving-pattern videos ` +
            `[frames, height, width, channels] = [${gmm.shape.join(', ')}], so every metric is measured against the exact distribution. ` +
            `Teacher: a video DiT fitted to the exact denoiser (<code>${teacherDir}</code>). Student: <code>${result.recipe}</code> (tiny preset, ${result.steps} steps, ${result.trainSeconds.toFixed(0)} s of training). ` +
            `Backend: <code>${engine.backend}</code>. Total time ${seconds.toFixed(0)} s.</p>` +
            `<p><b>Speedup: ${speedup.toFixed(1)}x</b> per sample (student at ${student4.nfe} NFE vs teacher DDIM 25: ${student4.msPerSample.toFixed(2)} vs ${teacher25.msPerSample.toFixed(2)} ms), ` +
            `energy distance ${student4.energyDistance.toFixed(3)} vs ${teacher25.energyDistance.toFixed(3)}.</p>`,
        },
        { kind: 'table', title: 'Ground-truth metrics', table: { columns, rows: table }, note: 'coverage: modes with at least a quarter of their share; precision: samples within the 99.9% radius of a mode; TV: mode histogram vs weights; spread ratio: within-mode std / true std (1 is right); energy distance to fresh exact samples (0 is right).' },
        { kind: 'figure', title: 'Training', svg: lossSvg, caption: `Per-phase losses from ${join(run, 'metrics.jsonl')}.` },
        { kind: 'figures', title: 'Side by side (animated: the same 8 noise seeds)', items: gifs },
        { kind: 'figures', title: 'Samples (rows: videos, columns: frames)', items: strips },
      ]);
      const reportPath = join(dir, 'report.html');
      writeFileSync(reportPath, html);
      writeFileSync(join(dir, 'metrics.json'), JSON.stringify({ spec: gmm.toString(), backend: engine.backend, seconds, recipe: result.recipe, speedup, rows }, null, 2) + '\n');
      out.text(formatTable(columns, table));
      out.text(`\nspeedup ${speedup.toFixed(1)}x (student ${student4.nfe} NFE vs teacher DDIM 25)`);
      out.text(`report: ${reportPath}`);
      out.result({ report: reportPath, spec: gmm.toString(), backend: engine.backend, seconds, recipe: result.recipe, student: result.student, speedup, rows });
    });
}

/** A row of the image-to-video metrics table. */
interface I2vRow extends Pick<ConditionalMixtureMetrics, 'firstFrameRmse' | 'firstFramePrecision' | 'precision' | 'modeAgreement' | 'modeCoverage' | 'totalVariation' | 'energyDistance'> {
  model: string;
  sampler: string;
  nfe: number;
  msPerSample: number;
}

/**
 * `fewstep demo --task i2v`: the shipped image-to-video teacher (`--fit-teacher`: fitted on the
 * spot from the unconditional demo teacher), teacher DDIM 25 / 4 / 1 and the distilled student at
 * its step counts sampled for the same conditions (first frames of fresh exact videos) and scored
 * against the exact first-frame-conditioned mixture; report.html shows each conditioning frame
 * beside the teacher's and the student's videos for it.
 */
async function i2vDemo(opts: { out: string; quick?: boolean; recipe?: string; fitTeacher?: boolean; json?: boolean; steps?: number; samples?: number }): Promise<void> {
  const out = makeOutput(Boolean(opts.json));
  const started = performance.now();
  const core = await import('@fewstep/core');
  const evalPkg = await import('@fewstep/eval');
  const recipes = await import('@fewstep/recipes');
  const tf = await import('@tensorflow/tfjs-core');
  const { runDistill, resolveTeacher } = await import('../distill/run-distill.js');
  const { i2vMetrics, mixtureConditions, sampleUnderConditions } = await import('../distill/i2v.js');
  const base = opts.quick ? DEMO_I2V_SETTINGS.quick : DEMO_I2V_SETTINGS.full;
  const settings = { ...base, recipe: opts.recipe ?? base.recipe, steps: opts.steps ?? base.steps, n: opts.samples ?? base.n };
  const dir = resolve(opts.out);
  mkdirSync(dir, { recursive: true });
  const engine = await core.initEngine({ report: true });
  const gmm = core.gmmI2v(DEMO_I2V_SPEC);
  out.progress(`demo: image-to-video on ${gmm.toString()} (${gmm.K} modes, videos [${gmm.shape.join(', ')}], frame 0 is the condition)`);

  // 1. The teacher: shipped, or fitted now from the unconditional demo teacher.
  const teacherSpec = opts.fitTeacher ? `analytic:${DEMO_I2V_SPEC}` : DEMO_I2V_TEACHER_DIR;
  const t = await resolveTeacher(
    { recipe: settings.recipe, teacher: teacherSpec, data: DEMO_I2V_SPEC, out: dir, steps: 1, teacherFit: { steps: 1500, lr: 1e-3, init: DEMO_TEACHER_DIR, imageNoise: 0, condDropout: 0.1 } },
    (l) => out.progress(`demo: ${l}`),
  );
  const teacherDir = t.dir;
  const teacherDen = recipes.modelDenoiser(t.teacher);
  // The evaluation conditions are the ones runDistill scores the student on (seed 99 + 2), so every row sees the same conditions.
  const conditions = mixtureConditions(gmm, settings.n, 101);
  // The figures: 8 conditions, the same noise for teacher and student.
  const shown = mixtureConditions(gmm, 8, 5);
  const rows: I2vRow[] = [];
  const figureSamples: Array<{ label: string; x: Float32Array }> = [];
  for (const steps of [25, 4, 1]) {
    const r = await sampleUnderConditions(teacherDen, core.ddimSampler({ steps }), t.teacher.backbone, conditions, gmm.shape, { noiseSeed: 99, rng: 100 });
    const m = i2vMetrics(gmm, conditions.image, r.sample);
    r.sample.dispose();
    rows.push({ model: 'teacher (video DiT, I2V)', sampler: `DDIM ${steps}`, nfe: r.nfe, msPerSample: r.msPerSample, ...pickI2v(m) });
    out.progress(`demo: teacher DDIM ${steps}: first-frame RMSE ${m.firstFrameRmse.toFixed(3)}, precision ${m.precision.toFixed(2)}, mode agreement ${m.modeAgreement.toFixed(2)}, energy distance ${m.energyDistance.toFixed(4)}`);
    if (steps === 25) {
      const f = await sampleUnderConditions(teacherDen, core.ddimSampler({ steps }), t.teacher.backbone, shown, gmm.shape, { noiseSeed: 7, rng: 8 });
      figureSamples.push({ label: 'teacher, DDIM 25', x: (await f.sample.data()) as Float32Array });
      f.sample.dispose();
    }
  }
  t.dispose();

  // 2. Distill (the student is scored on the same conditions inside runDistill).
  const run = join(dir, 'run');
  const result = await runDistill({
    recipe: settings.recipe,
    teacher: teacherDir,
    data: DEMO_I2V_SPEC,
    out: run,
    steps: settings.steps,
    preset: 'tiny',
    resume: true,
    dataset: { n: settings.trajectories },
    evalSamples: settings.n,
    progress: (l) => out.progress(`demo: ${l}`),
    ...(settings.recipe === 'lcm' ? { evalSteps: [4, 1] } : {}),
  });
  const name = result.recipe.replace('recipe:', '');
  for (const m of result.metrics ?? []) {
    rows.push({
      model: `student (${name})`,
      sampler: `${m.steps} step${m.steps > 1 ? 's' : ''}`,
      nfe: m.nfe,
      msPerSample: m.msPerSample,
      firstFrameRmse: m.firstFrameRmse!,
      firstFramePrecision: m.firstFramePrecision!,
      precision: m.precision,
      modeAgreement: m.modeAgreement!,
      modeCoverage: m.modeCoverage,
      totalVariation: m.totalVariation,
      energyDistance: m.energyDistance,
    });
  }
  const student = await recipes.loadModelDirectory(result.student);
  const studentSteps = [...new Set((result.metrics ?? []).map((m) => m.steps))].sort((a, b) => b - a);
  for (const steps of studentSteps) {
    const f = await sampleUnderConditions(recipes.modelDenoiser(student.model), recipes.studentSampler(student.student!, student.model.schedule, steps), student.model.backbone, shown, gmm.shape, { noiseSeed: 7, rng: 8 });
    figureSamples.push({ label: `student (${name}), ${steps} step${steps > 1 ? 's' : ''}`, x: (await f.sample.data()) as Float32Array });
    f.sample.dispose();
  }
  student.dispose();

  // 3. Report: the conditioning frame beside the teacher's and the student's videos (row i = condition i).
  const [F, H, W, C] = gmm.shape as [number, number, number, number];
  const frame = H * W * C;
  const held = new Float32Array(8 * F * frame);
  const c = (await shown.image.data()) as Float32Array;
  for (let i = 0; i < 8; i++) for (let f = 0; f < F; f++) held.set(c.subarray(i * frame, (i + 1) * frame), (i * F + f) * frame);
  tf.dispose([conditions.image, conditions.imageNoiseSigma, shown.image, shown.imageNoiseSigma]);
  const range: [number, number] = [-1.5, 1.5];
  const gifs = [{ label: 'conditioning frame', x: held }, ...figureSamples].map(({ label, x }) => {
    const g = evalPkg.videoGridFrames(x, [8, F, H, W, C], { columns: 1, range });
    return { label, pngBase64: evalPkg.encodeGif(g.frames, g.width, g.height, 35).toString('base64'), mime: 'image/gif' };
  });
  const condStrip = evalPkg.videoStripPng(c, [8, 1, H, W, C], { range }).toString('base64');
  const strips = [{ label: 'conditioning frame', pngBase64: condStrip }, ...figureSamples.map(({ label, x }) => ({ label, pngBase64: evalPkg.videoStripPng(x, [8, F, H, W, C], { range }).toString('base64') }))];
  const seconds = (performance.now() - started) / 1000;
  const teacher25 = rows.find((r) => r.sampler === 'DDIM 25')!;
  // The headline student: at the step count it was trained for (LCM 4, OSV 1 + TTS).
  const studentRows = rows.filter((r) => r.model.startsWith('student'));
  const studentBest = studentRows.find((r) => r.sampler === `${result.studentSteps} step${result.studentSteps > 1 ? 's' : ''}`) ?? studentRows[0]!;
  const speedup = teacher25.msPerSample / studentBest.msPerSample;
  const curves = lossCurves(existsSync(join(run, 'metrics.jsonl')) ? join(run, 'metrics.jsonl') : lastStageMetrics(run));
  const lossSvg = evalPkg.linePlotSvg(curves, { title: `Distillation losses (${result.recipe})`, xLabel: 'step', yLabel: 'loss' });
  writeFileSync(join(dir, 'losses.svg'), lossSvg);
  const columns = ['model', 'sampler', 'NFE', 'ms / sample', 'first-frame RMSE', 'first-frame precision', 'precision', 'mode agreement', 'coverage', 'TV', 'energy distance'];
  const table = rows.map((r) => [r.model, r.sampler, r.nfe, r.msPerSample, r.firstFrameRmse, r.firstFramePrecision, r.precision, r.modeAgreement, r.modeCoverage, r.totalVariation, r.energyDistance]);
  const html = evalPkg.renderHtmlReport('fewstep demo: image to video', [
    {
      kind: 'text',
      html:
        `<p>Data: <code>${gmm.toString()}</code>: the demo's mixture of ${gmm.K} moving-pattern videos [frames, height, width, channels] = [${gmm.shape.join(', ')}], ` +
        `conditioned on its first frame, so every metric is measured against the exact conditional distribution p(video | first frame). ` +
        `Teacher: a video DiT with image conditioning (the first frame concatenated as input channels on frame 0, plus a pooled image embedding), fitted to the exact conditional denoiser (<code>${teacherDir}</code>). ` +
        `Student: <code>${result.recipe}</code> (tiny preset, ${result.steps} steps, ${result.trainSeconds.toFixed(0)} s of training). Conditions: the first frames of ${settings.n} fresh exact videos, the same for every row. ` +
        `Backend: <code>${engine.backend}</code>. Total time ${seconds.toFixed(0)} s.</p>` +
        `<p><b>Speedup: ${speedup.toFixed(1)}x</b> per sample (student at ${studentBest.nfe} NFE vs teacher DDIM 25: ${studentBest.msPerSample.toFixed(2)} vs ${teacher25.msPerSample.toFixed(2)} ms); ` +
        `first-frame RMSE ${studentBest.firstFrameRmse.toFixed(3)} vs the teacher's ${teacher25.firstFrameRmse.toFixed(3)}, energy distance ${studentBest.energyDistance.toFixed(3)} vs ${teacher25.energyDistance.toFixed(3)}.</p>`,
    },
    {
      kind: 'table',
      title: 'Ground-truth metrics given the first frame',
      table: { columns, rows: table },
      note:
        'first-frame RMSE: frame 0 against its condition (0 is right); first-frame precision: frame 0 within the data noise of the condition; precision: frames 1.. within the 99.9% radius of a mode the condition allows; ' +
        'mode agreement: frames 1.. nearest the mode the condition makes most likely; coverage / TV: mode histogram vs the conditions\' posterior weights; energy distance between (condition, video) pairs and fresh exact ones (0 is right).',
    },
    { kind: 'figure', title: 'Training', svg: lossSvg, caption: `Per-phase losses from ${run}.` },
    { kind: 'figures', title: 'Side by side (animated; row i: condition i, the same noise for teacher and student)', items: gifs },
    { kind: 'figures', title: 'Frames (rows: the 8 conditions; columns: frames)', items: strips },
  ]);
  const reportPath = join(dir, 'report.html');
  writeFileSync(reportPath, html);
  writeFileSync(join(dir, 'metrics.json'), JSON.stringify({ task: 'i2v', spec: gmm.toString(), backend: engine.backend, seconds, recipe: result.recipe, speedup, rows }, null, 2) + '\n');
  out.text(formatTable(columns, table));
  out.text(`\nspeedup ${speedup.toFixed(1)}x (student ${studentBest.nfe} NFE vs teacher DDIM 25)`);
  out.text(`report: ${reportPath}`);
  out.result({ task: 'i2v', report: reportPath, spec: gmm.toString(), backend: engine.backend, seconds, recipe: result.recipe, student: result.student, speedup, rows });
}

function pickI2v(m: { firstFrameRmse: number; firstFramePrecision: number; precision: number; modeAgreement: number; modeCoverage: number; totalVariation: number; energyDistance: number }) {
  return {
    firstFrameRmse: m.firstFrameRmse,
    firstFramePrecision: m.firstFramePrecision,
    precision: m.precision,
    modeAgreement: m.modeAgreement,
    modeCoverage: m.modeCoverage,
    totalVariation: m.totalVariation,
    energyDistance: m.energyDistance,
  };
}

/** The metrics.jsonl of the last stage of a staged recipe's run directory. */
function lastStageMetrics(run: string): string {
  const stages = readdirSync(run).filter((d) => d.startsWith('stage-')).sort();
  return join(run, stages[stages.length - 1] ?? '', 'metrics.jsonl');
}

/** Per-phase loss curves (`loss/<phase>` keys) from a metrics.jsonl, thinned to about 200 points. */
function lossCurves(path: string): Array<{ name: string; points: Array<readonly [number, number]> }> {
  const lines = readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number | null>);
  const keys = [...new Set(lines.flatMap((l) => Object.keys(l).filter((k) => /^loss\/[^/]+$/.test(k))))];
  const every = Math.max(1, Math.floor(lines.length / 200));
  return keys.map((k) => ({ name: k.slice('loss/'.length), points: lines.filter((l, i) => i % every === 0 && typeof l[k] === 'number').map((l) => [l['step'] as number, l[k] as number] as const) }));
}

function pick(m: { modeCoverage: number; precision: number; totalVariation: number; spreadRatio: number; energyDistance: number }) {
  return { modeCoverage: m.modeCoverage, precision: m.precision, totalVariation: m.totalVariation, spreadRatio: m.spreadRatio, energyDistance: m.energyDistance };
}

function formatTable(columns: string[], rows: Array<Array<string | number>>): string {
  const cells = rows.map((r) => r.map((v) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(3)) : v)));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => (r[i] as string).length)));
  const line = (r: string[]) => r.map((v, i) => (i < 2 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ');
  return [line(columns), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}
