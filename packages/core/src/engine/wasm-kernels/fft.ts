/**
 * `FFT` and `IFFT` kernels for the wasm backend: the 1-D discrete Fourier transform over the
 * innermost axis of a complex64 tensor `[..., n]` (interleaved storage, complex-storage.ts),
 *
 *   X_k = Σ_{t<n} x_t · exp(∓2πi·k·t/n)      (IFFT: + sign and a 1/n factor).
 *
 * Computed in float64 in JS and rounded once to float32:
 *  - n a power of two: iterative radix-2 Cooley-Tukey (Cooley & Tukey 1965), O(n log n);
 *  - n ≤ 16 otherwise: the direct O(n²) sum;
 *  - other n: Bluestein's chirp-z algorithm (Bluestein 1970), which rewrites the DFT as a
 *    circular convolution of length m = 2^⌈log2(2n−1)⌉ evaluated with radix-2 FFTs, O(n log n).
 * Twiddle tables and Bluestein chirps are cached per n. tfjs defines no gradient for FFT/IFFT.
 */
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { installComplexReadSupport } from './complex-storage.js';
import { asWasm, f32View } from './wasm-internals.js';

installComplexReadSupport();

const isPowerOfTwo = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;

interface Radix2Plan {
  n: number;
  /** Bit-reversal permutation. */
  rev: Uint32Array;
  /** cos(2πk/n), sin(2πk/n) for k < n/2. */
  cos: Float64Array;
  sin: Float64Array;
}

const radix2Plans = new Map<number, Radix2Plan>();

function radix2Plan(n: number): Radix2Plan {
  let plan = radix2Plans.get(n);
  if (plan === undefined) {
    const bits = Math.round(Math.log2(n));
    const rev = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      let r = 0;
      for (let b = 0, v = i; b < bits; b++, v >>= 1) r = (r << 1) | (v & 1);
      rev[i] = r;
    }
    const half = n >> 1;
    const cos = new Float64Array(half);
    const sin = new Float64Array(half);
    for (let k = 0; k < half; k++) {
      cos[k] = Math.cos((2 * Math.PI * k) / n);
      sin[k] = Math.sin((2 * Math.PI * k) / n);
    }
    plan = { n, rev, cos, sin };
    radix2Plans.set(n, plan);
  }
  return plan;
}

/**
 * In-place radix-2 DFT of (re, im), length a power of two. `sign` −1 is the forward transform
 * exp(−2πi kt/n), +1 the unnormalised inverse.
 */
function radix2(re: Float64Array, im: Float64Array, sign: 1 | -1): void {
  const n = re.length;
  if (n <= 1) return;
  const { rev, cos, sin } = radix2Plan(n);
  for (let i = 0; i < n; i++) {
    const j = rev[i] as number;
    if (j > i) {
      const tr = re[i] as number;
      re[i] = re[j] as number;
      re[j] = tr;
      const ti = im[i] as number;
      im[i] = im[j] as number;
      im[j] = ti;
    }
  }
  for (let size = 2; size <= n; size <<= 1) {
    const halfSize = size >> 1;
    const step = n / size;
    for (let start = 0; start < n; start += size) {
      for (let k = 0; k < halfSize; k++) {
        const wr = cos[k * step] as number;
        const wi = sign * (sin[k * step] as number);
        const a = start + k;
        const b = a + halfSize;
        const br = re[b] as number;
        const bi = im[b] as number;
        const tr = br * wr - bi * wi;
        const ti = br * wi + bi * wr;
        const ar = re[a] as number;
        const ai = im[a] as number;
        re[a] = ar + tr;
        im[a] = ai + ti;
        re[b] = ar - tr;
        im[b] = ai - ti;
      }
    }
  }
}

/** Direct O(n²) DFT of (re, im) into (outRe, outIm). */
function directDft(re: Float64Array, im: Float64Array, outRe: Float64Array, outIm: Float64Array, sign: 1 | -1): void {
  const n = re.length;
  for (let k = 0; k < n; k++) {
    let sr = 0;
    let si = 0;
    for (let t = 0; t < n; t++) {
      const angle = (sign * 2 * Math.PI * ((k * t) % n)) / n;
      const c = Math.cos(angle);
      const s = Math.sin(angle);
      const xr = re[t] as number;
      const xi = im[t] as number;
      sr += xr * c - xi * s;
      si += xr * s + xi * c;
    }
    outRe[k] = sr;
    outIm[k] = si;
  }
}

interface BluesteinPlan {
  m: number;
  /** Chirp w_t = exp(−iπ t²/n) (forward sign), t < n. */
  chirpRe: Float64Array;
  chirpIm: Float64Array;
  /** Radix-2 DFT of the length-m filter conj(w) wrapped circularly, for each sign. */
  filterRe: Float64Array;
  filterIm: Float64Array;
}

const bluesteinPlans = new Map<number, BluesteinPlan>();

function bluesteinPlan(n: number): BluesteinPlan {
  let plan = bluesteinPlans.get(n);
  if (plan === undefined) {
    let m = 1;
    while (m < 2 * n - 1) m <<= 1;
    const chirpRe = new Float64Array(n);
    const chirpIm = new Float64Array(n);
    for (let t = 0; t < n; t++) {
      // t² mod 2n keeps the angle small, hence accurate, for large t.
      const angle = (Math.PI * ((t * t) % (2 * n))) / n;
      chirpRe[t] = Math.cos(angle);
      chirpIm[t] = -Math.sin(angle);
    }
    const filterRe = new Float64Array(m);
    const filterIm = new Float64Array(m);
    filterRe[0] = chirpRe[0] as number;
    filterIm[0] = -(chirpIm[0] as number);
    for (let t = 1; t < n; t++) {
      filterRe[t] = filterRe[m - t] = chirpRe[t] as number;
      filterIm[t] = filterIm[m - t] = -(chirpIm[t] as number);
    }
    radix2(filterRe, filterIm, -1);
    plan = { m, chirpRe, chirpIm, filterRe, filterIm };
    bluesteinPlans.set(n, plan);
  }
  return plan;
}

/**
 * Bluestein DFT: with k·t = (k² + t² − (k−t)²)/2, X_k = w_k Σ_t (x_t w_t) conj(w_{k−t}), a
 * convolution with the chirp. The inverse transform is conj(DFT(conj(x))).
 */
function bluestein(re: Float64Array, im: Float64Array, outRe: Float64Array, outIm: Float64Array, sign: 1 | -1): void {
  const n = re.length;
  const { m, chirpRe, chirpIm, filterRe, filterIm } = bluesteinPlan(n);
  const ar = new Float64Array(m);
  const ai = new Float64Array(m);
  for (let t = 0; t < n; t++) {
    const xr = re[t] as number;
    const xi = -sign * (im[t] as number);
    const cr = chirpRe[t] as number;
    const ci = chirpIm[t] as number;
    ar[t] = xr * cr - xi * ci;
    ai[t] = xr * ci + xi * cr;
  }
  radix2(ar, ai, -1);
  for (let k = 0; k < m; k++) {
    const xr = ar[k] as number;
    const xi = ai[k] as number;
    const fr = filterRe[k] as number;
    const fi = filterIm[k] as number;
    ar[k] = xr * fr - xi * fi;
    ai[k] = xr * fi + xi * fr;
  }
  radix2(ar, ai, 1);
  for (let k = 0; k < n; k++) {
    const yr = (ar[k] as number) / m;
    const yi = (ai[k] as number) / m;
    const cr = chirpRe[k] as number;
    const ci = chirpIm[k] as number;
    outRe[k] = yr * cr - yi * ci;
    outIm[k] = -sign * (yr * ci + yi * cr);
  }
}

/** DFT over the innermost axis of a complex64 tensor; `inverse` adds the 1/n factor. */
function fftKernel(inverse: boolean): KernelFunc {
  return ({ inputs, backend: b }) => {
    const backend = asWasm(b);
    const { input } = inputs as { input: TensorInfo };
    if (input.dtype !== 'complex64') {
      throw new Error(
        `${inverse ? 'IFFT' : 'FFT'} expects a complex64 tensor, got dtype '${input.dtype}'. Fix: wrap it with tf.complex(real, imag).`,
      );
    }
    const out = backend.makeOutput(input.shape, 'complex64');
    const size = tf.util.sizeFromShape(input.shape);
    const n = input.shape.length === 0 ? 1 : (input.shape[input.shape.length - 1] as number);
    if (size === 0 || n === 0) return out;
    const batch = size / n;
    const x = f32View(backend, input, 2 * size);
    const y = f32View(backend, out, 2 * size);
    const sign: 1 | -1 = inverse ? 1 : -1;
    const scale = inverse ? 1 / n : 1;
    const re = new Float64Array(n);
    const im = new Float64Array(n);
    const outRe = new Float64Array(n);
    const outIm = new Float64Array(n);
    const pow2 = isPowerOfTwo(n);
    for (let row = 0; row < batch; row++) {
      const base = 2 * row * n;
      for (let t = 0; t < n; t++) {
        re[t] = x[base + 2 * t] as number;
        im[t] = x[base + 2 * t + 1] as number;
      }
      let rr = outRe;
      let ri = outIm;
      if (pow2) {
        radix2(re, im, sign);
        rr = re;
        ri = im;
      } else if (n <= 16) {
        directDft(re, im, outRe, outIm, sign);
      } else {
        bluestein(re, im, outRe, outIm, sign);
      }
      for (let k = 0; k < n; k++) {
        y[base + 2 * k] = (rr[k] as number) * scale;
        y[base + 2 * k + 1] = (ri[k] as number) * scale;
      }
    }
    return out;
  };
}

/** `FFT` and `IFFT` kernel configs (backendName 'wasm'). */
export const fftKernelConfigs: KernelConfig[] = [
  { kernelName: 'FFT', backendName: 'wasm', kernelFunc: fftKernel(false) },
  { kernelName: 'IFFT', backendName: 'wasm', kernelFunc: fftKernel(true) },
];
