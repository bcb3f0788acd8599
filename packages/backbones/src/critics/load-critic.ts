import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, readSafetensors, readShardedSafetensors, type LoadedTensor } from '@fewstep/core';
import { bindCheckpoint, frozenNetwork, type SpecEntry } from './checkpoint-spec.js';
import { DINOV2_KEYS, SAM_KEYS, normalizeCheckpoint, type KeyLayout } from './checkpoint-keys.js';
import type { JsonObject } from './config-fields.js';
import type { CriticKind } from './critic-types.js';
import { dinov2ConfigFromHf } from './dinov2-config.js';
import { Dinov2Critic, dinov2CheckpointSpec } from './dinov2-critic.js';
import { samConfigFromHf } from './sam-config.js';
import { SamCritic, samCheckpointSpec } from './sam-critic.js';

/** Options of {@link loadCritic}. */
export interface LoadCriticOptions {
  /**
   * Key prefix of the encoder inside the checkpoint. @default detected: `''`, `dinov2.` or
   * `dinov2_with_registers.` for DINOv2; `vision_encoder.` or `''` for SAM. With an explicit prefix,
   * keys outside it are ignored (the encoder is one module of a larger model).
   */
  prefix?: string;
  /** Name of the critic's {@link Network}. @default `critic-<kind>` */
  name?: string;
  /** DINOv2 only: see `Dinov2Config.interpolateOffset` (0.1 = the original DINOv2 code). @default 0 */
  interpolateOffset?: number;
  /** SAM only: see `SamConfig.posEmbedResize`. @default 'exact' */
  posEmbedResize?: 'exact' | 'bicubic';
}

const KINDS: readonly CriticKind[] = ['dinov2', 'sam'];

const DOWNLOAD_HINT: Record<CriticKind, string> = {
  dinov2: 'huggingface-cli download facebook/dinov2-small config.json model.safetensors --local-dir <dir>',
  sam: 'huggingface-cli download facebook/sam-vit-base config.json model.safetensors --local-dir <dir>',
};

async function readConfig(kind: CriticKind, dir: string): Promise<JsonObject> {
  const path = join(dir, 'config.json');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(
      `loadCritic('${kind}', dir)`,
      dir,
      'a Hugging Face model directory holding config.json and model.safetensors (or model.safetensors.index.json + shards)',
      `${(err as NodeJS.ErrnoException).code === 'ENOENT' ? `${path} does not exist` : String(err)}; e.g. ${DOWNLOAD_HINT[kind]}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(path, text.slice(0, 80), 'a JSON object (a transformers config)', `the file is not valid JSON (${(err as Error).message}); re-download it`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ConfigError(path, json, 'a JSON object (a transformers config)');
  }
  return json as JsonObject;
}

async function readWeights(kind: CriticKind, dir: string): Promise<Map<string, LoadedTensor>> {
  const single = join(dir, 'model.safetensors');
  if (existsSync(single)) return (await readSafetensors(single)).tensors;
  const index = join(dir, 'model.safetensors.index.json');
  if (existsSync(index)) return (await readShardedSafetensors(index)).tensors;
  throw new ConfigError(
    `loadCritic('${kind}', dir)`,
    dir,
    'a directory with model.safetensors or model.safetensors.index.json (pytorch_model.bin is not read)',
    `download the safetensors weights, e.g. ${DOWNLOAD_HINT[kind]}`,
  );
}

/** Normalises the keys of `weights` and binds them strictly to `spec`. */
function bind(
  kind: CriticKind,
  dir: string,
  weights: ReadonlyMap<string, LoadedTensor>,
  layout: KeyLayout,
  spec: readonly SpecEntry[],
  options: LoadCriticOptions,
): Map<string, { shape: number[]; data: Float32Array }> {
  const ckpt = normalizeCheckpoint(weights, layout, options.prefix);
  return bindCheckpoint(spec, ckpt.tensors, {
    what: `loadCritic('${kind}', '${dir}') (encoder keys under prefix '${ckpt.prefix}')`,
    unused: layout.unused,
    unexpected: ckpt.unexpectedOutside,
    fix:
      'load the checkpoint that matches config.json (same architecture and sizes); pass { prefix } when the encoder is nested ' +
      "in a larger model; DINOv2 needs a Dinov2Model / Dinov2WithRegistersModel checkpoint, SAM a SamModel / SamVisionModel one",
  });
}

/**
 * Loads a frozen DINOv2 or SAM critic from a Hugging Face model directory (`config.json` +
 * `model.safetensors`, or a sharded index), with transformers' key names. The config is validated
 * first, then every tensor (strict: missing, unexpected and mis-shaped tensors are all reported in
 * one `StateMismatchError`, and nothing is loaded); PyTorch layouts are converted to fewstep's.
 * F16 / BF16 checkpoints are widened to float32.
 *
 * @example
 * const dino = await loadCritic('dinov2', 'models/dinov2-small');
 * const [h4, h12] = dino.hiddenStates(images, [4, 12]); // [B, 1 + (H/14)(W/14), 384] each
 * @throws ConfigError (bad kind, directory, config field or dtype), StateMismatchError (weights).
 */
export async function loadCritic(kind: 'dinov2', dir: string, options?: LoadCriticOptions): Promise<Dinov2Critic>;
export async function loadCritic(kind: 'sam', dir: string, options?: LoadCriticOptions): Promise<SamCritic>;
export async function loadCritic(kind: CriticKind, dir: string, options?: LoadCriticOptions): Promise<Dinov2Critic | SamCritic>;
export async function loadCritic(kind: CriticKind, dir: string, options: LoadCriticOptions = {}): Promise<Dinov2Critic | SamCritic> {
  if (!KINDS.includes(kind)) throw new ConfigError('loadCritic(kind)', kind, KINDS.map((k) => `'${k}'`).join(', '));
  if (kind === 'sam' && options.interpolateOffset !== undefined) {
    throw new ConfigError('LoadCriticOptions.interpolateOffset', options.interpolateOffset, 'undefined for SAM (a DINOv2 option)');
  }
  if (kind === 'dinov2' && options.posEmbedResize !== undefined) {
    throw new ConfigError('LoadCriticOptions.posEmbedResize', options.posEmbedResize, 'undefined for DINOv2 (a SAM option; DINOv2 always resamples)');
  }
  const json = await readConfig(kind, dir);
  const name = options.name ?? `critic-${kind}`;
  if (kind === 'dinov2') {
    const config = dinov2ConfigFromHf(json, { interpolateOffset: options.interpolateOffset });
    const values = bind(kind, dir, await readWeights(kind, dir), DINOV2_KEYS, dinov2CheckpointSpec(config), options);
    return new Dinov2Critic(config, frozenNetwork(name, values));
  }
  const config = samConfigFromHf(json, { posEmbedResize: options.posEmbedResize });
  const values = bind(kind, dir, await readWeights(kind, dir), SAM_KEYS, samCheckpointSpec(config), options);
  return new SamCritic(config, frozenNetwork(name, values));
}
