#!/usr/bin/env node
/**
 * Packaging test, project 1 (see ../pack-test.sh): a short consistency distillation written against
 * the PUBLIC API of the three installed tarballs only (@fewstep/core, @fewstep/backbones,
 * @fewstep/loss-consistency; no recipes, no workspace links). Exits non-zero if anything is off.
 *
 * LCM Algorithm 1 (Luo et al. 2023) on an exact teacher: per step, x0 from a 4-mode video Gaussian
 * mixture `[B, 2, 4, 4, 3]`, an adjacent pair `t_{n+1} > t_n` of a k-step grid, `x_{t_{n+1}} =
 * alpha x0 + sigma eps`, one teacher DDIM step to `x^phi_{t_n}` (the analytic mixture denoiser),
 * and `L = mean_b || f_theta-(x^phi_{t_n}, t_n) - f_theta(x_{t_{n+1}}, t_{n+1}) ||^2` (LCM Eq. 9,
 * squared L2) with the EMA target theta^- and `f(x, t) = c_skip(t) x + c_out(t) x0_theta(x, t)`
 * (CM Eq. 3, LCM's boundary condition). The student is a tiny video DiT (flow prediction).
 * Then one 2-step consistency sample.
 *
 * Checks: every loss finite, the mean loss of the last 10 steps below that of the first 10, the
 * sample `[4, 2, 4, 4, 3]` and finite.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  consistencySampler,
  flowMatchingSchedule,
  forwardDiffuse,
  generatedDataSource,
  gmmVideo,
  initEngine,
  kStepTimesteps,
  lcmBoundaryCondition,
  lossTerm,
  mixtureDenoiser,
  predictX0Eps,
  randomNormal,
  seededRng,
  startRun,
} from '@fewstep/core';
import { VideoDiT } from '@fewstep/backbones';
import { boundaryCoefficients, consistencyDistillationLoss, consistencyPrediction, teacherSolve } from '@fewstep/loss-consistency';

const STEPS = Number(process.env.DEMO_STEPS ?? 60);
const BATCH = 8;
/** Grid of the teacher's one-step solves (LCM: 50 DDIM steps; few here, our choice for a short run). */
const SOLVER_STEPS = 8;
const WINDOW = 10;

function fail(message) {
  console.error(`consistency-demo: FAILED: ${message}`);
  process.exit(1);
}

const engine = await initEngine();
const gmm = gmmVideo('gmm-video:modes=4,frames=2,size=4,channels=3,std=0.1,seed=3');
const schedule = flowMatchingSchedule();
const teacher = mixtureDenoiser(gmm, schedule); // exact x0-prediction of the mixture
const boundary = lcmBoundaryCondition({ timestepScale: schedule.timestepScale });
const grid = kStepTimesteps(schedule, SOLVER_STEPS);

const student = VideoDiT.preset('tiny', {
  inChannels: 3,
  outChannels: 3,
  contextDim: null,
  pooledDim: null,
  hiddenDim: 16,
  depth: 2,
  heads: 2,
  freqDim: 16,
  timestepScale: schedule.timestepScale,
  seed: 1,
});
/** A Denoiser view of a DiT sharing `student`'s architecture (the student or its EMA copy). */
const views = new WeakMap();
function denoiserOf(network) {
  if (!views.has(network)) {
    const dit = network === student.net ? student : student.withNetwork(network);
    views.set(network, { schedule, predictionType: 'flow', predict: (x, t) => dit.predict(x, t) });
  }
  return views.get(network);
}
/** `f(x, t) = c_skip(t) x + c_out(t) x0(x, t)` for one model time `t`. */
function consistencyFn(network, x, t) {
  return tf.tidy(() => {
    const { x0 } = predictX0Eps(denoiserOf(network), x, t);
    const { cSkip, cOut } = boundaryCoefficients(new Array(x.shape[0]).fill(t), boundary);
    return consistencyPrediction(cSkip, cOut, x, x0);
  });
}

const data = generatedDataSource({
  name: 'demo:gmm-video',
  config: { spec: gmm.toString(), batch: BATCH },
  make: (_cursor, rng) => ({ x0: gmm.sample(BATCH, rng).x0 }),
});

const cd = lossTerm(
  'cd',
  (ctx) => {
    const i = Math.floor(ctx.rng('cd/t')() * (grid.length - 1));
    const tFrom = grid[i];
    const tTo = grid[i + 1];
    const x0 = ctx.batch.x0;
    const xFrom = forwardDiffuse(schedule, x0, ctx.randomNormal(x0.shape, 'cd/eps'), tFrom);
    // The EMA network is not trained in this phase: its prediction is a constant target.
    const target = tf.tidy(() => consistencyFn(ctx.network('studentEma'), teacherSolve(teacher, xFrom, tFrom, tTo, 1), tTo));
    const pred = consistencyFn(ctx.network('student'), xFrom, tFrom);
    return consistencyDistillationLoss.compute({ pred, target }, { ...consistencyDistillationLoss.defaults, distance: 'l2' });
  },
  { trains: 'student', requires: ['student', 'studentEma'] },
);

const losses = [];
const started = performance.now();
const run = startRun({
  seed: 7,
  steps: STEPS,
  roles: { student: student.net },
  ema: [{ role: 'studentEma', source: 'student', decay: 0.9 }],
  phases: [{ role: 'student', losses: [cd], optimizer: { type: 'adam', lr: 2e-3 } }],
  data,
  resume: 'never',
});
run.events$.subscribe((e) => {
  if (e.type !== 'step/completed') return;
  const loss = e.payload.losses['student/cd'];
  losses.push(loss);
  if (e.payload.step === 1 || e.payload.step % 10 === 0) console.log(`step ${String(e.payload.step).padStart(3)}  consistency loss ${loss.toFixed(5)}`);
});
const summary = await run.result;
const seconds = (performance.now() - started) / 1000;

if (summary.status !== 'completed' || losses.length !== STEPS) fail(`run ${summary.status} after ${losses.length} of ${STEPS} steps`);
if (!losses.every(Number.isFinite)) fail(`non-finite loss: ${losses.join(', ')}`);
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const first = mean(losses.slice(0, WINDOW));
const last = mean(losses.slice(-WINDOW));
console.log(`mean loss: first ${WINDOW} steps ${first.toFixed(5)}, last ${WINDOW} steps ${last.toFixed(5)} (${STEPS} steps, ${seconds.toFixed(1)} s on ${engine.backend})`);
if (!(last < first)) fail(`the loss did not go down (${first} -> ${last})`);

const { sample, nfe } = tf.tidy(() => {
  const xT = randomNormal([4, ...gmm.shape], seededRng(11));
  return consistencySampler({ steps: 2 }).sample(denoiserOf(student.net), xT, { rng: 12 });
});
const shape = sample.shape.join(', ');
const values = await sample.data();
sample.dispose();
console.log(`sample [${shape}] with ${nfe} student evaluations`);
if (shape !== `4, ${gmm.shape.join(', ')}`) fail(`sample shape [${shape}], expected [4, ${gmm.shape.join(', ')}]`);
if (!values.every(Number.isFinite)) fail('the sample has non-finite values');
teacher.dispose();
console.log('consistency-demo: OK');
