/**
 * Gaussian linear policy a ~ N(−K s, Σ_a), K (m×n, row-major) the policy parameter, Σ_a fixed.
 * log π(a|s) = c − ½ (a + K s)ᵀ Σ_a⁻¹ (a + K s):
 *   ∂/∂K_ij log π = −[Σ_a⁻¹ (a + K s)]_i s_j,    ∂²/∂K_ij ∂K_kl log π = −(Σ_a⁻¹)_ik s_j s_l.
 */
import { cholesky, gaussianDraw, spdInverse } from "../envs/linear-gaussian.ts";
import type { Rng } from "../math/rng.ts";

export class LinearGaussianPolicy {
  readonly n: number;
  readonly m: number;
  readonly K: Float64Array;
  private readonly chol: Float64Array;
  private readonly prec: Float64Array;
  private readonly logNorm: number;

  constructor(K: ArrayLike<number>, cov: ArrayLike<number>, n: number, m: number) {
    if (K.length !== m * n) throw new RangeError(`K must have ${m}×${n} entries, got ${K.length}`);
    this.n = n;
    this.m = m;
    this.K = Float64Array.from(K);
    this.chol = cholesky(cov, m);
    this.prec = spdInverse(cov, m);
    let logDet = 0;
    for (let i = 0; i < m; i++) logDet += 2 * Math.log(this.chol[i * m + i]);
    this.logNorm = -0.5 * (m * Math.log(2 * Math.PI) + logDet);
  }

  /** Mean action −K s. */
  mean(s: ArrayLike<number>, out = new Float64Array(this.m)): Float64Array {
    const { n, m, K } = this;
    for (let i = 0; i < m; i++) {
      let v = 0;
      for (let j = 0; j < n; j++) v -= K[i * n + j] * s[j];
      out[i] = v;
    }
    return out;
  }

  sample(s: ArrayLike<number>, rng: Rng, out = new Float64Array(this.m)): Float64Array {
    const eta = gaussianDraw(this.chol, this.m, rng);
    this.mean(s, out);
    for (let i = 0; i < this.m; i++) out[i] += eta[i];
    return out;
  }

  /** d = a − mean = a + K s and w = Σ_a⁻¹ d. */
  private residual(s: ArrayLike<number>, a: ArrayLike<number>): { d: Float64Array; w: Float64Array } {
    const { m, prec } = this;
    const d = this.mean(s);
    for (let i = 0; i < m; i++) d[i] = a[i] - d[i];
    const w = new Float64Array(m);
    for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) w[i] += prec[i * m + j] * d[j];
    return { d, w };
  }

  logProb(s: ArrayLike<number>, a: ArrayLike<number>): number {
    const { d, w } = this.residual(s, a);
    let q = 0;
    for (let i = 0; i < this.m; i++) q += d[i] * w[i];
    return this.logNorm - 0.5 * q;
  }

  /** ∇_K log π(a|s), row-major m×n, added into `out` scaled by `weight` when given. */
  scoreK(s: ArrayLike<number>, a: ArrayLike<number>, out = new Float64Array(this.m * this.n), weight = 1) {
    const { n, m } = this;
    const { w } = this.residual(s, a);
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) out[i * n + j] -= weight * w[i] * s[j];
    return out;
  }

  /** ∇²_K log π(a|s) ((m·n)×(m·n), vec K row-major); it does not depend on a. */
  hessianK(s: ArrayLike<number>): Float64Array {
    const { n, m, prec } = this;
    const d = m * n;
    const H = new Float64Array(d * d);
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++)
        for (let k = 0; k < m; k++)
          for (let l = 0; l < n; l++) H[(i * n + j) * d + k * n + l] = -prec[i * m + k] * s[j] * s[l];
    return H;
  }
}
