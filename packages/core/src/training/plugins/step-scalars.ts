import type { EventOf } from '../events.js';

/**
 * The scalars of a `step/completed` event as flat tags, shared by the JSONL and TensorBoard
 * writers: `loss/<phase>` (weighted total), `loss/<phase>/<term>`, `metric/<phase>/<term>/<name>`,
 * `lr/<phase>`, `grad_norm/<phase>`, `seconds`.
 */
export function stepScalars(e: EventOf<'step/completed'>): Record<string, number> {
  const p = e.payload;
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(p.phaseLosses)) out[`loss/${k}`] = v;
  for (const [k, v] of Object.entries(p.losses)) out[`loss/${k}`] = v;
  for (const [k, v] of Object.entries(p.metrics)) out[`metric/${k}`] = v;
  for (const [k, v] of Object.entries(p.lr)) out[`lr/${k}`] = v;
  for (const [k, v] of Object.entries(p.gradNorm)) out[`grad_norm/${k}`] = v;
  out['seconds'] = p.seconds;
  return out;
}
