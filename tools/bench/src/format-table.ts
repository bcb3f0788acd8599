import type { EngineBenchResult } from './engine-bench.js';

const f1 = (x: number | undefined): string => (x === undefined ? '–' : x.toFixed(1));
const f2 = (x: number | undefined): string => (x === undefined ? '–' : x.toFixed(2));

/**
 * Formats an engine-bench result as markdown: one table of workloads (tfjs ms/step, torch ms/step,
 * ratio, GFLOP/s, loss check), a line on the twin, and, when profiled, a top-kernels table per
 * workload.
 */
export function formatEngineBenchTable(r: EngineBenchResult): string {
  const lines: string[] = [];
  lines.push(`| workload | ${r.backend} ms/step | torch ms/step | ratio | GFLOP/s | params | same math? (loss0 tfjs vs torch) |`);
  lines.push('|---|---:|---:|---:|---:|---:|---|');
  for (const [name, w] of Object.entries(r.workloads)) {
    const check =
      w.lossMatch === undefined
        ? '–'
        : `${w.lossMatch ? 'ok' : 'MISMATCH'} (${w.loss0?.toPrecision(5)} vs ${w.torchLoss0?.toPrecision(5)})`;
    lines.push(
      `| ${name} | ${f1(w.ms)} | ${f1(w.torchMs)} | ${w.ratio === undefined ? '–' : `${f2(w.ratio)}×`} | ${f2(w.gflops)} | ${w.params ?? '–'} | ${check} |`,
    );
  }
  lines.push('');
  lines.push(
    r.torch.available
      ? `Median of ${r.steps} steps after ${r.warmup} warm-up; torch ${r.torch.version} on CPU, ${r.torch.threads} threads, BLAS ${r.torch.blas ?? 'unknown'}. ratio = ${r.backend} ms / torch ms (lower is better).` +
          (r.torch.referenceBlas
            ? ' WARNING: torch used the netlib reference BLAS (about 10x slower matmuls than OpenBLAS); install libopenblas0-pthread for a fair baseline.'
            : '')
      : `Median of ${r.steps} steps after ${r.warmup} warm-up; torch twin not run: ${r.torch.reason ?? 'unknown reason'}.`,
  );
  if (r.profile) {
    for (const [name, rows] of Object.entries(r.profile)) {
      lines.push('');
      lines.push(`Top kernels by self time, ${name} (one profiled step; incl. = with the kernels it ran):`);
      lines.push('');
      lines.push('| kernel | self ms | share | calls | incl. ms |');
      lines.push('|---|---:|---:|---:|---:|');
      for (const k of rows) {
        lines.push(`| ${k.kernel} | ${f2(k.ms)} | ${(100 * k.share).toFixed(1)}% | ${k.calls ?? '–'} | ${f2(k.inclusiveMs)} |`);
      }
    }
  }
  return lines.join('\n');
}
