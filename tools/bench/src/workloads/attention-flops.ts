/**
 * Forward matMul FLOPs of one self-attention layer on `[N, T, C]` tokens: the q/k/v and output
 * projections (2·N·T·C·4C) plus q·kᵀ and attn·v over all heads (2 × 2·N·T²·C).
 */
export function attentionFlops(n: number, t: number, c: number): number {
  return 2 * n * t * c * 4 * c + 4 * n * t * t * c;
}
