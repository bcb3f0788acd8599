import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { applyLora, initEngine, readSafetensorsHeader, StateMismatchError, type Network } from '@fewstep/core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VideoDiT } from './dit/video-dit.js';
import { fromPyTorchStateDict, pytorchEntry, toPyTorchStateDict } from './pytorch-layout.js';
import { loadPyTorchSafetensors, savePyTorchSafetensors } from './pytorch-safetensors.js';
import { TextEncoder } from './text/text-encoder.js';
import { perturbZeroInitialised } from './testing-conformance.js';
import { VideoUNet } from './unet/video-unet.js';

let dir: string;
beforeAll(async () => {
  await initEngine({ backend: 'wasm', report: false });
  dir = mkdtempSync(join(tmpdir(), 'fewstep-backbones-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function expectSameWeights(a: Network, b: Network): void {
  const wa = a.getWeights();
  const wb = b.getWeights();
  expect([...wb.keys()]).toEqual([...wa.keys()]);
  for (const [n, t] of wa) {
    const x = t.dataSync();
    const y = wb.get(n)!.dataSync();
    if (x.length !== y.length || x.some((v, i) => v !== y[i])) throw new Error(`'${n}' differs after the round trip`);
  }
  tf.dispose([...wa.values(), ...wb.values()]);
}

describe('PyTorch layout', () => {
  it('renames leaves and transposes kernels to PyTorch layout', () => {
    expect(pytorchEntry('down.0.res.0.conv1.kernel', [3, 3, 4, 8])).toMatchObject({ torchName: 'down.0.res.0.conv1.weight', torchShape: [8, 4, 3, 3] });
    expect(pytorchEntry('time_embed.linear_1.kernel', [32, 128])).toMatchObject({ torchName: 'time_embed.linear_1.weight', torchShape: [128, 32] });
    expect(pytorchEntry('patch_embed.kernel', [1, 2, 2, 4, 64])).toMatchObject({ torchName: 'patch_embed.weight', torchShape: [64, 4, 1, 2, 2] });
    expect(pytorchEntry('norm_out.gamma', [32])).toMatchObject({ torchName: 'norm_out.weight', torchShape: [32] });
    expect(pytorchEntry('norm_out.beta', [32]).torchName).toBe('norm_out.bias');
    expect(pytorchEntry('token_embed.embedding', [9, 4]).torchName).toBe('token_embed.weight');
    expect(pytorchEntry('pos_embed', [8, 4]).torchName).toBe('pos_embed');
    // Element [kh=1, kw=2, cin=3, cout=5] of a conv kernel lands at [5, 3, 1, 2].
    const k = tf.tensor(Float32Array.from({ length: 3 * 3 * 4 * 8 }, (_, i) => i), [3, 3, 4, 8]);
    const torch = toPyTorchStateDict(new Map([['c.kernel', k]])).get('c.weight')!;
    expect((torch.arraySync() as number[][][][])[5]![3]![1]![2]).toBe(((1 * 3 + 2) * 4 + 3) * 8 + 5);
    tf.dispose([k, torch]);
  });

  it('round trip is exact for the video UNet with LoRA adapters (conv and linear), the DiT and the text encoder', () => {
    const unet = VideoUNet.preset('tiny', { seed: 1 });
    applyLora(unet.net, { rank: 2, targets: (n) => n.endsWith('conv1.kernel') || n.endsWith('to_q.kernel'), seed: 2 });
    const nets: [Network, () => Network][] = [
      [unet.net, () => {
        const u = VideoUNet.preset('tiny', { seed: 9 });
        applyLora(u.net, { rank: 2, targets: (n) => n.endsWith('conv1.kernel') || n.endsWith('to_q.kernel'), seed: 3 });
        return u.net;
      }],
      [VideoDiT.preset('tiny', { seed: 1 }).net, () => VideoDiT.preset('tiny', { seed: 9 }).net],
      [TextEncoder.preset('tiny', { seed: 1 }).net, () => TextEncoder.preset('tiny', { seed: 9 }).net],
    ];
    for (const [net, fresh] of nets) {
      perturbZeroInitialised(net, 4);
      const target = fresh();
      const before = tf.memory().numTensors;
      const weights = net.getWeights();
      const state = toPyTorchStateDict(weights);
      const back = fromPyTorchStateDict(state, target);
      target.setWeights(back);
      tf.dispose([...weights.values(), ...state.values(), ...back.values()]);
      expect(tf.memory().numTensors).toBe(before);
      expectSameWeights(net, target);
      net.dispose();
      target.dispose();
    }
  });

  it('rejects a state dict that does not fit, listing the names', () => {
    const dit = VideoDiT.preset('tiny');
    const small = VideoDiT.preset('tiny', { depth: 2 });
    const weights = dit.net.getWeights();
    const state = toPyTorchStateDict(weights);
    expect(() => fromPyTorchStateDict(state, small.net)).toThrow(StateMismatchError);
    expect(() => fromPyTorchStateDict(state, small.net)).toThrow(/blocks\.2\.attn1\.to_q\.weight/);
    tf.dispose([...weights.values(), ...state.values()]);
    dit.dispose();
    small.dispose();
  });

  it('file round trip through core safetensors (PyTorch layout, format "pt")', async () => {
    const unet = VideoUNet.preset('tiny', { seed: 1 });
    perturbZeroInitialised(unet.net, 5);
    const path = join(dir, 'unet.safetensors');
    const bytes = await savePyTorchSafetensors(path, unet.net);
    expect(bytes).toBeGreaterThan(4 * unet.numParameters());
    const header = await readSafetensorsHeader(path);
    expect(header.metadata?.get('format')).toBe('pt');
    const conv = header.tensors.find((t) => t.name === 'conv_in.weight');
    expect(conv?.shape).toEqual([32, 4, 3, 3]);
    const copy = VideoUNet.preset('tiny', { seed: 7 });
    await loadPyTorchSafetensors(path, copy.net);
    expectSameWeights(unet.net, copy.net);
    unet.dispose();
    copy.dispose();
  });
});
