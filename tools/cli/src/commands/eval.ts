import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { intOption } from '../options.js';
import { makeOutput } from '../output.js';

/**
 * `fewstep eval`: on a mixture spec, ground-truth metrics of a sample set against the analytic
 * mixture; on video data (a `shapes-video:` spec or a DIR reference), the video metrics of
 * @fewstep/eval: Frechet distance on the features of a versioned video feature network,
 * sharpness, temporal change, diversity, caption agreement, plus the sampler's speed.
 */
export function evalCommand(): Command {
  return new Command('eval')
    .description(
      'score samples against a reference: on a gmm-video mixture, mode coverage, precision, TV, spread ratio, energy distance; on video data (shapes-video spec or DIR), ' +
        'Frechet distance on fewstep-video-features, sharpness, temporal change, diversity, caption agreement, NFE and ms/sample',
    )
    .requiredOption('--samples <dir>', 'directory written by fewstep sample (samples.safetensors + sample-info.json), or PNG frame folders (<dir>/<video>/frame-0000.png, caption.txt)')
    .requiredOption(
      '--reference <spec|dir>',
      "the exact distribution 'gmm-video:modes=16,frames=8,size=8,channels=3,std=0.05,seed=7' (analytic: prefix optional), " +
        "or real videos: 'shapes-video:frames=8,size=16,seed=1' (clips 0..n-1 of the spec) or a DIR (PNG frame folders or samples.safetensors)",
    )
    .option('--n-reference <n>', 'video reference: clips to draw from a shapes-video spec, or the first clips of a DIR (default: the number of samples)', intOption('--n-reference', 2))
    .option('--features <dir>', 'video reference: the feature network directory (default: the committed fewstep-video-features v1; train one with fewstep train-features)')
    .option('--json', 'print one JSON object')
    .action(async (opts: { samples: string; reference: string; nReference?: number; features?: string; json?: boolean }) => {
      const out = makeOutput(Boolean(opts.json));
      const { isVideoReference } = await import('../features/video-sets.js');
      if (isVideoReference(opts.reference)) {
        const core = await import('@fewstep/core');
        await core.initEngine({ report: !opts.json });
        const { evalVideos } = await import('../features/eval-videos.js');
        await evalVideos({ samples: opts.samples, reference: opts.reference, ...(opts.nReference === undefined ? {} : { nReference: opts.nReference }), ...(opts.features === undefined ? {} : { features: opts.features }) }, out);
        return;
      }
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
