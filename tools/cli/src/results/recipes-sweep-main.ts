/**
 * `npm run results [-- --out DIR] [--scale F] [--only a,b]`: the recipes sweep behind docs/RESULTS.md.
 */
import 'reflect-metadata';
import { writeResults } from './recipes-sweep.js';

const args = process.argv.slice(2);
const arg = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const scale = Number(arg('--scale') ?? 1);
const only = arg('--only')?.split(',');
const out = arg('--out') ?? 'fewstep-results';
const docs = arg('--docs') ?? 'docs';
const r = await writeResults({ out, docs, scale, ...(only ? { only } : {}), command: `npm run results${scale !== 1 ? ` -- --scale ${scale}` : ''}` });
process.stderr.write(`results: ${docs}/RESULTS.md (${(r.seconds / 60).toFixed(1)} min)\n`);
