/**
 * Runs the backbone benchmark and prints a markdown table:
 *
 *   npx tsx --conditions=@fewstep/source packages/backbones/src/bench-backbones-main.ts [--backend wasm|cpu] [--presets tiny,small]
 *       [--backbones video-unet,video-dit,image-unet,text-encoder] [--reps 3] [--json]
 */
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { initEngine } from '@fewstep/core';
import { benchBackbones, formatBenchTable } from './bench-backbones.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

await initEngine({ backend: arg('--backend') ?? 'wasm', report: false });
const rows = await benchBackbones({
  presets: (arg('--presets') ?? 'tiny,small').split(','),
  ...(arg('--backbones') ? { backbones: arg('--backbones')!.split(',') } : {}),
  reps: Number(arg('--reps') ?? 3),
  onProgress: (m) => process.stderr.write(`${m}\n`),
});
process.stdout.write(process.argv.includes('--json') ? `${JSON.stringify(rows)}\n` : `${formatBenchTable(rows)}\n`);
