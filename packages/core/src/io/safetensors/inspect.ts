import { dtypeBits, type SafetensorsDtype } from './dtypes.js';
import { readSafetensorsHeader } from './reader.js';
import { INDEX_SUFFIX, readShardedSafetensors } from './sharded.js';

/** One row of {@link SafetensorsSummary}. */
export interface SafetensorsSummaryTensor {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  readonly bytes: number;
  /** Shard file (sharded checkpoints only). */
  readonly shard?: string;
}

/** What `fewstep inspect FILE` prints: validated header facts only, no tensor data read. */
export interface SafetensorsSummary {
  readonly path: string;
  readonly kind: 'file' | 'sharded';
  readonly fileBytes: number;
  readonly headerBytes: number;
  readonly metadata: ReadonlyMap<string, string> | null;
  readonly tensors: readonly SafetensorsSummaryTensor[];
  readonly totalTensorBytes: number;
}

/**
 * Validates a `.safetensors` file (or a `*.safetensors.index.json` and all its shards) reading
 * only headers, and summarises it. Throws the typed {@link SafetensorsError} on an invalid file;
 * the CLI prints its message and exits non-zero.
 */
export async function summarizeSafetensors(path: string): Promise<SafetensorsSummary> {
  if (path.endsWith(INDEX_SUFFIX)) {
    const r = await readShardedSafetensors(path, { headerOnly: true });
    const tensors: SafetensorsSummaryTensor[] = [];
    let fileBytes = 0;
    let headerBytes = 0;
    for (const [shard, h] of r.headers) {
      fileBytes += h.fileSize;
      headerBytes += h.dataStart;
      for (const t of h.tensors) tensors.push({ name: t.name, dtype: t.dtype, shape: t.shape, bytes: t.byteLength, shard });
    }
    return { path, kind: 'sharded', fileBytes, headerBytes, metadata: r.metadata, tensors, totalTensorBytes: sum(tensors) };
  }
  const h = await readSafetensorsHeader(path);
  const tensors = h.tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, bytes: t.byteLength }));
  return { path, kind: 'file', fileBytes: h.fileSize, headerBytes: h.dataStart, metadata: h.metadata, tensors, totalTensorBytes: sum(tensors) };
}

function sum(ts: readonly SafetensorsSummaryTensor[]): number {
  return ts.reduce((a, t) => a + t.bytes, 0);
}

/** Human-readable size, e.g. `1.50 MiB (1572864 B)`. */
function size(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(2)} ${units[u]} (${n} B)`;
}

/** Renders a summary as plain text; names are JSON-quoted so control characters stay visible. */
export function formatSafetensorsSummary(s: SafetensorsSummary): string {
  const lines: string[] = [];
  lines.push(`${s.path}: safetensors ${s.kind === 'sharded' ? 'checkpoint (sharded)' : 'file'}, ${size(s.fileBytes)}, headers ${size(s.headerBytes)}`);
  if (s.metadata === null) lines.push('metadata: (none)');
  else {
    lines.push(`metadata: ${s.metadata.size} key(s)`);
    for (const [k, v] of s.metadata) lines.push(`  ${JSON.stringify(k)}: ${JSON.stringify(v.length > 200 ? `${v.slice(0, 200)}…` : v)}`);
  }
  const params = s.tensors.reduce((a, t) => a + (t.bytes * 8) / dtypeBits(t.dtype), 0);
  lines.push(`tensors: ${s.tensors.length}, ${params} elements, ${size(s.totalTensorBytes)}`);
  const rows = s.tensors.map((t) => [JSON.stringify(t.name), t.dtype, `[${t.shape.join(', ')}]`, String(t.bytes), t.shard ?? '']);
  const widths = [0, 1, 2, 3].map((c) => Math.max(...rows.map((r) => (r[c] as string).length), ['name', 'dtype', 'shape', 'bytes'][c]!.length));
  const fmt = (r: string[]) =>
    `  ${r[0]!.padEnd(widths[0]!)}  ${r[1]!.padEnd(widths[1]!)}  ${r[2]!.padEnd(widths[2]!)}  ${r[3]!.padStart(widths[3]!)}${r[4] ? `  ${r[4]}` : ''}`;
  if (rows.length > 0) {
    lines.push(fmt(['name', 'dtype', 'shape', 'bytes', s.kind === 'sharded' ? 'shard' : '']));
    for (const r of rows) lines.push(fmt(r));
  }
  return lines.join('\n');
}

/** `summarizeSafetensors` + `formatSafetensorsSummary`: the text `fewstep inspect FILE` prints. */
export async function inspectSafetensors(path: string): Promise<string> {
  return formatSafetensorsSummary(await summarizeSafetensors(path));
}
