/**
 * @file Quantiles for the mixture metrics: the standard normal (Acklam's rational approximation,
 * relative error < 1.2e-9) and the chi-square via Wilson & Hilferty (1931):
 * `chi2_p(D) ≈ D (1 - 2/(9D) + z_p sqrt(2/(9D)))^3`, z_p the normal quantile. The cube-root
 * transform makes the chi-square nearly normal; against exact quantiles (scipy.stats.chi2.ppf) the
 * relative error at p = 0.999 is +3.0% for D = 1, +1.4% for D = 4, +0.16% for D = 32, +0.04% for
 * D = 100 and 8e-6 for D = 1536 (video mixtures have D in the thousands).
 */
import { ConfigError } from '../../errors.js';

const A = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
const B = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
const C = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
const Dc = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];

const poly = (c: number[], x: number) => c.reduce((acc, v) => acc * x + v, 0);

/** Inverse standard-normal CDF (Acklam's algorithm). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new ConfigError('p', p, 'a probability in (0, 1)');
  const pLow = 0.02425;
  if (p < pLow) {
    const q = Math.sqrt(-2 * Math.log(p));
    return poly(C, q) / (poly(Dc, q) * q + 1);
  }
  if (p > 1 - pLow) {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    return -poly(C, q) / (poly(Dc, q) * q + 1);
  }
  const q = p - 0.5;
  const r = q * q;
  return (poly(A, r) * q) / (poly(B, r) * r + 1);
}

/** Wilson-Hilferty approximation of the p-quantile of a chi-square with `dof` degrees of freedom. */
export function chiSquareQuantile(p: number, dof: number): number {
  if (!(dof > 0)) throw new ConfigError('dof', dof, 'a number > 0');
  const z = normalQuantile(p);
  const c = 2 / (9 * dof);
  return dof * Math.max(0, 1 - c + z * Math.sqrt(c)) ** 3;
}
