import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { makeOutput } from '../output.js';

/** `fewstep eval`: ground-truth metrics of a sample set against an analytic mixture. */
export function evalCommand(): Command {
  return new Command('eval')
    .description('score samples (DIR/samples.safetensors from fewstep sample) against a reference: mode coverage, precision, TV, spread ratio, energy distance')
    .requiredOption('--samples <dir>', 'directory written by fewstep sample')
    .requiredOption('--reference <spec>', "the exact distribution: 'gmm-video:modes=16,frames=8,size=8,channels=3,std=0.05,seed=7' (analytic: prefix optional)")
    .option('--json', 'print one JSON object')
    .action(async (opts: { samples: string; reference: string; json?: boolean }) => {
      const out = makeOutput(Boolean(opts.json));
      const core = await import('@fewstep/core');
      const tf = await import('@tensorflow/tfjs-core');
      const dir = resolve(opts.samples);
      const file = join(dir, 'samples.safetensors');
      if (!existsSync(file)) {
        throw new core.ConfigError('--samples', opts.samples, 'a directory containing samples.safetensors', 'write one with `fewstep sample --out DIR`');
      }
      const gmm = core.gmmVideo(opts.reference.replace(/^analytic:/, ''));
      await core.initEngine({ report: !opts.json });
      const { tensors } = await core.readSafetensors(file, { names: ['samples'] });
      const t = tensors.get('samples');
      if (!t) throw new core.ConfigError('--samples', file, "a safetensors file with a tensor named 'samples'");
      const expected = gmm.shape.join(',');
      if (t.shape.slice(1).join(',') !== expected) {
        throw new core.ShapeError(`samples in ${file}`, t.shape, `[N, ${gmm.shape.join(', ')}] for ${gmm.toString()}`, 'evaluate against the spec the samples were drawn from');
      }
      const x = tf.tensor(t.data as Float32Array, t.shape as number[], 'float32');
      const metrics = core.mixtureMetrics(gmm, x);
      x.dispose();
      const infoFile = join(dir, 'sample-info.json');
      const info = existsSync(infoFile) ? (JSON.parse(readFileSync(infoFile, 'utf8')) as { nfe?: number; msPerSample?: number; solver?: string; steps?: number }) : {};
      const { modeCounts, ...scalars } = metrics;
      const result = { samples: dir, reference: gmm.toString(), ...scalars, modeCounts, nfe: info.nfe, msPerSample: info.msPerSample };
      out.result(result);
      out.text(
        [
          `reference ${gmm.toString()}  (${metrics.n} samples${info.solver ? `, ${info.solver} ${info.steps} steps, NFE ${info.nfe}` : ''})`,
          `  mode coverage   ${metrics.modeCoverage.toFixed(3)}`,
          `  precision       ${metrics.precision.toFixed(3)}`,
          `  total variation ${metrics.totalVariation.toFixed(3)}`,
          `  spread ratio    ${metrics.spreadRatio.toFixed(3)}`,
          `  energy distance ${metrics.energyDistance.toFixed(4)}`,
        ].join('\n'),
      );
    });
}
