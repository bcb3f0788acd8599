import type { LoadedTensor } from '@fewstep/core';

/**
 * Key normalisation of transformers checkpoints before strict binding: the encoder's prefix is
 * stripped (bare model classes have none; `Dinov2ForImageClassification` nests it under
 * `dinov2.`, `SamModel` / `SamVisionModel` under `vision_encoder.`), and the transformers-5
 * in-memory names (`attention.q_proj`, `mlp.gate_proj` + `mlp.up_proj`) are mapped back to the
 * names checkpoints are written with (`attention.attention.query`, fused `mlp.weights_in`).
 */
export interface KeyLayout {
  /** Candidate prefixes, tried in order; the first under which `probe` exists wins. */
  readonly prefixes: readonly string[];
  /** A key every checkpoint of this model has (after the prefix). */
  readonly probe: string;
  /** Top-level modules of the enclosing model that the critic does not use (ignored when a prefix was found). */
  readonly siblings: readonly string[];
  /** Keys under the prefix that are allowed but unused. */
  readonly unused: readonly string[];
}

export const DINOV2_KEYS: KeyLayout = {
  prefixes: ['', 'dinov2.', 'dinov2_with_registers.'],
  probe: 'embeddings.patch_embeddings.projection.weight',
  siblings: ['classifier.'],
  unused: ['embeddings.mask_token'],
};

export const SAM_KEYS: KeyLayout = {
  prefixes: ['vision_encoder.', ''],
  probe: 'patch_embed.projection.weight',
  siblings: ['prompt_encoder.', 'mask_decoder.', 'shared_image_embedding.'],
  unused: [],
};

/** transformers-5 module names → checkpoint names (the inverse of its load-time renaming). */
const RENAMES: readonly (readonly [RegExp, string])[] = [
  [/\.attention\.q_proj\./, '.attention.attention.query.'],
  [/\.attention\.k_proj\./, '.attention.attention.key.'],
  [/\.attention\.v_proj\./, '.attention.attention.value.'],
  [/\.attention\.o_proj\./, '.attention.output.dense.'],
  [/\.mlp\.down_proj\./, '.mlp.weights_out.'],
];

export interface NormalizedCheckpoint {
  /** Tensors under the prefix, by the critic's own key names. */
  readonly tensors: Map<string, LoadedTensor>;
  /** The prefix that was stripped (`''` for a bare model). */
  readonly prefix: string;
  /** Keys outside the prefix that are not allowed there (reported as unexpected, full names). */
  readonly unexpectedOutside: string[];
}

function concatRows(a: LoadedTensor, b: LoadedTensor): LoadedTensor {
  const data = new Float32Array(a.data.length + b.data.length);
  data.set(a.data as Float32Array, 0);
  data.set(b.data as Float32Array, a.data.length);
  return { dtype: 'F32', shape: [a.shape[0]! + b.shape[0]!, ...a.shape.slice(1)], data, nonFinite: a.nonFinite + b.nonFinite };
}

/**
 * Strips the prefix and maps transformers-5 names. With an explicit `prefix`, keys outside it are
 * ignored (the caller declared that the encoder is one module of a larger model); without one,
 * keys outside the detected prefix must belong to the known sibling modules.
 */
export function normalizeCheckpoint(all: ReadonlyMap<string, LoadedTensor>, layout: KeyLayout, explicitPrefix?: string): NormalizedCheckpoint {
  const prefix = explicitPrefix ?? layout.prefixes.find((p) => all.has(p + layout.probe)) ?? layout.prefixes[0]!;
  const tensors = new Map<string, LoadedTensor>();
  const outside: string[] = [];
  for (const [key, t] of all) {
    if (!key.startsWith(prefix)) {
      outside.push(key);
      continue;
    }
    let k = key.slice(prefix.length);
    for (const [re, to] of RENAMES) k = k.replace(re, to);
    tensors.set(k, t);
  }
  // SwiGLU: transformers 5 splits `weights_in` into gate_proj (first half) and up_proj.
  for (const key of [...tensors.keys()]) {
    const m = /^(.*\.mlp\.)gate_proj\.(weight|bias)$/.exec(key);
    if (!m) continue;
    const upKey = `${m[1]}up_proj.${m[2]}`;
    const gate = tensors.get(key)!;
    const up = tensors.get(upKey);
    const fusedKey = `${m[1]}weights_in.${m[2]}`;
    const floats = gate.data instanceof Float32Array && up?.data instanceof Float32Array;
    if (up && floats && !tensors.has(fusedKey) && gate.shape.join() === up.shape.join()) {
      tensors.delete(key);
      tensors.delete(upKey);
      tensors.set(fusedKey, concatRows(gate, up));
    }
  }
  const allowed = (key: string): boolean => explicitPrefix !== undefined || (prefix !== '' && layout.siblings.some((s) => key.startsWith(s)));
  return { tensors, prefix, unexpectedOutside: outside.filter((k) => !allowed(k)) };
}
