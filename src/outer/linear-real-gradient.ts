/**
 * Real-world gradients ∂J_real/∂K for the Gaussian linear policy.
 * - exact: the closed-form return on the real parameters (evaluation only: the real system is known);
 * - sampled: REINFORCE from real rollouts,
 *     ĝ = (1/N) Σ_i Σ_t γ^t ∇_K log π(a_t|s_t) (G_t − b(s_t, t)),   G_t = Σ_{k≥t} γ^{k−t} r_k,
 *   with a baseline b fitted by least squares on features [1, s_i s_j, exp(−k‖s‖²/s̄²) for k = 1, 4, 16]
 *   ⊗ [1, γ^{H−t}] (s̄² the mean ‖s‖² of the fitting data): the return is a bump in s for the
 *   exponential reward, grows or shrinks quadratically far out, and shrinks towards the horizon. Measured
 *   on the paper's example (100 × 40 steps): the bumps cut the estimator's standard deviation by 2–3×. The baseline is cross-fitted: trajectories are
 *   split in two halves and each half uses the fit of the other, so it stays independent of the action
 *   noise it multiplies and the estimator stays unbiased.
 */
import type { LinearBatch } from "../envs/linear-gaussian-rollout.ts";
import { Lu } from "../math/linalg.ts";
import type { LinearGaussianPolicy } from "../policies/linear-gaussian.ts";

/** Radial widths of the bump features, relative to the fitting fold's mean ‖s‖². */
const BUMPS = [1, 4, 16];

function features(
  s: Float64Array,
  off: number,
  n: number,
  w: number,
  scale: number,
  out: Float64Array,
): void {
  let f = 0;
  out[f++] = 1;
  let r2 = 0;
  for (let i = 0; i < n; i++) r2 += s[off + i] * s[off + i];
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) out[f++] = s[off + i] * s[off + j];
  for (const k of BUMPS) out[f++] = Math.exp((-k * r2) / scale);
  const half = f;
  for (let k = 0; k < half; k++) out[f++] = w * out[k];
}

interface Baseline {
  w: Float64Array;
  scale: number;
}

/** Least-squares fit (ridge 1e−8 relative) of G on the features over trajectories [i0, i1); null when
 * the states overflowed (an unstable closed loop) or the fit is singular. */
function fitBaseline(
  b: LinearBatch,
  n: number,
  gamma: number,
  G: Float64Array,
  i0: number,
  i1: number,
  nf: number,
): Baseline | null {
  let scale = 0;
  for (let e = i0 * b.H * n; e < i1 * b.H * n; e++) scale += b.states[e] ** 2;
  scale = scale / ((i1 - i0) * b.H) + 1e-12;
  if (!Number.isFinite(scale)) return null;
  const XtX = new Float64Array(nf * nf);
  const XtG = new Float64Array(nf);
  const x = new Float64Array(nf);
  for (let i = i0; i < i1; i++)
    for (let t = 0; t < b.H; t++) {
      const idx = i * b.H + t;
      features(b.states, idx * n, n, gamma ** (b.H - t), scale, x);
      for (let p = 0; p < nf; p++) {
        XtG[p] += x[p] * G[idx];
        for (let q = 0; q < nf; q++) XtX[p * nf + q] += x[p] * x[q];
      }
    }
  let tr = 0;
  for (let p = 0; p < nf; p++) tr += XtX[p * nf + p];
  if (!Number.isFinite(tr) || XtG.some((v) => !Number.isFinite(v))) return null;
  for (let p = 0; p < nf; p++) XtX[p * nf + p] += 1e-8 * (tr / nf + 1e-300);
  try {
    const w = new Lu(XtX, nf).solve(XtG);
    return w.every(Number.isFinite) ? { w, scale } : null;
  } catch {
    return null;
  }
}

export interface ReinforceResult {
  /** ĝ ≈ ∂J_real/∂K, vec K row-major. */
  grad: Float64Array;
  /** Mean discounted return of the batch from t = 0 (a Monte-Carlo estimate of J over H steps). */
  meanReturn: number;
}

export function reinforceGradientK(
  b: LinearBatch,
  policy: LinearGaussianPolicy,
  gamma: number,
  useBaseline = true,
): ReinforceResult {
  const { n, m } = policy;
  const { N, H } = b;
  // Returns-to-go.
  const G = new Float64Array(N * H);
  let meanReturn = 0;
  for (let i = 0; i < N; i++) {
    let acc = 0;
    for (let t = H - 1; t >= 0; t--) {
      acc = b.rewards[i * H + t] + gamma * acc;
      G[i * H + t] = acc;
    }
    meanReturn += acc / N;
  }
  const nf = 2 * (1 + (n * (n + 1)) / 2 + BUMPS.length);
  const half = N >> 1;
  const canCross = useBaseline && half >= 1 && N - half >= 1;
  const wA = canCross ? fitBaseline(b, n, gamma, G, half, N, nf) : null; // used on [0, half)
  const wB = canCross ? fitBaseline(b, n, gamma, G, 0, half, nf) : null; // used on [half, N)
  const grad = new Float64Array(m * n);
  const x = new Float64Array(nf);
  const s = new Float64Array(n);
  const a = new Float64Array(m);
  for (let i = 0; i < N; i++) {
    const w = i < half ? wA : wB;
    let disc = 1;
    for (let t = 0; t < H; t++) {
      const idx = i * H + t;
      let base = 0;
      if (w) {
        features(b.states, idx * n, n, gamma ** (H - t), w.scale, x);
        for (let p = 0; p < nf; p++) base += w.w[p] * x[p];
      }
      for (let k = 0; k < n; k++) s[k] = b.states[idx * n + k];
      for (let k = 0; k < m; k++) a[k] = b.actions[idx * m + k];
      policy.scoreK(s, a, grad, (disc * (G[idx] - base)) / N);
      disc *= gamma;
    }
  }
  return { grad, meanReturn };
}
