import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, StateMismatchError, initEngine, readSafetensors, writeSafetensors, type LoadedTensor } from '@fewstep/core';
import { loadCritic, type LoadCriticOptions } from './load-critic.js';
import { SamCritic } from './sam-critic.js';
import { dinov2CriticBackbone, samCriticBackbone } from './critic-backbones.js';
import { maxAbsError, readReference, tensorOf, FIXTURES } from './fixtures/reference.js';

const work = mkdtempSync(join(tmpdir(), 'fewstep-critics-'));
let dirCount = 0;

beforeAll(async () => {
  await initEngine({ backend: 'wasm', report: false });
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function fixtureWeights(model: string): Promise<Map<string, LoadedTensor>> {
  return (await readSafetensors(join(FIXTURES, model, 'model.safetensors'))).tensors;
}

function fixtureConfig(model: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(FIXTURES, model, 'config.json'), 'utf8'));
}

/** A model directory with this config and these tensors. */
async function modelDir(config: unknown, tensors: ReadonlyMap<string, LoadedTensor>): Promise<string> {
  const dir = join(work, `m${dirCount++}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  await writeSafetensors(join(dir, 'model.safetensors'), tensors);
  return dir;
}

function renamed(tensors: ReadonlyMap<string, LoadedTensor>, f: (k: string) => string): Map<string, LoadedTensor> {
  return new Map([...tensors].map(([k, v]) => [f(k), v]));
}

/** hidden_states[-1] of `dir` matches the fixture's reference for `model`. */
async function expectParity(kind: 'dinov2' | 'sam', model: string, dir: string, options: LoadCriticOptions = {}): Promise<void> {
  const ref = await readReference(model);
  const c = ref.cases[0]!;
  const critic = await loadCritic(kind, dir, options);
  const x = tensorOf(ref, `${c.name}.pixel_values`) as tf.Tensor4D;
  const [h] = critic instanceof SamCritic ? critic.hiddenStateMaps(x, [-1]) : critic.hiddenStates(x, [-1]);
  expect(maxAbsError(h!, ref.tensors.get(`${c.name}.hidden_states.${c.hidden_states - 1}`)!)).toBeLessThanOrEqual(1e-4);
  tf.dispose([x, h!]);
  critic.dispose();
}

async function expectMismatch(dir: string, kind: 'dinov2' | 'sam' = 'dinov2'): Promise<StateMismatchError> {
  const before = tf.memory().numTensors;
  const err = await loadCritic(kind, dir).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StateMismatchError);
  expect(tf.memory().numTensors).toBe(before); // nothing was loaded
  return err as StateMismatchError;
}

describe('loadCritic: checkpoint layouts', () => {
  it('reads a Dinov2ForImageClassification checkpoint (dinov2. prefix, classifier head ignored)', async () => {
    const w = renamed(await fixtureWeights('dinov2-tiny'), (k) => `dinov2.${k}`);
    w.set('classifier.weight', { dtype: 'F32', shape: [3, 64], data: new Float32Array(192), nonFinite: 0 });
    await expectParity('dinov2', 'dinov2-tiny', await modelDir(fixtureConfig('dinov2-tiny'), w));
  });

  it("reads transformers-5 module names (q_proj, o_proj, gate_proj + up_proj, down_proj)", async () => {
    const fused = await fixtureWeights('dinov2-swiglu-tiny');
    const w = new Map<string, LoadedTensor>();
    for (const [k, t] of fused) {
      const m = /^(.*\.mlp\.)weights_in\.(weight|bias)$/.exec(k);
      if (m) {
        const half = t.data.length / 2;
        const shape = [t.shape[0]! / 2, ...t.shape.slice(1)];
        w.set(`${m[1]}gate_proj.${m[2]}`, { ...t, shape, data: (t.data as Float32Array).slice(0, half) });
        w.set(`${m[1]}up_proj.${m[2]}`, { ...t, shape, data: (t.data as Float32Array).slice(half) });
        continue;
      }
      const name = k
        .replace('attention.attention.query', 'attention.q_proj')
        .replace('attention.attention.key', 'attention.k_proj')
        .replace('attention.attention.value', 'attention.v_proj')
        .replace('attention.output.dense', 'attention.o_proj')
        .replace('mlp.weights_out', 'mlp.down_proj');
      w.set(name, t);
    }
    expect([...w.keys()].some((k) => k.includes('q_proj'))).toBe(true);
    await expectParity('dinov2', 'dinov2-swiglu-tiny', await modelDir(fixtureConfig('dinov2-swiglu-tiny'), w));
  });

  it('reads a SamModel checkpoint (nested vision_config; prompt encoder / mask decoder ignored)', async () => {
    const w = new Map(await fixtureWeights('sam-tiny'));
    w.set('mask_decoder.iou_token.weight', { dtype: 'F32', shape: [1, 4], data: new Float32Array(4), nonFinite: 0 });
    w.set('shared_image_embedding.positional_embedding', { dtype: 'F32', shape: [2, 2], data: new Float32Array(4), nonFinite: 0 });
    const vision = fixtureConfig('sam-tiny');
    await expectParity('sam', 'sam-tiny', await modelDir({ model_type: 'sam', vision_config: vision, prompt_encoder_config: {} }, w));
  });

  it('an explicit prefix ignores every key outside it', async () => {
    const w = renamed(await fixtureWeights('dinov2-tiny'), (k) => `backbone.${k}`);
    w.set('head.conv.weight', { dtype: 'F32', shape: [2], data: new Float32Array(2), nonFinite: 0 });
    await expectParity('dinov2', 'dinov2-tiny', await modelDir(fixtureConfig('dinov2-tiny'), w), { prefix: 'backbone.' });
  });
});

describe('loadCritic: typed errors, nothing partially loaded', () => {
  it('a missing tensor', async () => {
    const w = new Map(await fixtureWeights('dinov2-tiny'));
    w.delete('encoder.layer.1.attention.attention.key.weight');
    const err = await expectMismatch(await modelDir(fixtureConfig('dinov2-tiny'), w));
    expect(err.missing).toEqual(['encoder.layer.1.attention.attention.key.weight']);
    expect(err.message).toMatch(/1 missing, 0 unexpected, 0 shape mismatch/);
  });

  it('a mis-shaped tensor and an unexpected one, reported together', async () => {
    const w = new Map(await fixtureWeights('sam-tiny'));
    w.set('vision_encoder.layers.0.attn.rel_pos_h', { dtype: 'F32', shape: [7, 16], data: new Float32Array(112), nonFinite: 0 });
    w.set('vision_encoder.layers.7.mlp.lin1.weight', { dtype: 'F32', shape: [2, 2], data: new Float32Array(4), nonFinite: 0 });
    w.set('stray.weight', { dtype: 'F32', shape: [1], data: new Float32Array(1), nonFinite: 0 });
    const err = await expectMismatch(await modelDir(fixtureConfig('sam-tiny'), w), 'sam');
    expect(err.shapeMismatches).toEqual([{ name: 'layers.0.attn.rel_pos_h', found: [7, 16], expected: [5, 16] }]);
    expect([...err.unexpected].sort()).toEqual(['layers.7.mlp.lin1.weight', 'stray.weight']);
  });

  it('weights of another size than config.json', async () => {
    const config = { ...fixtureConfig('dinov2-tiny'), num_hidden_layers: 2, image_size: 32 };
    const err = await expectMismatch(await modelDir(config, await fixtureWeights('dinov2-tiny')));
    expect(err.unexpected.filter((k) => k.startsWith('encoder.layer.2.')).length).toBeGreaterThan(0);
    expect(err.shapeMismatches.map((m) => m.name)).toEqual(['embeddings.position_embeddings']);
  });

  it.each([
    [{ hidden_act: 'mish' }, /'config\.json\.hidden_act': "mish"\. Allowed: 'gelu', 'gelu_new'/],
    [{ num_attention_heads: 3 }, /'config\.json\.num_attention_heads': 3\. Allowed: a divisor of hidden_size 32/],
    [{ model_type: 'vit' }, /'config\.json\.model_type': "vit"\. Allowed: 'dinov2', 'dinov2_with_registers'/],
    [{ patch_size: 0 }, /'config\.json\.patch_size': 0\. Allowed: a positive integer/],
    [{ use_swiglu_ffn: 'yes' }, /'config\.json\.use_swiglu_ffn': "yes"\. Allowed: true or false/],
  ])('a bad config value %j', async (patch, message) => {
    const dir = await modelDir({ ...fixtureConfig('dinov2-tiny'), ...patch }, new Map());
    await expect(loadCritic('dinov2', dir)).rejects.toThrow(ConfigError);
    await expect(loadCritic('dinov2', dir)).rejects.toThrow(message);
  });

  it('bad SAM config values', async () => {
    const vision = fixtureConfig('sam-tiny');
    const dir = await modelDir({ ...vision, global_attn_indexes: [1, 5] }, new Map());
    await expect(loadCritic('sam', dir)).rejects.toThrow(/'config\.json\.global_attn_indexes': \[1,5\]\. Allowed: a list of integers in \[0, 3\)/);
    const nested = await modelDir({ model_type: 'sam', vision_config: { ...vision, window_size: -1 } }, new Map());
    await expect(loadCritic('sam', nested)).rejects.toThrow(/'config\.json\.vision_config\.window_size': -1\. Allowed: an integer >= 0/);
  });

  it('a bad kind, directory, option or dtype', async () => {
    await expect(loadCritic('clip' as 'sam', work)).rejects.toThrow(/'loadCritic\(kind\)': "clip"\. Allowed: 'dinov2', 'sam'/);
    await expect(loadCritic('dinov2', join(work, 'nope'))).rejects.toThrow(/config\.json does not exist.*huggingface-cli download facebook\/dinov2-small/);
    await expect(loadCritic('sam', join(FIXTURES, 'sam-tiny'), { interpolateOffset: 0.1 })).rejects.toThrow(ConfigError);
    const w = new Map(await fixtureWeights('dinov2-tiny'));
    w.set('layernorm.bias', { dtype: 'I32', shape: [32], data: new Int32Array(32), nonFinite: 0 });
    await expect(loadCritic('dinov2', await modelDir(fixtureConfig('dinov2-tiny'), w))).rejects.toThrow(/dtype of checkpoint tensor 'layernorm\.bias'.*"I32"/);
  });
});

describe('backbone definitions', () => {
  it('register under backbones:critic-* with the presets', () => {
    expect(dinov2CriticBackbone.name).toBe('backbones:critic-dinov2');
    expect(Object.keys(dinov2CriticBackbone.presets)).toEqual(['vit-s14', 'vit-b14']);
    expect(dinov2CriticBackbone.presets['vit-b14']).toMatchObject({ hiddenSize: 768, numHeads: 12, numLayers: 12, mlpRatio: 4, patchSize: 14 });
    expect(samCriticBackbone.name).toBe('backbones:critic-sam');
    expect(samCriticBackbone.presets['sam-vit-b']).toMatchObject({ hiddenSize: 768, windowSize: 14, globalAttnIndexes: [2, 5, 8, 11] });
    const critic = dinov2CriticBackbone.create({ ...dinov2CriticBackbone.presets['vit-s14']!, hiddenSize: 8, numHeads: 2, numLayers: 1, imageSize: 14 });
    expect(critic.kind).toBe('backbones:critic-dinov2');
    critic.dispose();
  });
});
