/**
 * Helpers for replacing one of tfjs-backend-wasm's own kernels while still being able to call it.
 *
 * `registerWasmTrainingKernels` (index.ts) unregisters the kernel wasm registered and registers
 * fewstep's config instead. fewstep's config remembers wasm's config under a global symbol, so
 * capturing "the original" again (a second module instance, a test re-importing this file, a
 * second registration) looks through fewstep's wrapper and never wraps a wrapper.
 */
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';

/** Global (cross-module-instance) marker holding the wrapped original config. */
const WRAPPED = Symbol.for('fewstep.wasm.wrappedOriginalKernel');

type MarkedConfig = KernelConfig & { [WRAPPED]?: KernelConfig };

/**
 * wasm's own config for `kernelName`, looking through fewstep overrides; `undefined` when wasm
 * never registered that kernel. Call at module load, after `import '@tensorflow/tfjs-backend-wasm'`.
 */
export function originalWasmKernel(kernelName: string): KernelConfig | undefined {
  let config = tf.getKernel(kernelName, 'wasm') as MarkedConfig | undefined;
  while (config !== undefined && config[WRAPPED] !== undefined) config = config[WRAPPED] as MarkedConfig;
  return config;
}

/** True when `config` is a fewstep override of a wasm kernel. */
export function isFewstepOverride(config: KernelConfig | undefined): boolean {
  return config !== undefined && (config as MarkedConfig)[WRAPPED] !== undefined;
}

/**
 * Builds a wasm kernel config that replaces wasm's `kernelName` kernel. `makeKernelFunc` receives
 * wasm's original kernel function (to delegate the cases fewstep does not handle). The original's
 * `setupFunc` is forwarded, so registering the override before the backend initialises still sets
 * up the original's C++ bindings.
 */
export function overrideWasmKernel(kernelName: string, makeKernelFunc: (original: KernelFunc) => KernelFunc): KernelConfig {
  const original = originalWasmKernel(kernelName);
  if (original === undefined) {
    throw new Error(
      `Cannot override wasm kernel '${kernelName}': tfjs-backend-wasm registered none. ` +
        `Fix: import '@tensorflow/tfjs-backend-wasm' (4.22) before fewstep's wasm kernels.`,
    );
  }
  const config: MarkedConfig = {
    kernelName,
    backendName: 'wasm',
    kernelFunc: makeKernelFunc(original.kernelFunc),
  };
  if (original.setupFunc !== undefined) config.setupFunc = original.setupFunc;
  if (original.disposeFunc !== undefined) config.disposeFunc = original.disposeFunc;
  Object.defineProperty(config, WRAPPED, { value: original, enumerable: false });
  return config;
}
