/**
 * Exact expected discounted return of the Gaussian linear policy a = −K s + η on a linear-Gaussian
 * system, with exact derivatives in K and θ (second-order jets, src/math/jet.ts).
 *
 * With s₀ ~ N(0, Σ₀) every state is zero-mean Gaussian, s_t ~ N(0, Σ_t), and
 *   Σ_{t+1} = M Σ_t Mᵀ + B Σ_a Bᵀ + Σ,   M = A − B K.
 * Integrating the action out first (a | s ~ N(−K s, Σ_a)) keeps every determinant free of cancellation:
 *   exponential reward (the paper's):
 *     E exp(−λ(sᵀQs + aᵀRa)) = det(I + 2λ Σ_a R)^(−1/2) · det(I + 2λ Σ_t Q̃)^(−1/2),
 *     Q̃ = Q + Kᵀ R̃ K,  R̃ = (I + 2λ R Σ_a)⁻¹ R;
 *   quadratic reward (LQR's problem):  E[−(sᵀQs + aᵀRa)] = −tr((Q + KᵀRK) Σ_t) − tr(R Σ_a),
 * and J = Σ_{t<H} γ^t E r_t. An unstable closed loop still has a finite exponential-reward return (the
 * reward vanishes as Σ_t grows); the quadratic one diverges and is reported as −∞.
 *
 * Truncation: the sum stops early once its terms are below 1e−18 of the total (five steps running), and
 * when tr Σ_t passes SIGMA_LIMIT (a strongly unstable closed loop): beyond that I + 2λΣQ̃ is numerically
 * rank-deficient (its small pivots drown in the rounding of the large ones), and the dropped tail is below
 * γ^t (2λ q̃_min SIGMA_LIMIT/n)^(−1/2) / (1 − γ) — e.g. < 1e−6·γ^t for the paper's example.
 */
export const SIGMA_LIMIT = 1e12;

import {
  type LinearGaussianParams,
  type LinearGaussianSystem,
  thetaBlocks,
  thetaSize,
} from "../envs/linear-gaussian.ts";
import { axpby, matmul, solve, transpose } from "../math/dense.ts";
import {
  type AffineTerm,
  JetSpace,
  jaxpby,
  jcompose,
  jinverse,
  jlogdet,
  jmul,
  jscaleAddIdentity,
  jtrace,
  jtranspose,
  logdetWork,
} from "../math/jet.ts";
import { Lu } from "../math/linalg.ts";

export type Stage = "exponential" | "quadratic";

/**
 * Which derivatives to carry: `value` none; `gradK` ∇_K J; `hessK` ∇_K J and ∇²_KK J (Newton);
 * `full` additionally ∇_θ J and ∇²_Kθ J (implicit differentiation of the inner optimum).
 */
export type Derivatives = "value" | "gradK" | "hessK" | "full";

export interface ReturnWithDerivatives {
  J: number;
  /** ∇_K J, vec K row-major (m·n). */
  gradK: Float64Array;
  /** ∇²_KK J, (m·n)×(m·n). */
  hessKK: Float64Array;
  /** ∇²_Kθ J, (m·n)×nθ (θ layout of envs/linear-gaussian.ts). */
  hessKTheta: Float64Array;
  /** ∇_θ J (nθ). */
  gradTheta: Float64Array;
  /** Steps summed (the horizon, or fewer once the remaining terms are below rounding). */
  steps: number;
}

export interface ReturnOptions {
  derivatives?: Derivatives;
  stage?: Stage;
  /** Override the system's horizon (the quadratic stage sums to convergence unless given). */
  horizon?: number;
}

export function expectedReturn(
  sys: LinearGaussianSystem,
  p: LinearGaussianParams,
  K: ArrayLike<number>,
  opts: ReturnOptions = {},
): ReturnWithDerivatives {
  const derivs = opts.derivatives ?? "value";
  const stage = opts.stage ?? "exponential";
  const { n, m, gamma, lambda } = sys;
  const nK = m * n;
  const nth = thetaSize(n, m);
  const full = derivs === "full";
  const np = derivs === "value" ? 0 : full ? nK + nth : nK;
  const nh = derivs === "hessK" || full ? nK : 0;
  const S = new JetSpace(np, nh);
  const blk = thetaBlocks(n, m);
  const thetaParam = (i: number) => nK + i; // direction index of θ_i

  const kTerms: AffineTerm[] = [];
  for (let e = 0; e < nK; e++) kTerms.push({ param: e, entry: e, coef: 1 });
  const Kj = S.affine(m, n, K, kTerms);
  const aTerms: AffineTerm[] = [];
  const bTerms: AffineTerm[] = [];
  const qTerms: AffineTerm[] = [];
  const rTerms: AffineTerm[] = [];
  if (full) {
    for (let e = 0; e < n * n; e++) aTerms.push({ param: thetaParam(blk.A[0] + e), entry: e, coef: 1 });
    for (let e = 0; e < n * m; e++) bTerms.push({ param: thetaParam(blk.B[0] + e), entry: e, coef: 1 });
    for (let i = 0; i < n; i++) qTerms.push({ param: thetaParam(blk.Q[0] + i), entry: i * n + i, coef: 1 });
    for (let i = 0; i < m; i++) rTerms.push({ param: thetaParam(blk.R[0] + i), entry: i * m + i, coef: 1 });
  }
  const Aj = S.affine(n, n, p.A, aTerms);
  const Bj = S.affine(n, m, p.B, bTerms);
  const Qj = S.affine(n, n, p.Q, qTerms);
  const Rj = S.affine(m, m, p.R, rTerms);
  const Sa = S.affine(m, m, sys.policyCov);
  const KT = S.zeros(n, m);
  jtranspose(KT, Kj);

  // Time-invariant pieces: Q̃ (n×n) and the action factor c0 (scalar jet).
  const RSa = S.zeros(m, m);
  jmul(S, RSa, Rj, Sa);
  const Rt = S.zeros(m, m);
  let c0: Float64Array;
  if (stage === "exponential") {
    const X = S.zeros(m, m);
    jaxpby(X, 2 * lambda, RSa, 0, RSa);
    jscaleAddIdentity(X, 1, 1);
    c0 = jlogdet(S, X, logdetWork(S, m)); // log det(I + 2λ R Σ_a) = log det(I + 2λ Σ_a R)
    const Xinv = S.zeros(m, m);
    jinverse(S, Xinv, X);
    jmul(S, Rt, Xinv, Rj);
  } else {
    c0 = jtrace(S, RSa);
    jaxpby(Rt, 1, Rj, 0, Rj);
  }
  const RtK = S.zeros(m, n);
  jmul(S, RtK, Rt, Kj);
  const Qt = S.zeros(n, n);
  jmul(S, Qt, KT, RtK);
  jaxpby(Qt, 1, Qt, 1, Qj);

  // M = A − B K and N = B Σ_a Bᵀ + Σ.
  const BK = S.zeros(n, n);
  jmul(S, BK, Bj, Kj);
  const M = S.zeros(n, n);
  jaxpby(M, 1, Aj, -1, BK);
  const MT = S.zeros(n, n);
  jtranspose(MT, M);
  const BSa = S.zeros(n, m);
  jmul(S, BSa, Bj, Sa);
  const BT = S.zeros(m, n);
  jtranspose(BT, Bj);
  const N = S.zeros(n, n);
  jmul(S, N, BSa, BT);
  jaxpby(N, 1, N, 1, S.affine(n, n, sys.noiseCov));

  let Sig = S.affine(n, n, sys.initialCov);
  let SigNext = S.zeros(n, n);
  const SQ = S.zeros(n, n);
  const MS = S.zeros(n, n);
  const work = logdetWork(S, n);
  const ell = new Float64Array(S.nb);
  const st = new Float64Array(S.nb);
  const acc = new Float64Array(S.nb);

  const horizon = opts.horizon ?? (stage === "exponential" ? sys.horizon : 1_000_000);
  let disc = 1;
  let steps = 0;
  let small = 0;
  let diverged = false;
  for (let t = 0; t < horizon; t++) {
    jmul(S, SQ, Sig, Qt);
    if (stage === "exponential") {
      // E r_t = exp(−½ [log det(I + 2λ Σ_a R) + log det(I + 2λ Σ_t Q̃)])
      jscaleAddIdentity(SQ, 2 * lambda, 1);
      jlogdet(S, SQ, work, ell);
      for (let b = 0; b < S.nb; b++) ell[b] += c0[b];
      const e = Math.exp(-0.5 * ell[0]);
      jcompose(S, ell, e, -0.5 * e, 0.25 * e, st);
    } else {
      jtrace(S, SQ, st);
      for (let b = 0; b < S.nb; b++) st[b] = -(st[b] + c0[b]);
    }
    for (let b = 0; b < S.nb; b++) acc[b] += disc * st[b];
    steps = t + 1;
    // Σ ← M Σ Mᵀ + N
    jmul(S, MS, M, Sig);
    jmul(S, SigNext, MS, MT);
    jaxpby(SigNext, 1, SigNext, 1, N);
    const tmp = Sig;
    Sig = SigNext;
    SigNext = tmp;
    disc *= gamma;
    let tr = 0;
    for (let i = 0; i < n; i++) tr += Sig.d[i * n + i];
    if (!(tr < SIGMA_LIMIT)) {
      diverged = stage === "quadratic";
      break;
    }
    if (stage === "quadratic" || opts.horizon === undefined) {
      small = Math.abs(disc * st[0]) <= 1e-18 * Math.abs(acc[0]) ? small + 1 : 0;
      if (small >= 5) break;
    }
  }
  const gradK = new Float64Array(nK);
  const hessKK = new Float64Array(nK * nK);
  const hessKTheta = new Float64Array(full ? nK * nth : 0);
  const gradTheta = new Float64Array(full ? nth : 0);
  if (np > 0) for (let e = 0; e < nK; e++) gradK[e] = acc[S.g(e)];
  for (let e = 0; e < nh; e++) {
    for (let f = 0; f < nK; f++) hessKK[e * nK + f] = acc[S.h(e, f)];
    if (full) for (let i = 0; i < nth; i++) hessKTheta[e * nth + i] = acc[S.h(e, nK + i)];
  }
  if (full) for (let i = 0; i < nth; i++) gradTheta[i] = acc[S.g(nK + i)];
  return { J: diverged ? Number.NEGATIVE_INFINITY : acc[0], gradK, hessKK, hessKTheta, gradTheta, steps };
}

/**
 * The exponential-reward return alone, in plain arithmetic (no jets): the candidate search and line
 * searches of the exact solver call it dozens of times per outer iteration. Same formula as
 * `expectedReturn`; the tests hold the two equal to rounding.
 */
export function expectedReturnValue(
  sys: LinearGaussianSystem,
  p: LinearGaussianParams,
  K: ArrayLike<number>,
): number {
  const { n, m, gamma, lambda } = sys;
  // R̃ = (I + 2λ R Σ_a)⁻¹ R and the action factor det(I + 2λ R Σ_a)^(−1/2).
  const X = matmul(p.R, sys.policyCov, m, m, m);
  for (let e = 0; e < m * m; e++) X[e] *= 2 * lambda;
  for (let i = 0; i < m; i++) X[i * m + i] += 1;
  const c0 = Math.exp(-0.5 * new Lu(X, m).logAbsDet());
  const Rt = solve(X, p.R, m, m);
  const Qt = matmul(transpose(K, m, n), matmul(Rt, K, m, m, n), n, m, n);
  for (let e = 0; e < n * n; e++) Qt[e] += p.Q[e];
  const M = matmul(p.B, K, n, m, n);
  for (let e = 0; e < n * n; e++) M[e] = p.A[e] - M[e];
  const N = matmul(matmul(p.B, sys.policyCov, n, m, m), transpose(p.B, n, m), n, m, n);
  for (let e = 0; e < n * n; e++) N[e] += sys.noiseCov[e];
  if (n === 1) {
    // Scalar fast path (the paper's example).
    const q = Qt[0];
    const mm = M[0] * M[0];
    const nn = N[0];
    let v = sys.initialCov[0];
    let J = 0;
    let disc = 1;
    let small = 0;
    for (let t = 0; t < sys.horizon; t++) {
      const term = disc / Math.sqrt(1 + 2 * lambda * v * q);
      J += term;
      v = mm * v + nn;
      disc *= gamma;
      if (!(v < SIGMA_LIMIT)) break;
      small = gamma * term <= 1e-18 * J ? small + 1 : 0;
      if (small >= 5) break;
    }
    return c0 * J;
  }
  let Sig: Float64Array = Float64Array.from(sys.initialCov);
  const G = new Float64Array(n * n);
  let J = 0;
  let disc = 1;
  let small = 0;
  for (let t = 0; t < sys.horizon; t++) {
    const SQ = matmul(Sig, Qt, n, n, n);
    for (let e = 0; e < n * n; e++) G[e] = 2 * lambda * SQ[e];
    for (let i = 0; i < n; i++) G[i * n + i] += 1;
    const term = disc * Math.exp(-0.5 * new Lu(G, n).logAbsDet());
    J += term;
    Sig = axpby(1, matmul(matmul(M, Sig, n, n, n), transpose(M, n, n), n, n, n), 1, N);
    disc *= gamma;
    let tr = 0;
    for (let i = 0; i < n; i++) tr += Sig[i * n + i];
    if (!(tr < SIGMA_LIMIT)) break;
    small = gamma * term <= 1e-18 * J ? small + 1 : 0;
    if (small >= 5) break;
  }
  return c0 * J;
}
