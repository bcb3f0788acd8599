import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
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
    .description('distill the shipped teacher with a default recipe and write report.html (under 2 minutes on 2 cores; --quick: under 1)')
    .option('--out <dir>', 'output directory', 'fewstep-demo')
    .option('--quick', 'a smaller, faster run')
    .option('--recipe <name>', 'the recipe to distill with (default: lcm, the one that meets every 4-step target in docs/RESULTS.md; try accvideo, osv, dmd2, ...)')
    .option('--fit-teacher', 'fit the teacher to the exact denoiser on the spot instead of loading the shipped one (about 7 more minutes)')
    .option('--json', 'print one JSON object (the metrics table and paths)')
    .addOption(new Option('--steps <n>', 'override the distillation steps').argParser(intOption('--steps', 1)).hideHelp())
    .addOption(new Option('--samples <n>', 'override the samples per evaluation').argParser(intOption('--samples', 2)).hideHelp())
    .action(async (opts: { out: string; quick?: boolean; recipe?: string; fitTeacher?: boolean; json?: boolean; steps?: number; samples?: number }) => {
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
