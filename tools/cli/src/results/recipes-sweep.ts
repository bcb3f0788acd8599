/**
 * @file The recipes results sweep behind docs/RESULTS.md: on the ground-truth mixture benchmark
 * (16 unequal-weight modes of [4, 4, 4, 3] videos), fit one teacher network to the exact denoiser,
 * score it with DDIM at 1, 2, 4, 25 and 50 steps, distill it with every recipe (tiny presets),
 * score each student at 1, 2 and 4 steps, and run the papers' ablations at this scale. Every run
 * resumes from its checkpoints, so an interrupted sweep continues where it stopped.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ddimSampler, gmmVideo, initEngine, mixtureMetrics, randomNormal, seededRng, type GmmVideo } from '@fewstep/core';
import { loadModelDirectory, modelDenoiser, type DiffusionModel } from '@fewstep/recipes';
import { evaluateStudent, findRecipe, resolveTeacher, runDistill, trainingSeconds, type StudentMetrics } from '../distill/run-distill.js';

export const SWEEP_SPEC = 'gmm-video:modes=16,frames=4,size=4,channels=3,std=0.25,seed=7';

/** One distillation run of the sweep. */
export interface SweepRun {
  /** Row label. */
  label: string;
  recipe: string;
  steps: number;
  options?: Record<string, unknown>;
  /** Stop after this many seconds (equal-training-time ablations); `steps` is then an upper bound. */
  seconds?: number;
  /** Reuse the run directory of a main-table run (same recipe, options and steps): evaluated, not retrained. */
  sameAs?: string;
}

/** The main table: every recipe with its tiny preset. */
export const MAIN_RUNS: readonly SweepRun[] = [
  { label: 'avdm2', recipe: 'avdm2', steps: 350 },
  { label: 'accvideo', recipe: 'accvideo', steps: 500 },
  { label: 'adp', recipe: 'adp', steps: 400 },
  { label: 'adm', recipe: 'adm', steps: 350 },
  { label: 'dmdx', recipe: 'dmdx', steps: 400 },
  { label: 'osv-stage1', recipe: 'osv-stage1', steps: 300 },
  { label: 'osv-stage2', recipe: 'osv-stage2', steps: 350 },
  { label: 'osv', recipe: 'osv', steps: 400 },
  { label: 'mcm', recipe: 'mcm', steps: 300 },
  { label: 'dmd2', recipe: 'dmd2', steps: 350 },
  { label: 'lcm', recipe: 'lcm', steps: 500 },
  { label: 'accvideo-adm (hybrid)', recipe: 'accvideo-adm', steps: 350 },
];

export interface SweepRow extends StudentMetrics {
  label: string;
  recipe: string;
  trainSteps: number;
  trainSeconds: number;
}

export interface TeacherRow extends StudentMetrics {
  solver: string;
}

/** DDIM on the teacher network at several step counts. */
export async function scoreTeacher(teacher: DiffusionModel, mixture: GmmVideo, stepsList: number[], n: number): Promise<TeacherRow[]> {
  const rows: TeacherRow[] = [];
  const den = modelDenoiser(teacher);
  for (const steps of stepsList) {
    const noise = randomNormal([n, ...mixture.shape], seededRng(99));
    const t0 = performance.now();
    const r = ddimSampler({ steps }).sample(den, noise);
    await r.sample.data();
    const ms = (performance.now() - t0) / n;
    const m = mixtureMetrics(mixture, r.sample);
    rows.push({ solver: `DDIM ${steps}`, steps, nfe: r.nfe, msPerSample: ms, modeCoverage: m.modeCoverage, precision: m.precision, totalVariation: m.totalVariation, spreadRatio: m.spreadRatio, energyDistance: m.energyDistance });
    tf.dispose([noise, r.sample]);
  }
  return rows;
}

export interface SweepOptions {
  out: string;
  spec?: string;
  teacherFitSteps?: number;
  evalSamples?: number;
  batchSize?: number;
  /** Multiply every run's steps (a quick smoke run: 0.05). */
  scale?: number;
  only?: string[];
  log?: (line: string) => void;
}

export interface SweepResult {
  spec: string;
  backend: string;
  /** Seconds of training steps (sums of each run's per-step times, resumed processes included). */
  compute: { distillSeconds: number; teacherFitSeconds: number };
  teacher: TeacherRow[];
  rows: SweepRow[];
  ablations: AblationResult[];
  seconds: number;
}

export interface AblationResult {
  title: string;
  claim: string;
  rows: SweepRow[];
  /** Which metric decides, and whether the paper's direction holds here. */
  verdict: string;
  holds: boolean;
}

async function runOne(run: SweepRun, o: Required<Pick<SweepOptions, 'out' | 'evalSamples' | 'batchSize' | 'scale'>> & { teacherDir: string; spec: string; log: (l: string) => void }, evalSteps: number[]): Promise<SweepRow[]> {
  const steps = Math.max(2, Math.round(run.steps * o.scale));
  const dir = join(o.out, 'runs', (run.sameAs ?? run.label).replace(/[^a-z0-9-]+/gi, '_'));
  o.log(`sweep: ${run.label}: ${run.recipe} ${JSON.stringify(run.options ?? {})}, ${steps} steps`);
  if (run.seconds !== undefined && existsSync(join(dir, 'student', 'model.json'))) {
    // A time-capped run that already ended: score its student, never train it on to `steps`.
    const loaded = await loadModelDirectory(join(dir, 'student'));
    const mixture = gmmVideo(o.spec);
    const metrics = await evaluateStudent(loaded.model, loaded.student!, mixture, evalSteps, o.evalSamples);
    loaded.dispose();
    const recipe = findRecipe(run.recipe);
    const lines = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n');
    const completed = (JSON.parse(lines[lines.length - 1]!) as { step: number }).step;
    return metrics.map((m) => ({ label: run.label, recipe: recipe.name, trainSteps: completed, trainSeconds: trainingSeconds(dir, recipe), ...m }));
  }
  let timer: NodeJS.Timeout | undefined;
  const r = await runDistill({
    recipe: run.recipe,
    teacher: o.teacherDir,
    data: o.spec,
    dataDir: join(o.out, 'data'),
    out: dir,
    steps,
    preset: 'tiny',
    options: run.options ?? {},
    batchSize: o.batchSize,
    seed: 0,
    resume: existsSync(join(dir, 'checkpoints')) || existsSync(join(dir, 'student')),
    evalSteps,
    evalSamples: o.evalSamples,
    quietBar: true,
    progress: (l) => o.log(`  ${l}`),
    ...(run.seconds === undefined ? {} : { onRun: (h) => (timer = setTimeout(() => void h.stop('equal training time'), run.seconds! * 1000)) }),
  });
  if (timer) clearTimeout(timer);
  for (const m of r.metrics ?? []) {
    o.log(`  ${run.label} @ ${m.steps} steps: coverage ${fmt(m.modeCoverage)} precision ${fmt(m.precision)} TV ${fmt(m.totalVariation)} spread ${fmt(m.spreadRatio)} ED ${fmt(m.energyDistance)} (${r.trainSeconds.toFixed(0)} s training)`);
  }
  return (r.metrics ?? []).map((m) => ({ label: run.label, recipe: r.recipe, trainSteps: r.completedSteps, trainSeconds: r.trainSeconds, ...m }));
}

/** Runs the whole sweep and returns the tables (see {@link formatResultsMarkdown}). */
export async function runRecipesSweep(o: SweepOptions): Promise<SweepResult> {
  const started = performance.now();
  const log = o.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const out = resolve(o.out);
  await mkdir(out, { recursive: true });
  const engine = await initEngine({ report: true });
  const spec = o.spec ?? SWEEP_SPEC;
  const mixture = gmmVideo(spec);
  const common = { out, evalSamples: o.evalSamples ?? 512, batchSize: o.batchSize ?? 16, scale: o.scale ?? 1, spec, log };
  // 1. One teacher network fitted to the exact denoiser (cached in <out>/teacher).
  const t = await resolveTeacher({ recipe: 'lcm', teacher: `analytic:${spec}`, out, steps: 1, teacherFit: { steps: Math.max(10, Math.round((o.teacherFitSteps ?? 3000) * (o.scale ?? 1))) }, progress: log, quietBar: false }, log);
  const teacherDir = join(out, 'teacher');
  const teacher = await scoreTeacher(t.teacher, mixture, [1, 2, 4, 25, 50], common.evalSamples);
  t.dispose();
  const ctx = { ...common, teacherDir };
  const wanted = (label: string) => !o.only || o.only.some((x) => label.startsWith(x));
  // 2. Every recipe.
  const rows: SweepRow[] = [];
  for (const run of MAIN_RUNS) if (wanted(run.label)) rows.push(...(await runOne(run, ctx, [1, 2, 4])));
  const byLabel = (label: string, steps: number) => rows.find((r) => r.label === label && r.steps === steps);
  // 3. Ablations.
  const ablations: AblationResult[] = [];
  const ab = async (title: string, claim: string, runs: SweepRun[], evalSteps: number[], judge: (rs: SweepRow[]) => { verdict: string; holds: boolean }) => {
    if (!runs.every((r) => wanted(r.label))) return;
    const rs: SweepRow[] = [];
    for (const r of runs) rs.push(...(await runOne(r, ctx, evalSteps)));
    ablations.push({ title, claim, rows: rs, ...judge(rs) });
  };
  const stepsOf = (label: string) => MAIN_RUNS.find((r) => r.label === label)!.steps;
  const at = (rs: SweepRow[], label: string, steps: number) => rs.find((r) => r.label === label && r.steps === steps)!;
  await ab(
    'ADM vs DMD diversity at 1 step (ADM Table 6)',
    'ADM keeps more diversity than DMD (reverse KL is mode-seeking).',
    [
      { label: 'adm 1-step', recipe: 'adm', steps: 250, options: { steps: 1 } },
      { label: 'dmd 1-step', recipe: 'dmd2', steps: 250, options: { steps: 1, lambdaGan: 0 } },
    ],
    [1],
    (rs) => {
      const a = at(rs, 'adm 1-step', 1);
      const d = at(rs, 'dmd 1-step', 1);
      const holds = a.modeCoverage >= d.modeCoverage && Math.abs(1 - a.spreadRatio) <= Math.abs(1 - d.spreadRatio) && a.totalVariation <= d.totalVariation;
      return { holds, verdict: `coverage ${fmt(a.modeCoverage)} vs ${fmt(d.modeCoverage)}, spread ratio ${fmt(a.spreadRatio)} vs ${fmt(d.spreadRatio)}, TV ${fmt(a.totalVariation)} vs ${fmt(d.totalVariation)} (ADM vs DMD)` };
    },
  );
  await ab(
    'MCM lambda_real in {0, 0.5, 1} (MCM Table 6)',
    'lambda_real = 0.5 beats 0 and 1; 0 alone can collapse.',
    [0, 0.5, 1].map((l) => ({ label: `mcm lambdaReal=${l}`, recipe: 'mcm', steps: stepsOf('mcm'), options: { lambdaReal: l }, ...(l === 0.5 ? { sameAs: 'mcm' } : {}) })),
    [4],
    (rs) => {
      const e = [0, 0.5, 1].map((l) => at(rs, `mcm lambdaReal=${l}`, 4).energyDistance);
      return { holds: e[1]! < e[0]! && e[1]! < e[2]!, verdict: `energy distance at 4 steps: ${e.map(fmt).join(' / ')} for 0 / 0.5 / 1` };
    },
  );
  const m5 = await (async () => {
    if (!wanted('osv-stage2 m=5')) return undefined;
    const rs = await runOne({ label: 'osv-stage2 m=5', recipe: 'osv-stage2', steps: 250, options: { m: 5 } }, ctx, [1]);
    return rs;
  })();
  if (m5 && m5[0]) {
    const seconds = m5[0].trainSeconds;
    const r1 = await runOne({ label: 'osv-stage2 m=1 (equal time)', recipe: 'osv-stage2', steps: 3000, options: { m: 1 }, seconds: Math.max(5, seconds) }, ctx, [1]);
    const rs = [...m5, ...r1];
    const a = rs[0]!;
    const b = rs[1]!;
    ablations.push({
      title: 'OSV m = 5 vs m = 1 at equal training time (OSV Table 2a)',
      claim: 'A multi-step teacher solve (m = 5) beats m = 1 at equal training time.',
      rows: rs,
      holds: a.energyDistance < b.energyDistance,
      verdict: `1-step + TTS energy distance ${fmt(a.energyDistance)} (m = 5) vs ${fmt(b.energyDistance)} (m = 1)`,
    });
  }
  await ab(
    'AccVideo key vs uniform timesteps (AccVideo Table 4)',
    'The key timesteps beat uniform ones.',
    [
      { label: 'accvideo key', recipe: 'accvideo', steps: stepsOf('accvideo'), options: { timesteps: 'key' }, sameAs: 'accvideo' },
      { label: 'accvideo uniform', recipe: 'accvideo', steps: stepsOf('accvideo'), options: { timesteps: 'uniform' } },
    ],
    [5],
    (rs) => {
      const k = at(rs, 'accvideo key', 5);
      const u = at(rs, 'accvideo uniform', 5);
      return { holds: k.energyDistance < u.energyDistance, verdict: `energy distance at 5 steps ${fmt(k.energyDistance)} (key) vs ${fmt(u.energyDistance)} (uniform)` };
    },
  );
  await ab(
    'AVDM2 frame SDM + GAN vs GAN alone (AVDM2 Fig. 4)',
    'Adding 2D frame SDM to the video GAN improves the student (GAN alone is temporally inconsistent).',
    [
      { label: 'avdm2 sdm+gan', recipe: 'avdm2', steps: stepsOf('avdm2'), sameAs: 'avdm2' },
      { label: 'avdm2 gan alone', recipe: 'avdm2', steps: stepsOf('avdm2'), options: { frameSdm: false } },
    ],
    [4],
    (rs) => {
      const b = at(rs, 'avdm2 sdm+gan', 4);
      const g = at(rs, 'avdm2 gan alone', 4);
      return { holds: b.energyDistance < g.energyDistance, verdict: `energy distance at 4 steps ${fmt(b.energyDistance)} (SDM + GAN) vs ${fmt(g.energyDistance)} (GAN alone)` };
    },
  );
  void byLabel;
  const seen = new Set<string>();
  let distillSeconds = 0;
  for (const r of [...rows, ...ablations.flatMap((a) => a.rows)]) {
    const key = `${r.recipe}|${r.trainSteps}|${r.trainSeconds}`;
    if (!seen.has(key)) distillSeconds += r.trainSeconds;
    seen.add(key);
  }
  const teacherFitSeconds = sumStepSeconds(join(out, 'teacher-fit', 'metrics.jsonl')) + sumStepSeconds(join(out, 'data', 'frame-teacher-fit', 'metrics.jsonl'));
  return { spec, backend: engine.backend, compute: { distillSeconds, teacherFitSeconds }, teacher, rows, ablations, seconds: (performance.now() - started) / 1000 };
}

/** Sum of the per-step `seconds` of a metrics.jsonl (0 when it is missing). */
function sumStepSeconds(file: string): number {
  if (!existsSync(file)) return 0;
  let total = 0;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    try {
      const v = (JSON.parse(line) as { seconds?: unknown }).seconds;
      if (typeof v === 'number') total += v;
    } catch {
      /* blank or torn line */
    }
  }
  return total;
}

const fmt = (v: number): string => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toFixed(3));

function metricCells(m: StudentMetrics): string[] {
  return [String(m.nfe), fmt(m.modeCoverage), fmt(m.precision), fmt(m.totalVariation), fmt(m.spreadRatio), fmt(m.energyDistance), m.msPerSample.toFixed(2)];
}

function table(header: string[], rows: string[][]): string {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** docs/RESULTS.md from a sweep result. */
export function formatResultsMarkdown(r: SweepResult, command: string): string {
  const teacher4 = r.teacher.find((t) => t.steps === 4);
  const head = ['NFE', 'coverage', 'precision', 'TV', 'spread ratio', 'energy distance', 'ms / sample'];
  const lines: string[] = [];
  lines.push('# Results: recipes on the ground-truth mixture benchmark', '');
  const train = r.compute.distillSeconds / 60;
  const fit = r.compute.teacherFitSeconds / 60;
  lines.push(`Produced by \`${command}\` on ${r.backend}, 2 CPU cores: ${train.toFixed(0)} min of distillation steps over all runs (sums of the per-step times in each run's metrics.jsonl) and ${fit > 0 ? `${fit.toFixed(0)} min fitting the teacher networks` : 'teacher networks fitted by an earlier invocation (cached; their step times were not recorded)'}; a fresh run adds a few minutes of data generation and scoring (this invocation took ${(r.seconds / 60).toFixed(0)} min because finished runs resume and are only scored). Data: \`${r.spec}\`: 16 Gaussian modes with unequal weights whose means are moving-pattern videos [frames, height, width, channels] = [4, 4, 4, 3], so every metric is measured against the exact distribution. One teacher network (a video DiT, flow matching) is fitted to the exact denoiser; every recipe distills that network with its \`tiny\` preset, batch 16, and each student is scored on 512 samples.`, '');
  lines.push('Metrics: coverage = modes holding at least a quarter of their share; precision = samples inside the 99.9% radius of a mode; TV = total variation between the mode histogram and the weights; spread ratio = within-mode std / true std (1 is right); energy distance to fresh exact samples (0 is right); wall-clock per sample on this machine.', '');
  lines.push('## Teacher (DDIM)', '');
  lines.push(table(['solver', ...head], r.teacher.map((t) => [t.solver, ...metricCells(t)])));
  lines.push('', '## Students', '');
  lines.push(
    table(
      ['recipe', 'student steps', ...head, 'train steps', 'train s', '4-step target'],
      r.rows.map((row) => {
        let target = '';
        if (row.steps === 4 && teacher4) {
          const ok = row.modeCoverage >= 0.9 && row.precision >= 0.9 && row.energyDistance < teacher4.energyDistance;
          target = ok ? 'met' : `missed (${[row.modeCoverage < 0.9 ? 'coverage' : '', row.precision < 0.9 ? 'precision' : '', row.energyDistance >= teacher4.energyDistance ? 'energy distance' : ''].filter(Boolean).join(', ')})`;
        }
        return [row.label, String(row.steps), ...metricCells(row), String(row.trainSteps), row.trainSeconds.toFixed(0), target];
      }),
    ),
  );
  lines.push('', `4-step target: coverage >= 0.9, precision >= 0.9 and an energy distance below teacher DDIM-4 (${teacher4 ? fmt(teacher4.energyDistance) : 'n/a'}).`, '');
  lines.push('## Ablations: do the papers\' directions hold at this scale?', '');
  for (const a of r.ablations) {
    lines.push(`### ${a.title}`, '', `Claim: ${a.claim}`, '', `**${a.holds ? 'Holds' : 'Does not hold'} here**: ${a.verdict}.`, '');
    lines.push(table(['run', 'student steps', ...head, 'train steps', 'train s'], a.rows.map((row) => [row.label, String(row.steps), ...metricCells(row), String(row.trainSteps), row.trainSeconds.toFixed(0)])), '');
  }
  return lines.join('\n') + '\n';
}

/** Runs the sweep and writes `docs/RESULTS.md` and `docs/results.json`. */
export async function writeResults(o: SweepOptions & { docs: string; command: string }): Promise<SweepResult> {
  const r = await runRecipesSweep(o);
  await mkdir(o.docs, { recursive: true });
  await writeFile(join(o.docs, 'RESULTS.md'), formatResultsMarkdown(r, o.command));
  await writeFile(join(o.docs, 'results.json'), JSON.stringify(r, null, 2) + '\n');
  return r;
}
