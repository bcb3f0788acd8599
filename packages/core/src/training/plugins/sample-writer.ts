import * as nodePath from 'node:path';
import * as fsp from 'node:fs/promises';
import { ConfigError } from '../../errors.js';
import type { Network } from '../../nn/network.js';
import type { TrainingPlugin } from '../plugin.js';

/** What the sample function gets. */
export interface SampleRequest {
  /** Completed steps. */
  readonly step: number;
  readonly networks: Readonly<Record<string, Network>>;
  /** `<outDir>/samples/step-000120` (created), where the function writes its files. */
  readonly dir: string;
}

export interface SampleWriterOptions {
  /** Call `write` after every `every` completed steps. */
  every: number;
  /** Writes samples (free every tensor); returns the paths written. */
  write(request: SampleRequest): Promise<readonly string[] | void> | readonly string[] | void;
  /** @default `<outDir>/samples` */
  dir?: string;
  /** Also sample after the last step. @default true */
  atEnd?: boolean;
}

/**
 * A periodic sample hook: awaited inside the training loop after every `every` steps (between
 * steps, so the networks are consistent), then emits `sample/written { step, files }`.
 */
export function sampleWriter(options: SampleWriterOptions): TrainingPlugin {
  const { every, write, atEnd = true } = options;
  if (!Number.isInteger(every) || every < 1) throw new ConfigError('sampleWriter.every', every, 'an integer >= 1');
  if (typeof write !== 'function') throw new ConfigError('sampleWriter.write', write, 'a function ({ step, networks, dir }) => paths');
  return {
    name: 'core:sample-writer',
    async afterStep(ctx) {
      if (ctx.step % every !== 0 && !(atEnd && ctx.step === ctx.totalSteps)) return;
      const root = options.dir ?? (ctx.outDir === undefined ? undefined : nodePath.join(ctx.outDir, 'samples'));
      if (root === undefined) throw new ConfigError('sampleWriter.dir', undefined, 'a directory', 'set outDir on the run or pass { dir }');
      const dir = nodePath.join(root, `step-${String(ctx.step).padStart(6, '0')}`);
      await fsp.mkdir(dir, { recursive: true });
      const files = (await write({ step: ctx.step, networks: ctx.networks, dir })) ?? [];
      ctx.emit({ type: 'sample/written', payload: { step: ctx.step, plugin: 'core:sample-writer', files: [...files] } });
    },
  };
}
