export interface LineSeries {
  name: string;
  points: ReadonlyArray<readonly [number, number]>;
}

export interface LinePlotOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  /** Log-scale y axis (values <= 0 are dropped). @default false */
  logY?: boolean;
  width?: number;
  height?: number;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function niceTicks(lo: number, hi: number, count: number): number[] {
  if (!(hi > lo)) return [lo];
  const step = 10 ** Math.floor(Math.log10((hi - lo) / count));
  const err = ((hi - lo) / count) / step;
  const s = step * (err >= 7.5 ? 10 : err >= 3.5 ? 5 : err >= 1.5 ? 2 : 1);
  const out: number[] = [];
  for (let v = Math.ceil(lo / s) * s; v <= hi + s * 1e-9; v += s) out.push(Number(v.toPrecision(12)));
  return out;
}

/** A self-contained SVG line plot (axes, ticks, legend) for loss curves and metric sweeps. */
export function linePlotSvg(series: readonly LineSeries[], options: LinePlotOptions): string {
  const W = options.width ?? 640;
  const H = options.height ?? 360;
  const m = { l: 64, r: 16, t: 36, b: 48 };
  const ty = (v: number) => (options.logY ? Math.log10(v) : v);
  const pts = series.map((s) => s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!options.logY || y > 0)));
  const xs = pts.flat().map((p) => p[0]);
  const ys = pts.flat().map((p) => ty(p[1]));
  const [x0, x1] = xs.length ? [Math.min(...xs), Math.max(...xs)] : [0, 1];
  let [y0, y1] = ys.length ? [Math.min(...ys), Math.max(...ys)] : [0, 1];
  if (y1 === y0) [y0, y1] = [y0 - 0.5, y1 + 0.5];
  const sx = (x: number) => m.l + ((x - x0) / (x1 - x0 || 1)) * (W - m.l - m.r);
  const sy = (y: number) => H - m.b - ((ty(y) - y0) / (y1 - y0)) * (H - m.t - m.b);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${W / 2}" y="20" text-anchor="middle" font-size="13">${esc(options.title)}</text>`);
  parts.push(`<line x1="${m.l}" y1="${H - m.b}" x2="${W - m.r}" y2="${H - m.b}" stroke="#333"/>`);
  parts.push(`<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${H - m.b}" stroke="#333"/>`);
  for (const x of niceTicks(x0, x1, 6)) {
    parts.push(`<line x1="${sx(x)}" y1="${H - m.b}" x2="${sx(x)}" y2="${H - m.b + 4}" stroke="#333"/><text x="${sx(x)}" y="${H - m.b + 16}" text-anchor="middle">${x}</text>`);
  }
  const yTicks = options.logY ? niceTicks(Math.floor(y0), Math.ceil(y1), 5).filter((e) => Number.isInteger(e)).map((e) => 10 ** e) : niceTicks(y0, y1, 5);
  for (const y of yTicks) {
    const py = sy(y);
    if (py < m.t - 1 || py > H - m.b + 1) continue;
    parts.push(`<line x1="${m.l - 4}" y1="${py}" x2="${W - m.r}" y2="${py}" stroke="#ddd"/><text x="${m.l - 6}" y="${py + 4}" text-anchor="end">${Number(y.toPrecision(3))}</text>`);
  }
  parts.push(`<text x="${W / 2}" y="${H - 10}" text-anchor="middle">${esc(options.xLabel)}</text>`);
  parts.push(`<text x="14" y="${H / 2}" text-anchor="middle" transform="rotate(-90 14 ${H / 2})">${esc(options.yLabel)}${options.logY ? ' (log)' : ''}</text>`);
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const p = pts[i]!;
    if (p.length > 0) {
      parts.push(`<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${p.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ')}"/>`);
    }
    parts.push(`<rect x="${W - m.r - 150}" y="${m.t + 4 + i * 16}" width="10" height="10" fill="${color}"/><text x="${W - m.r - 135}" y="${m.t + 13 + i * 16}">${esc(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}
