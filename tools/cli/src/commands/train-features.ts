import { Command } from 'commander';
import { intOption } from '../options.js';
import { makeOutput } from '../output.js';

/**
 * `fewstep train-features`: train the video feature network that `fewstep eval` uses for its
 * Frechet distance and caption agreement (see tools/eval/assets/video-features-v1/README.md for
 * how the committed one was made). Every option may also come from `--config FILE`.
 */
export function trainFeaturesCommand(): Command {
  return new Command('train-features')
    .description('train the video feature network of `fewstep eval` (caption-attribute classifier on shapes-video clips); writes DIR/model.json, model.safetensors, checkpoints, metrics.jsonl')
    .option('--data <spec>', "the clips to train on, e.g. 'shapes-video:frames=8,size=16,seed=1,n=65536' (n: clips per epoch)")
    .option('--steps <n>', 'training steps', intOption('--steps', 1))
    .option('--out <dir>', 'the model directory to write (a killed run resumes from its checkpoints)')
    .option('--batch-size <n>', 'clips per step (default 32)', intOption('--batch-size', 1))
    .option('--lr <x>', 'peak learning rate (AdamW, warm-up + cosine; default 2e-3)', Number)
    .option('--seed <n>', 'seed of the initial weights and the data order (default 1)', intOption('--seed', 0))
    .option('--checkpoint-every <n>', 'steps between checkpoints (default steps / 4)', intOption('--checkpoint-every', 1))
    .option('--held-out <n>', 'held-out clips scored at the end (default 512)', intOption('--held-out', 1))
    .option('--json', 'print one JSON object { dir, data, parameters, steps, seconds, heldOut }')
    .action(async (opts: { data?: string; steps?: number; out?: string; batchSize?: number; lr?: number; seed?: number; checkpointEvery?: number; heldOut?: number; json?: boolean }) => {
      const out = makeOutput(Boolean(opts.json));
      const core = await import('@fewstep/core');
      const data = await import('@fewstep/data');
      if (!opts.data) throw new core.ConfigError('--data', opts.data, "a 'shapes-video:...' spec", 'e.g. --data shapes-video:frames=8,size=16,seed=1,n=65536');
      const spec = data.parseShapesVideoSpec(opts.data);
      if (opts.steps === undefined) throw new core.ConfigError('--steps', opts.steps, 'an integer >= 1');
      if (!opts.out) throw new core.ConfigError('--out', opts.out, 'a directory to write the model to');
      const lr = opts.lr ?? 2e-3;
      if (!(lr > 0) || !Number.isFinite(lr)) throw new core.ConfigError('--lr', opts.lr, 'a number > 0');
      const batchSize = opts.batchSize ?? 32;
      if (batchSize > spec.n) throw new core.ConfigError('--batch-size', batchSize, `at most n = ${spec.n} (clips per epoch of ${opts.data})`);
      const engine = await core.initEngine({ report: !opts.json });
      const { trainFeatures } = await import('../features/train-features.js');
      const r = await trainFeatures({
        data: opts.data,
        steps: opts.steps,
        out: opts.out,
        batchSize,
        lr,
        seed: opts.seed ?? 1,
        ...(opts.checkpointEvery === undefined ? {} : { checkpointEvery: opts.checkpointEvery }),
        ...(opts.heldOut === undefined ? {} : { heldOut: opts.heldOut }),
      });
      const h = r.heldOut;
      out.text(
        [
          `feature network: ${r.dir} (${r.parameters} parameters, ${r.steps} steps on ${engine.backend}, ${r.seconds.toFixed(0)} s)`,
          `held-out accuracy on ${h.n} fresh clips: presence ${pct(h.presence)}, shape ${pct(h.shape)}, direction ${pct(h.direction)}; captions fully right ${pct(h.caption.all)}`,
          `use it with: fewstep eval --samples DIR --reference ${r.data} --features ${r.dir}`,
        ].join('\n'),
      );
      out.result(r);
    });
}

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
