/**
 * @file Throughput of sampling the analytic Gaussian-mixture teacher (not a timed test).
 * Run: `npx tsx packages/core/src/diffusion/bench-analytic.ts` (uses the wasm backend).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ddimSampler } from './ddim-sampler.js';
import { eulerFlowSampler } from './euler-sampler.js';
import { flowMatchingSchedule } from './flow-matching-schedule.js';
import { gmmVideo } from './gaussian-mixture/gaussian-mixture.js';
import { mixtureDenoiser } from './gaussian-mixture/mixture-denoiser.js';
import { randomNormal, seededRng } from './rng.js';
import { vpDiscreteSchedule } from './vp-discrete-schedule.js';

export interface AnalyticBenchOptions {
  /** @default 'gmm-video:modes=16,frames=8,size=8,channels=3,std=0.05,seed=7' (ARCHITECTURE.md's example) */
  spec?: string;
  /** Samples per batch. @default 64 */
  batch?: number;
  /** Step counts to measure. @default [50, 4] */
  steps?: readonly number[];
  /** 'flow' (Euler on flow matching) or 'vp' (DDIM on scaled_linear VP, trailing). @default 'flow' */
  schedule?: 'flow' | 'vp';
  /** Timed repetitions per step count, after one warm-up run. @default 3 */
  repeats?: number;
}

export interface AnalyticBenchResult {
  spec: string;
  backend: string;
  batch: number;
  sampler: string;
  results: { steps: number; nfe: number; secondsPerBatch: number; samplesPerSecond: number }[];
}

/** Measures samples/s of the exact mixture teacher at each step count. */
export async function benchAnalyticSampling(options: AnalyticBenchOptions = {}): Promise<AnalyticBenchResult> {
  const spec = options.spec ?? 'gmm-video:modes=16,frames=8,size=8,channels=3,std=0.05,seed=7';
  const batch = options.batch ?? 64;
  const repeats = options.repeats ?? 3;
  const gmm = gmmVideo(spec);
  const useFlow = (options.schedule ?? 'flow') === 'flow';
  const schedule = useFlow ? flowMatchingSchedule() : vpDiscreteSchedule({ betaSchedule: 'scaled_linear' });
  const denoiser = mixtureDenoiser(gmm, schedule, useFlow ? 'flow' : 'epsilon');
  const rng = seededRng(1);
  const results: AnalyticBenchResult['results'] = [];
  let samplerName = '';
  try {
    for (const steps of options.steps ?? [50, 4]) {
      const sampler = useFlow ? eulerFlowSampler({ steps }) : ddimSampler({ steps, spacing: 'trailing' });
      samplerName = sampler.name;
      const once = async () => {
        const xT = randomNormal([batch, ...gmm.shape], rng);
        const out = sampler.sample(denoiser, xT);
        await out.sample.data();
        xT.dispose();
        out.sample.dispose();
        return out.nfe;
      };
      await once();
      const start = performance.now();
      let nfe = 0;
      for (let r = 0; r < repeats; r++) nfe = await once();
      const secondsPerBatch = (performance.now() - start) / 1000 / repeats;
      results.push({ steps, nfe, secondsPerBatch, samplesPerSecond: batch / secondsPerBatch });
    }
  } finally {
    denoiser.dispose();
  }
  return { spec: gmm.toString(), backend: tf.getBackend(), batch, sampler: samplerName, results };
}

async function main(): Promise<void> {
  await import('@tensorflow/tfjs-backend-wasm');
  await tf.setBackend('wasm');
  for (const schedule of ['flow', 'vp'] as const) {
    const r = await benchAnalyticSampling({ schedule });
    console.log(`analytic teacher ${r.spec} on ${r.backend}, ${r.sampler}, batch ${r.batch}`);
    for (const x of r.results) {
      console.log(`  ${String(x.steps).padStart(3)} steps (NFE ${x.nfe}): ${x.samplesPerSecond.toFixed(1)} samples/s (${(x.secondsPerBatch * 1000).toFixed(1)} ms/batch)`);
    }
  }
}

if (typeof process !== 'undefined' && process.argv[1] !== undefined && /bench-analytic\.[cm]?[jt]s$/.test(process.argv[1])) {
  void main();
}
