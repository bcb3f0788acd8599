/**
 * Gradient registration. `@tensorflow/tfjs-core`'s Node build registers kernels' forward
 * implementations only; the gradient functions ship in the `@tensorflow/tfjs` union package
 * (which `@tensorflow/tfjs-node` also loads). Importing it once registers every gradient in
 * tfjs's global registry, so `tf.grads` / `tf.variableGrads` work on every backend. It shares
 * tfjs-core's engine and Tensor class (a single `@tensorflow/tfjs-core` install, 4.22.0).
 */
import '@tensorflow/tfjs';
