import { takeUntil } from 'rxjs';
import { ofType, type EventOf } from '../events.js';
import type { TrainingPlugin } from '../plugin.js';

export interface ProgressBarOptions {
  /** @default process.stderr (stdout stays clean for `--json`) */
  stream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** Force the TTY (redrawn line) or plain (one line per interval) mode. @default stream.isTTY */
  tty?: boolean;
  /** Plain mode: print every `every` steps. @default about 20 lines per run */
  every?: number;
  /** TTY mode: redraw at most every `minIntervalMs`. @default 100 */
  minIntervalMs?: number;
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '--:--';
  const t = Math.round(s);
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = t % 60;
  return (h > 0 ? `${h}:${String(m).padStart(2, '0')}` : String(m)) + `:${String(sec).padStart(2, '0')}`;
}

const fmt = (v: number): string => (Number.isFinite(v) ? (Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(2) : v.toFixed(4)) : String(v));

/**
 * A progress display. On a terminal, one line redrawn in place with `\r` (ANSI erase-line):
 * `[#######.............] 120/1000  12.0%  8.3 it/s  eta 1:46  generator 0.4123  fakeScore 0.0912`.
 * Otherwise (logs, CI), a plain line every `every` steps, and at the end.
 */
export function progressBar(options: ProgressBarOptions = {}): TrainingPlugin {
  return {
    name: 'core:progress-bar',
    attach(ctx) {
      const stream = options.stream ?? process.stderr;
      const tty = options.tty ?? Boolean(stream.isTTY);
      const total = ctx.totalSteps;
      const every = options.every ?? Math.max(1, Math.round(total / 20));
      const minInterval = options.minIntervalMs ?? 100;
      let start = Date.now();
      let startStep = 0;
      let lastDraw = 0;
      let drawn = false;
      const line = (e: EventOf<'step/completed'>): string => {
        const step = e.payload.step;
        const elapsed = (Date.now() - start) / 1000;
        const rate = elapsed > 0 ? (step - startStep) / elapsed : 0;
        const eta = rate > 0 ? (total - step) / rate : NaN;
        const pct = total > 0 ? (100 * step) / total : 100;
        const losses = Object.entries(e.payload.phaseLosses).map(([k, v]) => `${k} ${fmt(v)}`).join('  ');
        const head = `${step}/${total}  ${pct.toFixed(1)}%  ${rate.toFixed(1)} it/s  eta ${formatSeconds(eta)}`;
        if (!tty) return `[fewstep] step ${head}  ${losses}`;
        const width = Math.max(10, Math.min(30, (stream.columns ?? 80) - 70));
        const filled = Math.round((width * Math.min(step, total)) / Math.max(1, total));
        return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${head}  ${losses}`;
      };
      ctx.events$.pipe(ofType('run/started'), takeUntil(ctx.stop$)).subscribe((e) => {
        start = Date.now();
        startStep = e.payload.startStep;
      });
      ctx.events$.pipe(ofType('step/completed'), takeUntil(ctx.stop$)).subscribe((e) => {
        const last = e.payload.step >= total;
        if (tty) {
          const t = Date.now();
          if (!last && t - lastDraw < minInterval) return;
          lastDraw = t;
          const text = line(e);
          const cols = stream.columns ?? 120;
          stream.write(`\r\x1b[2K${text.length > cols - 1 ? text.slice(0, cols - 1) : text}`);
          drawn = true;
        } else if (e.payload.step % every === 0 || last) {
          stream.write(line(e) + '\n');
        }
      });
      ctx.events$.pipe(ofType('checkpoint/saved', 'run/completed', 'run/failed'), takeUntil(ctx.stop$)).subscribe((e) => {
        if (tty && drawn && e.type !== 'checkpoint/saved') {
          stream.write('\n');
          drawn = false;
        }
      });
      return () => {
        if (tty && drawn) stream.write('\n');
      };
    },
  };
}
