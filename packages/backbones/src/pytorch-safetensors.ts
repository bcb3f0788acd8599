import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, readSafetensors, writeSafetensors, type Network } from '@fewstep/core';
import { fromPyTorchStateDict, toPyTorchStateDict } from './pytorch-layout.js';

/**
 * Writes `net`'s weights as a PyTorch-layout safetensors file (F32; `__metadata__.format = "pt"`),
 * loadable with `safetensors.torch.load_file` into a PyTorch port of the same architecture.
 * @returns bytes written
 */
export async function savePyTorchSafetensors(path: string, net: Network, metadata: Record<string, string> = {}): Promise<number> {
  const weights = net.getWeights();
  const state = toPyTorchStateDict(weights);
  tf.dispose([...weights.values()]);
  try {
    const tensors = new Map([...state].map(([n, t]) => [n, { dtype: 'F32' as const, shape: t.shape, data: t.dataSync() as Float32Array }]));
    return await writeSafetensors(path, tensors, { pytorchLayout: true, metadata: { 'fewstep.network': net.name, ...metadata } });
  } finally {
    tf.dispose([...state.values()]);
  }
}

/**
 * Reads a PyTorch-layout safetensors file (as {@link savePyTorchSafetensors} writes) into `net`
 * (names and layouts converted back; F16 / BF16 are widened to F32 by the reader, F64 narrowed).
 * @throws StateMismatchError when names or shapes do not fit `net` (nothing is assigned)
 */
export async function loadPyTorchSafetensors(path: string, net: Network, options: { strict?: boolean } = {}): Promise<void> {
  const { tensors } = await readSafetensors(path);
  const state = new Map<string, tf.Tensor>();
  try {
    for (const [name, t] of tensors) {
      const data = t.data instanceof Float32Array ? t.data : t.data instanceof Float64Array ? Float32Array.from(t.data) : undefined;
      if (!data) throw new ConfigError(`safetensors tensor '${name}'`, t.dtype, 'a float tensor (F32, F64, F16 or BF16)');
      state.set(name, tf.tensor(data, [...t.shape], 'float32'));
    }
    const weights = fromPyTorchStateDict(state, net, options);
    try {
      net.setWeights(weights, options);
    } finally {
      tf.dispose([...weights.values()]);
    }
  } finally {
    tf.dispose([...state.values()]);
  }
}
