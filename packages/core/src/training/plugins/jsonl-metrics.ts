import * as nodePath from 'node:path';
import { takeUntil } from 'rxjs';
import { ConfigError } from '../../errors.js';
import { ofType } from '../events.js';
import type { TrainingPlugin } from '../plugin.js';
import { BufferedFile } from './buffered-file.js';
import { stepScalars } from './step-scalars.js';

export interface JsonlMetricsOptions {
  /** @default `<outDir>/metrics.jsonl` */
  path?: string;
}

/**
 * Writes one JSON line per completed step to `<outDir>/metrics.jsonl`:
 * `{"step":12,"time":…,"seconds":…,"loss/generator":…,"loss/generator/dmd":…,"lr/generator":…,…}`
 * (see {@link stepScalars}; non-finite values are written as `null`). On resume, lines of steps
 * after the resumed checkpoint (work lost with the killed process) and a torn last line are
 * dropped first, so the file describes the run that the checkpoints continue.
 */
export function jsonlMetrics(options: JsonlMetricsOptions = {}): TrainingPlugin {
  return {
    name: 'core:jsonl-metrics',
    attach(ctx) {
      const path = options.path ?? (ctx.outDir === undefined ? undefined : nodePath.join(ctx.outDir, 'metrics.jsonl'));
      if (path === undefined) throw new ConfigError('jsonlMetrics.path', undefined, 'a file path', 'set outDir on the run or pass { path }');
      const file = new BufferedFile(path);
      ctx.events$.pipe(ofType('run/started'), takeUntil(ctx.stop$)).subscribe((e) => {
        const start = e.payload.startStep;
        file.rewrite((text) =>
          text
            .split('\n')
            .filter((line) => {
              try {
                const step = (JSON.parse(line) as { step?: unknown }).step;
                return typeof step === 'number' && step <= start;
              } catch {
                return false;
              }
            })
            .map((l) => l + '\n')
            .join(''),
        );
      });
      ctx.events$.pipe(ofType('step/completed'), takeUntil(ctx.stop$)).subscribe((e) => {
        file.write(JSON.stringify({ step: e.payload.step, time: e.metadata.time, ...stepScalars(e) }) + '\n');
      });
      return () => file.close();
    },
  };
}
