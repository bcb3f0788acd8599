import * as os from 'node:os';
import * as nodePath from 'node:path';
import { takeUntil } from 'rxjs';
import { ConfigError } from '../../errors.js';
import { ofType } from '../events.js';
import type { TrainingPlugin } from '../plugin.js';
import { BufferedFile } from './buffered-file.js';
import { stepScalars } from './step-scalars.js';
import { encodeFileVersionEvent, encodeScalarsEvent, frameRecord } from './tfevents.js';

export interface TensorboardOptions {
  /** @default `<outDir>/tensorboard` */
  dir?: string;
}

/**
 * Writes the step scalars (see {@link stepScalars}) to a TensorBoard event file
 * `<dir>/events.out.tfevents.<seconds>.<host>` (TFRecord framing, CRC-32C), one file per process;
 * `tensorboard --logdir <outDir>/tensorboard` reads it.
 */
export function tensorboard(options: TensorboardOptions = {}): TrainingPlugin {
  return {
    name: 'core:tensorboard',
    attach(ctx) {
      const dir = options.dir ?? (ctx.outDir === undefined ? undefined : nodePath.join(ctx.outDir, 'tensorboard'));
      if (dir === undefined) throw new ConfigError('tensorboard.dir', undefined, 'a directory', 'set outDir on the run or pass { dir }');
      const wall = Date.now() / 1000;
      const host = os.hostname().replace(/[^A-Za-z0-9._-]/g, '_');
      const file = new BufferedFile(nodePath.join(dir, `events.out.tfevents.${Math.floor(wall)}.${host}.${process.pid}`), { truncate: true });
      file.write(frameRecord(encodeFileVersionEvent(wall)));
      ctx.events$.pipe(ofType('step/completed'), takeUntil(ctx.stop$)).subscribe((e) => {
        const scalars = Object.fromEntries(Object.entries(stepScalars(e)).filter(([, v]) => Number.isFinite(v)));
        file.write(frameRecord(encodeScalarsEvent(e.metadata.time / 1000, e.payload.step, scalars)));
      });
      return () => file.close();
    },
  };
}
