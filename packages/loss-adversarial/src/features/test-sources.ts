/**
 * @file Tiny structural feature sources built from core's `Network`, for this folder's tests only
 * (not exported): a two-tap conv "teacher" and a linear-patch-embedding "critic".
 */
import * as tf from '@tensorflow/tfjs-core';
import { heUniform, normal, type Network } from '@fewstep/core';
import type { CriticSource } from './critic-features.js';
import type { FrozenTapSource } from './teacher-tap-features.js';

/**
 * Teacher on `[B, F, H, W, C]` (or `[B, H, W, C]`): tap `a` = tanh(conv3x3(x) + t/1000)
 * `[B(, F), H, W, 4]`, tap `b` = tanh(conv3x3 stride 2(a)) `[B(, F), H/2, W/2, 8]`, out = conv1x1(a).
 */
export function tinyTeacher(net: Network, c: number): FrozenTapSource {
  net.param('a.kernel', [3, 3, c, 4], heUniform());
  net.param('b.kernel', [3, 3, 4, 8], heUniform());
  net.param('out.kernel', [1, 1, 4, c], heUniform());
  return {
    forward: ({ x, t }, { taps }) =>
      tf.tidy(() => {
        const video = x.rank === 5;
        const folded: tf.Tensor = video ? tf.reshape(x, [-1, ...x.shape.slice(2)]) : x;
        const frames = folded as tf.Tensor4D;
        const f = video ? x.shape[1]! : 1;
        const tFrames = tf.reshape(tf.tile(tf.reshape(t, [-1, 1]), [1, f]), [-1, 1, 1, 1]);
        const a = tf.tanh(tf.add(tf.conv2d(frames, net.kernel('a.kernel') as tf.Tensor4D, 1, 'same'), tf.div(tFrames, 1000))) as tf.Tensor4D;
        const b = tf.tanh(tf.conv2d(a, net.kernel('b.kernel') as tf.Tensor4D, 2, 'same'));
        const out = tf.conv2d(a, net.kernel('out.kernel') as tf.Tensor4D, 1, 'same');
        const unfold = (y: tf.Tensor) => (video ? tf.reshape(y, [x.shape[0]!, f, ...y.shape.slice(1)]) : y);
        const all: Record<string, tf.Tensor> = { a: unfold(a), b: unfold(b) };
        return { out: unfold(out), taps: Object.fromEntries(taps.filter((n) => n in all).map((n) => [n, all[n]!])) };
      }),
  };
}

/**
 * Critic: a linear patch embedding `[p*p*3, D]` plus one class token, then per layer l a tanh of a
 * `[D, D]` linear map. `hiddenStates` returns `[B, 1 + (H/p)(W/p), D]` per requested layer.
 */
export function tinyCritic(net: Network, p: number, d: number, depth: number): CriticSource {
  net.param('patch.kernel', [p * p * 3, d], normal({ std: 0.3 }));
  net.param('cls', [1, 1, d], normal({ std: 0.3 }));
  for (let l = 0; l < depth; l++) net.param(`layer${l}.kernel`, [d, d], normal({ std: 0.3 }));
  return {
    hiddenStates: (images, layers) =>
      tf.tidy(() => {
        const [b, h, w] = images.shape as number[];
        const gh = h! / p;
        const gw = w! / p;
        // [B, gh, p, gw, p, 3] -> [B, gh, gw, p, p, 3] -> [B, gh*gw, p*p*3]
        const patches = tf.reshape(tf.transpose(tf.reshape(images, [b!, gh, p, gw, p, 3]), [0, 1, 3, 2, 4, 5]), [b!, gh * gw, p * p * 3]);
        let hidden = tf.concat([tf.tile(net.kernel('cls'), [b!, 1, 1]), tf.reshape(tf.matMul(tf.reshape(patches, [-1, p * p * 3]), net.kernel('patch.kernel')), [b!, gh * gw, d])], 1);
        const states: tf.Tensor[] = [];
        for (let l = 0; l < depth; l++) {
          hidden = tf.tanh(tf.reshape(tf.matMul(tf.reshape(hidden, [-1, d]), net.kernel(`layer${l}.kernel`)), [b!, -1, d]));
          states.push(hidden);
        }
        return layers.map((l) => states[l]!);
      }),
  };
}
