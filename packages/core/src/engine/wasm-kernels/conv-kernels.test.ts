import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '../register-gradients.js';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { expectNoLeak, expectTensorsClose, finiteDifferenceCheck, seededNormal } from '@fewstep/testing';
import { convFilterGrad, depthwiseFilterGrad } from './conv-filter-grad.js';
import { convKernelConfigs } from './conv-kernels.js';

type Pad2 = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];
type Pair = [number, number];
type Triple = [number, number, number];

/** Registers (or re-registers) only this file's configs, as registerWasmTrainingKernels does. */
function registerConvKernels(): void {
  for (const c of convKernelConfigs) {
    if (tf.getKernel(c.kernelName, c.backendName) !== undefined) tf.unregisterKernel(c.kernelName, c.backendName);
    tf.registerKernel(c);
  }
}

interface Result {
  shape: number[];
  values: Float32Array;
}

/**
 * Runs `f` on `backend` with seeded inputs (identical on both backends) and returns its outputs;
 * asserts that neither engine tensors nor backend data ids leaked (the latter catches kernel
 * intermediates).
 */
async function runOn(backend: 'cpu' | 'wasm', shapes: number[][], seed: number, f: (...xs: tf.Tensor[]) => tf.Tensor[]): Promise<Result[]> {
  await tf.setBackend(backend);
  const inputs = shapes.map((s, i) => seededNormal(s, seed + 101 * i));
  const before = { tensors: tf.memory().numTensors, ids: tf.backend().numDataIds() };
  const outs = f(...inputs);
  const results = outs.map((t) => ({ shape: t.shape.slice(), values: t.dataSync().slice() as Float32Array }));
  tf.dispose(outs);
  expect(tf.memory().numTensors, `${backend}: engine tensors leaked`).toBe(before.tensors);
  expect(tf.backend().numDataIds(), `${backend}: backend data leaked`).toBe(before.ids);
  tf.dispose(inputs);
  return results;
}

/** Asserts wasm (with fewstep's kernels) matches cpu on every output of `f`. */
async function matchesCpu(what: string, shapes: number[][], f: (...xs: tf.Tensor[]) => tf.Tensor[], rtol = 1e-5): Promise<void> {
  const expected = await runOn('cpu', shapes, 7, f);
  const actual = await runOn('wasm', shapes, 7, f);
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, i) => {
    const e = expected[i]!;
    expect(a.shape, `${what} output ${i} shape`).toEqual(e.shape);
    expectTensorsClose(a.values, e.values, { rtol, what: `${what} output ${i}` });
  });
}

/** `[y, dL/dx, dL/dW]` for `L = sum(y * dy)`, with `dy` a fixed seeded tensor of y's shape. */
function withGrads(op: (x: tf.Tensor, w: tf.Tensor) => tf.Tensor): (x: tf.Tensor, w: tf.Tensor) => tf.Tensor[] {
  return (x, w) => {
    const y = op(x, w);
    const dy = seededNormal(y.shape, 99);
    const [gx, gw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => op(a, b))([x, w], dy);
    dy.dispose();
    return [y, gx!, gw!];
  };
}

const conv2d = (s: number | Pair, p: Pad2) => (x: tf.Tensor, w: tf.Tensor) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, s, p);
const depthwise = (s: number | Pair, p: Pad2, d: number | Pair = 1) => (x: tf.Tensor, w: tf.Tensor) =>
  tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, s, p, 'NHWC', d);
const conv3d = (s: number | Triple, p: 'same' | 'valid', d: number | Triple = 1) => (x: tf.Tensor, w: tf.Tensor) =>
  tf.conv3d(x as tf.Tensor5D, w as tf.Tensor5D, s, p, 'NDHWC', d);

beforeAll(async () => {
  await tf.ready();
  registerConvKernels();
  for (const c of convKernelConfigs) expect(tf.getKernel(c.kernelName, 'wasm')).toBe(c);
});

describe('wasm conv kernels match the cpu backend (forward and gradients)', () => {
  // Numeric pads only with square filters: tfjs 4.22 computes the output width of a numeric pad
  // from the filter HEIGHT and stride HEIGHT (conv_util computeOutputShape2D), so a 3x2 filter
  // gets a wrong output shape, and wasm's own Conv2D forward then writes past its output buffer.
  const explicit: Pad2 = [[0, 0], [1, 2], [0, 1], [0, 0]];
  const cases2d: Array<[number | Pair, Pad2]> = [
    [1, 'same'],
    [1, 'valid'],
    [2, 'same'],
    [2, 'valid'],
    [[1, 2], 'same'],
    [[2, 1], 'valid'],
    [2, explicit],
    [[1, 3], explicit],
  ];

  it('conv2d: x [2,7,5,3], W [3,2,3,5] over strides x paddings', async () => {
    for (const [s, p] of cases2d) {
      await matchesCpu(`conv2d s=${JSON.stringify(s)} p=${JSON.stringify(p)}`, [[2, 7, 5, 3], [3, 2, 3, 5]], withGrads(conv2d(s, p)));
    }
    for (const [s, p] of [[1, 1], [2, 2], [2, 1]] as Array<[number, number]>) {
      await matchesCpu(`conv2d s=${s} p=${p}`, [[2, 7, 5, 3], [3, 3, 3, 5]], withGrads(conv2d(s, p)));
    }
  });

  it('conv2d: 1x1 and 5x4 filters, batch 3, stride 3', async () => {
    await matchesCpu('conv2d 1x1', [[3, 6, 4, 4], [1, 1, 4, 6]], withGrads(conv2d(1, 'valid')));
    await matchesCpu('conv2d 1x1 s2', [[3, 7, 4, 4], [1, 1, 4, 6]], withGrads(conv2d(2, 'same')));
    await matchesCpu('conv2d 5x4 s2', [[3, 9, 8, 2], [5, 4, 2, 3]], withGrads(conv2d(2, 'same')));
    await matchesCpu('conv2d s3 larger than kernel', [[2, 10, 8, 2], [2, 2, 2, 3]], withGrads(conv2d(3, 'valid')));
  });

  it("backprop kernels given a dimRoundingMode-'ceil' dy (one row/column larger than floor geometry)", async () => {
    // tfjs's conv2d gradient drops dimRoundingMode, so with 'ceil' the backprop kernels get a dy of
    // the ceil shape [2, 5, 4, 3] while recomputing the floor geometry [2, 4, 4, 3]; cpu ignores the
    // surplus row. (wasm's own Conv2D forward mis-sizes 'ceil' outputs, so no forward here.)
    const attrs = { strides: 2, pad: 1, dataFormat: 'NHWC' };
    await matchesCpu('Conv2DBackpropInput ceil dy', [[2, 5, 4, 3], [3, 3, 2, 3]], (dy, w) => [
      tf.engine().runKernel('Conv2DBackpropInput', { dy: dy!, filter: w! }, { ...attrs, inputShape: [2, 8, 7, 2] }) as tf.Tensor,
    ]);
    await matchesCpu('Conv2DBackpropFilter ceil dy', [[2, 8, 7, 2], [2, 5, 4, 3]], (x, dy) => [
      tf.engine().runKernel('Conv2DBackpropFilter', { x: x!, dy: dy! }, { ...attrs, filterShape: [3, 3, 2, 3] }) as tf.Tensor,
    ]);
  });

  it('conv1d: strides 1 and 2, same and valid', async () => {
    for (const [s, p] of [[1, 'same'], [2, 'same'], [2, 'valid'], [3, 'valid']] as Array<[number, 'same' | 'valid']>) {
      const op = (x: tf.Tensor, w: tf.Tensor) => tf.conv1d(x as tf.Tensor3D, w as tf.Tensor3D, s, p);
      await matchesCpu(`conv1d s=${s} p=${p}`, [[2, 11, 3], [3, 3, 4]], withGrads(op));
    }
  });

  it('conv2dTranspose (Conv2DBackpropInput forward) and its gradients', async () => {
    const cases: Array<[number | Pair, 'same' | 'valid', [number, number, number, number]]> = [
      [1, 'same', [2, 6, 5, 3]],
      [2, 'same', [2, 9, 7, 3]],
      [2, 'same', [2, 10, 8, 3]],
      [2, 'valid', [2, 11, 8, 3]],
      [[1, 2], 'valid', [2, 8, 9, 3]],
    ];
    for (const [s, p, xShape] of cases) {
      const fwd = tf.tidy(() => tf.conv2d(tf.zeros(xShape) as tf.Tensor4D, tf.zeros([3, 2, 3, 4]) as tf.Tensor4D, s, p));
      const dyShape = fwd.shape;
      fwd.dispose();
      const op = (d: tf.Tensor, w: tf.Tensor) => tf.conv2dTranspose(d as tf.Tensor4D, w as tf.Tensor4D, xShape, s, p);
      await matchesCpu(`conv2dTranspose s=${JSON.stringify(s)} p=${p} out=${JSON.stringify(xShape)}`, [dyShape, [3, 2, 3, 4]], withGrads(op));
    }
  });

  it('depthwiseConv2d: strides, paddings, channel multipliers 1 and 2', async () => {
    const cases: Array<[number | Pair, Pad2]> = [
      [1, 'same'],
      [2, 'same'],
      [1, 'valid'],
      [2, 'valid'],
      [[1, 2], 'same'],
      [2, explicit],
    ];
    for (const [s, p] of cases) {
      for (const m of [1, 2]) {
        await matchesCpu(`depthwise s=${JSON.stringify(s)} p=${JSON.stringify(p)} M=${m}`, [[2, 7, 6, 3], [3, 2, 3, m]], withGrads(depthwise(s, p)));
      }
    }
    await matchesCpu('depthwise s=2 p=1 (square filter)', [[2, 7, 6, 3], [3, 3, 3, 2]], withGrads(depthwise(2, 1)));
  });

  it('depthwise backprop kernels with dilations (tfjs gradients reject dilation, the kernels take it)', async () => {
    // tfjs-backend-cpu's depthwise backprop kernels ignore `dilations`, so the reference is cpu at
    // dilation 1 with the zero-inserted ("a trous") filter, which is the same linear map.
    const cases: Array<[Pad2, Pair, number]> = [
      ['same', [2, 2], 1],
      ['valid', [2, 1], 2],
      [explicit, [1, 3], 1],
    ];
    for (const [pad, [dh, dw], m] of cases) {
      const xShape: [number, number, number, number] = [2, 9, 8, 3];
      const fShape: [number, number, number, number] = [3, 2, 3, m];
      const bigShape: [number, number, number, number] = [2 * dh + 1, dw + 1, 3, m];
      const fwd = tf.tidy(() => tf.depthwiseConv2d(tf.zeros(xShape) as tf.Tensor4D, tf.zeros(fShape) as tf.Tensor4D, 1, pad, 'NHWC', [dh, dw]));
      const dyShape = fwd.shape;
      fwd.dispose();
      const base = { strides: 1, pad };
      // Input gradient.
      const dyT = seededNormal(dyShape, 11);
      const wT = seededNormal(fShape, 12);
      const dyV = dyT.dataSync().slice() as Float32Array;
      const wV = wT.dataSync().slice() as Float32Array;
      tf.dispose([dyT, wT]);
      const dilate = (w: Float32Array): Float32Array => {
        const out = new Float32Array(bigShape.reduce((a, b) => a * b, 1));
        const inner = 3 * m;
        for (let i = 0; i < 3; i++) for (let j = 0; j < 2; j++) out.set(w.subarray((i * 2 + j) * inner, (i * 2 + j + 1) * inner), (i * dh * bigShape[1]! + j * dw) * inner);
        return out;
      };
      await tf.setBackend('cpu');
      const refDx = tf.tidy(() =>
        (tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput', { dy: tf.tensor(dyV, dyShape), filter: tf.tensor(dilate(wV), bigShape) }, { ...base, dilations: 1, inputShape: xShape }) as tf.Tensor).dataSync().slice(),
      );
      const xV = seededNormal(xShape, 13).dataSync().slice();
      const refDwBig = tf.tidy(() =>
        (tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x: tf.tensor(xV, xShape), dy: tf.tensor(dyV, dyShape) }, { ...base, dilations: 1, filterShape: bigShape }) as tf.Tensor).dataSync().slice(),
      );
      const refDw = new Float32Array(wV.length);
      for (let i = 0; i < 3; i++) for (let j = 0; j < 2; j++) refDw.set(refDwBig.subarray((i * dh * bigShape[1]! + j * dw) * 3 * m, (i * dh * bigShape[1]! + j * dw + 1) * 3 * m), (i * 2 + j) * 3 * m);
      await tf.setBackend('wasm');
      const before = tf.memory().numTensors;
      const dx = tf.tidy(() =>
        (tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput', { dy: tf.tensor(dyV, dyShape), filter: tf.tensor(wV, fShape) }, { ...base, dilations: [dh, dw], inputShape: xShape }) as tf.Tensor).dataSync().slice(),
      );
      const dW = tf.tidy(() =>
        (tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x: tf.tensor(xV, xShape), dy: tf.tensor(dyV, dyShape) }, { ...base, dilations: [dh, dw], filterShape: fShape }) as tf.Tensor).dataSync().slice(),
      );
      expect(tf.memory().numTensors).toBe(before);
      expectTensorsClose(dx, refDx, { what: `DepthwiseConv2dNativeBackpropInput d=[${dh},${dw}] M=${m}` });
      expectTensorsClose(dW, refDw, { what: `DepthwiseConv2dNativeBackpropFilter d=[${dh},${dw}] M=${m}` });
    }
  });

  it('conv3d: strides, paddings and odd shapes (with gradients)', async () => {
    const cases: Array<[number | Triple, 'same' | 'valid']> = [
      [1, 'same'],
      [1, 'valid'],
      [2, 'same'],
      [2, 'valid'],
      [[1, 2, 1], 'same'],
      [[2, 1, 2], 'valid'],
    ];
    for (const [s, p] of cases) {
      await matchesCpu(`conv3d s=${JSON.stringify(s)} p=${p}`, [[2, 5, 7, 6, 3], [3, 2, 3, 3, 4]], withGrads(conv3d(s, p)));
    }
    // A depth stride larger than the filter: 'same' gives a negative front pad.
    await matchesCpu('conv3d k=1 s=2 same', [[1, 4, 5, 5, 2], [1, 1, 1, 2, 3]], withGrads(conv3d(2, 'same')));
  });

  it('conv3d forward with dilations', async () => {
    for (const [p, d] of [['same', 2], ['valid', [2, 1, 2]], ['same', [1, 2, 1]]] as Array<['same' | 'valid', number | Triple]>) {
      await matchesCpu(`conv3d p=${p} d=${JSON.stringify(d)}`, [[2, 6, 7, 6, 3], [2, 3, 2, 3, 4]], (x, w) => [conv3d(1, p, d)(x, w)]);
    }
  });

  it('conv3dTranspose (Conv3DBackpropInputV2 forward)', async () => {
    for (const [s, p, xShape] of [[2, 'same', [2, 5, 7, 6, 3]], [1, 'valid', [1, 4, 5, 6, 3]], [[2, 1, 2], 'valid', [1, 6, 5, 7, 3]]] as Array<[number | Triple, 'same' | 'valid', [number, number, number, number, number]]>) {
      const fwd = tf.tidy(() => tf.conv3d(tf.zeros(xShape) as tf.Tensor5D, tf.zeros([2, 3, 2, 3, 4]) as tf.Tensor5D, s, p));
      const dyShape = fwd.shape;
      fwd.dispose();
      const op = (d: tf.Tensor, w: tf.Tensor) => tf.conv3dTranspose(d as tf.Tensor5D, w as tf.Tensor5D, xShape, s, p);
      await matchesCpu(`conv3dTranspose s=${JSON.stringify(s)} p=${p}`, [dyShape, [2, 3, 2, 3, 4]], (d, w) => [op(d, w)]);
    }
  });

  it('fused conv2d (bias + relu) and separableConv2d gradients', async () => {
    const fused = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) =>
      tf.fused.conv2d({ x: x as tf.Tensor4D, filter: w as tf.Tensor4D, strides: 2, pad: 'same', bias: b, activation: 'relu' });
    await matchesCpu('fused conv2d', [[2, 7, 6, 3], [3, 3, 3, 4], [4]], (x, w, b) => {
      const y = fused(x, w, b);
      const dy = seededNormal(y.shape, 5);
      const g = tf.grads((a: tf.Tensor, c: tf.Tensor, e: tf.Tensor) => fused(a, c, e))([x, w, b], dy);
      dy.dispose();
      return [y, ...g];
    });
    const sep = (x: tf.Tensor, dw: tf.Tensor, pw: tf.Tensor) => tf.separableConv2d(x as tf.Tensor4D, dw as tf.Tensor4D, pw as tf.Tensor4D, 1, 'same');
    await matchesCpu('separableConv2d', [[2, 6, 5, 3], [3, 3, 3, 2], [1, 1, 6, 4]], (x, dw, pw) => {
      const y = sep(x, dw, pw);
      const dy = seededNormal(y.shape, 5);
      const g = tf.grads((a: tf.Tensor, c: tf.Tensor, e: tf.Tensor) => sep(a, c, e))([x, dw, pw], dy);
      dy.dispose();
      return [y, ...g];
    });
  });

  it('rejects NCHW with a typed error', async () => {
    await tf.setBackend('wasm');
    const x = tf.zeros([1, 4, 4, 2]);
    const dy = tf.zeros([1, 4, 4, 3]);
    const attrs = { strides: 1, pad: 'same', dataFormat: 'NCHW', filterShape: [3, 3, 2, 3] };
    expect(() => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attrs)).toThrow(/dataFormat/);
    tf.dispose([x, dy]);
  });
});

describe('wasm conv gradients agree with finite differences', () => {
  /** Smooth scalar loss of a conv output (sin keeps second derivatives nonzero). */
  const loss = (op: (x: tf.Tensor, w: tf.Tensor) => tf.Tensor) => (x: tf.Tensor, w: tf.Tensor) => tf.sum(tf.sin(op(x, w))) as tf.Scalar;

  async function fdCheck(what: string, shapes: number[][], op: (x: tf.Tensor, w: tf.Tensor) => tf.Tensor): Promise<void> {
    await tf.setBackend('wasm');
    const inputs = shapes.map((s, i) => seededNormal(s, 31 + i, 0.5));
    const errs = tf.tidy(() => finiteDifferenceCheck(loss(op) as (...xs: tf.Tensor[]) => tf.Scalar, inputs, { eps: 1e-2, samples: 10 }));
    tf.dispose(inputs);
    errs.forEach((e, i) => expect(e, `${what}: d/d${i === 0 ? 'input' : 'filter'}`).toBeLessThan(2e-2));
  }

  it('conv2d, conv1d, conv2dTranspose, depthwiseConv2d, conv3d', async () => {
    await fdCheck('conv2d', [[2, 7, 5, 3], [3, 2, 3, 4]], conv2d(2, 'same'));
    await fdCheck('conv1d', [[2, 9, 3], [3, 3, 4]], (x, w) => tf.conv1d(x as tf.Tensor3D, w as tf.Tensor3D, 2, 'valid'));
    await fdCheck('conv2dTranspose', [[2, 4, 3, 4], [3, 3, 2, 4]], (x, w) => tf.conv2dTranspose(x as tf.Tensor4D, w as tf.Tensor4D, [2, 7, 6, 2], 2, 'same'));
    await fdCheck('depthwiseConv2d', [[2, 7, 6, 3], [3, 3, 3, 2]], depthwise([1, 2], 'same'));
    await fdCheck('conv3d', [[1, 5, 6, 5, 2], [3, 2, 3, 2, 3]], conv3d([2, 1, 2], 'same'));
  });
});

describe('filter gradients built in several tap groups (memory cap)', () => {
  it('give the same result as one group', async () => {
    await tf.setBackend('wasm');
    const x = seededNormal([2, 9, 7, 3], 1);
    const dy = seededNormal([2, 5, 4, 4], 2);
    const dyDw = seededNormal([2, 5, 4, 6], 3);
    const spec = { filterSize: [3, 2], strides: [2, 2], dilations: [1, 1], padBefore: [1, 0] };
    const before = tf.memory().numTensors;
    for (const [what, f] of [
      ['convFilterGrad', (cap?: number) => convFilterGrad(x, dy, { ...spec, maxWindowFloats: cap })],
      ['depthwiseFilterGrad', (cap?: number) => depthwiseFilterGrad(x, dyDw, { ...spec, maxWindowFloats: cap })],
    ] as const) {
      const whole = f();
      const grouped = f(1);
      expectTensorsClose(grouped, whole, { what, rtol: 1e-6 });
      tf.dispose([whole, grouped]);
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, dy, dyDw]);
  });
});

describe('wasm conv kernels free their intermediates', () => {
  it('a conv2d / depthwise / conv3d training step leaves no tensor behind', async () => {
    await tf.setBackend('wasm');
    const x = seededNormal([2, 8, 7, 3], 1);
    const w = seededNormal([3, 3, 3, 4], 2);
    const dw = seededNormal([3, 3, 3, 2], 3);
    const x3 = seededNormal([1, 4, 6, 5, 2], 4);
    const w3 = seededNormal([2, 3, 3, 2, 3], 5);
    const ids = tf.backend().numDataIds();
    await expectNoLeak(
      () =>
        tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, d: tf.Tensor, e: tf.Tensor) =>
          tf.add(
            tf.add(tf.sum(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same')), tf.sum(tf.depthwiseConv2d(a as tf.Tensor4D, c as tf.Tensor4D, 1, 'valid'))),
            tf.sum(tf.conv3d(d as tf.Tensor5D, e as tf.Tensor5D, [1, 2, 2], 'same')),
          ),
        )([x, w, dw, x3, w3]),
      'conv training step',
    );
    expect(tf.backend().numDataIds()).toBe(ids);
    tf.dispose([x, w, dw, x3, w3]);
  });
});
