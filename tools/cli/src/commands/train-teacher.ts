import { Command } from 'commander';
import { z } from 'zod';
import { intOption } from '../options.js';
import { makeOutput } from '../output.js';
import { readConfigFile } from './distill.js';

/** `--config FILE` of `fewstep train-teacher`; flags override it. */
export const trainTeacherConfigSchema = z.strictObject({
  data: z.string().optional(),
  backbone: z.enum(['video-dit', 'video-unet']).optional(),
  preset: z.string().optional(),
  schedule: z.enum(['flow', 'vp']).optional(),
  steps: z.number().int().min(1).optional(),
  batch: z.number().int().min(1).optional(),
  lr: z.number().positive().optional(),
  seed: z.number().int().min(0).optional(),
  checkpointEvery: z.number().int().min(1).optional(),
  task: z.enum(['t2v', 'i2v']).optional(),
  condDropout: z.number().min(0).lt(1).optional(),
  imageNoise: z.union([z.number().min(0), z.literal('lognormal')]).optional(),
  init: z.string().optional(),
});

/** `fewstep train-teacher`: train a video diffusion teacher and write it as a model directory. */
export function trainTeacherCommand(): Command {
  return new Command('train-teacher')
    .description("train a video diffusion teacher (exact targets on 'gmm-video:' / 'gmm-i2v:', denoising score matching on 'shapes-video:'); --task i2v: image-to-video, the first frame is the condition; writes DIR/model.json, checkpoints, metrics.jsonl")
    .option('--data <spec>', "'gmm-video:modes=16,frames=4,size=4,channels=3,std=0.25,seed=7', 'gmm-i2v:...' (same fields) or 'shapes-video:frames=8,size=16,seed=1'")
    .option('--task <task>', "t2v (default) | i2v (image-to-video: the first frame of each video is its condition; default for 'gmm-i2v:' data)")
    .option('--cond-dropout <p>', 'i2v: probability of the empty condition per sample (classifier-free guidance; default 0.1)', Number)
    .option('--image-noise <s|lognormal>', "i2v: augmentation level of the conditioning frame: a number (0 = clean) or 'lognormal' (default: half clean, half log-normal around 0.05)")
    .option('--init <dir>', 'initialise from a model directory (strict: false; e.g. an unconditional teacher for an i2v one)')
    .option('--backbone <name>', 'video-dit | video-unet')
    .option('--preset <name>', 'backbone preset: tiny | small | base')
    .option('--schedule <name>', 'flow (flow matching, flow prediction) | vp (scaled-linear VP, epsilon prediction)')
    .option('--steps <n>', 'training steps', intOption('--steps', 1))
    .option('--batch <n>', 'batch size', intOption('--batch', 1))
    .option('--lr <x>', 'peak learning rate (AdamW, warm-up + cosine)', Number)
    .option('--seed <n>', 'seed', intOption('--seed', 0))
    .option('--checkpoint-every <n>', 'steps between checkpoints', intOption('--checkpoint-every', 1))
    .option('--config <file>', 'JSON or YAML with the same fields; flags override it')
    .requiredOption('--out <dir>', 'the model directory to write (a killed run resumes from its checkpoints)')
    .option('--json', 'print one JSON object { dir, sampleShape, parameters, seconds }')
    .action(async (opts: { data?: string; task?: string; condDropout?: number; imageNoise?: string; init?: string; backbone?: string; preset?: string; schedule?: string; steps?: number; batch?: number; lr?: number; seed?: number; checkpointEvery?: number; config?: string; out: string; json?: boolean }) => {
      const out = makeOutput(Boolean(opts.json));
      const core = await import('@fewstep/core');
      const cfg = opts.config ? await readConfigFile(opts.config, trainTeacherConfigSchema) : {};
      const data = opts.data ?? cfg.data;
      const steps = opts.steps ?? cfg.steps;
      if (!data) throw new core.ConfigError('--data', data, "a 'gmm-video:...', 'gmm-i2v:...' or 'shapes-video:...' spec");
      if (steps === undefined) throw new core.ConfigError('--steps', steps, 'an integer >= 1');
      const backbone = opts.backbone ?? cfg.backbone ?? 'video-dit';
      if (backbone !== 'video-dit' && backbone !== 'video-unet') throw new core.ConfigError('--backbone', backbone, "'video-dit' or 'video-unet'");
      const schedule = opts.schedule ?? cfg.schedule ?? 'flow';
      if (schedule !== 'flow' && schedule !== 'vp') throw new core.ConfigError('--schedule', schedule, "'flow' or 'vp'");
      const lr = opts.lr ?? cfg.lr ?? 2e-3;
      if (!(lr > 0)) throw new core.ConfigError('--lr', opts.lr, 'a number > 0');
      const { trainTeacher, resolveTeacherTask } = await import('../teacher/train-teacher.js');
      const { parseImageNoise } = await import('../teacher/fit-analytic-teacher.js');
      const task = resolveTeacherTask(data, opts.task ?? cfg.task);
      const condDropout = opts.condDropout ?? cfg.condDropout;
      if (condDropout !== undefined && !(condDropout >= 0 && condDropout < 1)) throw new core.ConfigError('--cond-dropout', opts.condDropout, 'a probability in [0, 1)');
      const rawNoise = opts.imageNoise ?? cfg.imageNoise;
      const imageNoise = rawNoise === undefined ? undefined : parseImageNoise(rawNoise);
      const init = opts.init ?? cfg.init;
      const engine = await core.initEngine({ report: !opts.json });
      const every = opts.checkpointEvery ?? cfg.checkpointEvery;
      const r = await trainTeacher({
        data,
        task,
        ...(condDropout === undefined ? {} : { condDropout }),
        ...(imageNoise === undefined ? {} : { imageNoise }),
        ...(init === undefined ? {} : { init }),
        backbone,
        preset: opts.preset ?? cfg.preset ?? 'tiny',
        schedule,
        steps,
        out: opts.out,
        batchSize: opts.batch ?? cfg.batch ?? 32,
        lr,
        seed: opts.seed ?? cfg.seed ?? 1,
        ...(every === undefined ? {} : { checkpointEvery: every }),
      });
      out.text(`teacher: ${r.dir} (${backbone}, task ${r.task}, ${r.parameters} parameters, samples [${r.sampleShape.join(', ')}], ${r.seconds.toFixed(0)} s on ${engine.backend}); distill it with: fewstep distill --recipe lcm --teacher ${r.dir} --data ${data} --steps 500 --out runs/lcm`);
      out.result(r);
    });
}
