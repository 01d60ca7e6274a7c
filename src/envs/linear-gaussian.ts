/**
 * Linear-Gaussian systems (bi-level paper §5, "Continuous MDP", in n dimensions):
 *   s⁺ = A s + B a + ε,  ε ~ N(0, Σ),   reward R(s, a) = exp(−λ (sᵀQ s + aᵀR a)).
 * The simulator's parameters θ are an explicit argument of every function (functional environment).
 *
 * θ layout: vec A (n×n, row-major), vec B (n×m, row-major), diag Q (n), diag R (m). Off-diagonal entries of
 * Q and R, when a problem has them, are fixed (taken from the problem's simulator) so that θ keeps Q and R
 * positive definite under simple lower bounds on their diagonals. The paper's scalar case is n = m = 1,
 * θ = (θ_s, θ_a, θ_q, θ_r).
 */
import { CholeskyDecomposition } from "ml-matrix";
import { fromMatrix, toMatrix } from "../math/linalg.ts";
import type { Rng } from "../math/rng.ts";

/** A, B, Q, R as full row-major matrices. */
export interface LinearGaussianParams {
  A: Float64Array;
  B: Float64Array;
  Q: Float64Array;
  R: Float64Array;
}

/** Everything about a linear-Gaussian problem that θ does not change. */
export interface LinearGaussianSystem {
  n: number;
  m: number;
  gamma: number;
  /** λ of the exponential reward. */
  lambda: number;
  /** Horizon of the expected return (the known values of the paper use 400). */
  horizon: number;
  /** Σ of the process noise (n×n), the policy's action covariance Σ_a (m×m), the initial-state covariance (n×n). */
  noiseCov: Float64Array;
  policyCov: Float64Array;
  initialCov: Float64Array;
}

export interface LinearGaussianProblem extends LinearGaussianSystem {
  real: LinearGaussianParams;
  /** The simulator's starting parameters (θ₀) and the source of the fixed off-diagonals of Q and R. */
  simulator: LinearGaussianParams;
  /** Per-θ lower bounds (−∞ where free), applied after every outer step. */
  lower: Float64Array;
}

export function thetaSize(n: number, m: number): number {
  return n * n + n * m + n + m;
}

/** Index ranges of the θ blocks. */
export function thetaBlocks(n: number, m: number) {
  const a = 0;
  const b = n * n;
  const q = b + n * m;
  const r = q + n;
  return { A: [a, b], B: [b, q], Q: [q, r], R: [r, r + m] } as const;
}

export function thetaFromParams(n: number, m: number, p: LinearGaussianParams): Float64Array {
  const th = new Float64Array(thetaSize(n, m));
  const blk = thetaBlocks(n, m);
  th.set(p.A, blk.A[0]);
  th.set(p.B, blk.B[0]);
  for (let i = 0; i < n; i++) th[blk.Q[0] + i] = p.Q[i * n + i];
  for (let i = 0; i < m; i++) th[blk.R[0] + i] = p.R[i * m + i];
  return th;
}

/** A, B, Q, R of the simulator at θ (off-diagonals of Q and R from `template`). */
export function paramsFromTheta(
  n: number,
  m: number,
  theta: ArrayLike<number>,
  template: Pick<LinearGaussianParams, "Q" | "R">,
): LinearGaussianParams {
  const blk = thetaBlocks(n, m);
  const A = Float64Array.from({ length: n * n }, (_, i) => theta[blk.A[0] + i]);
  const B = Float64Array.from({ length: n * m }, (_, i) => theta[blk.B[0] + i]);
  const Q = Float64Array.from(template.Q);
  const R = Float64Array.from(template.R);
  for (let i = 0; i < n; i++) Q[i * n + i] = theta[blk.Q[0] + i];
  for (let i = 0; i < m; i++) R[i * m + i] = theta[blk.R[0] + i];
  return { A, B, Q, R };
}

/** The simulator at θ for a problem. */
export function problemParams(
  problem: LinearGaussianProblem,
  theta: ArrayLike<number>,
): LinearGaussianParams {
  return paramsFromTheta(problem.n, problem.m, theta, problem.simulator);
}

/** Lower Cholesky factor of a symmetric positive-definite k×k matrix (throws if it is not). */
export function cholesky(a: ArrayLike<number>, k: number): Float64Array {
  const c = new CholeskyDecomposition(toMatrix(a, k, k));
  if (!c.isPositiveDefinite()) throw new RangeError("matrix is not positive definite");
  return fromMatrix(c.lowerTriangularMatrix);
}

/** Inverse of a symmetric positive-definite k×k matrix. */
export function spdInverse(a: ArrayLike<number>, k: number): Float64Array {
  const c = new CholeskyDecomposition(toMatrix(a, k, k));
  if (!c.isPositiveDefinite()) throw new RangeError("matrix is not positive definite");
  return fromMatrix(c.solve(toMatrix(identity(k), k, k)));
}

export function identity(k: number): Float64Array {
  const I = new Float64Array(k * k);
  for (let i = 0; i < k; i++) I[i * k + i] = 1;
  return I;
}

/** y = L z with z ~ N(0, I): a draw from N(0, L Lᵀ). */
export function gaussianDraw(L: Float64Array, k: number, rng: Rng, out = new Float64Array(k)): Float64Array {
  const z = new Float64Array(k);
  for (let i = 0; i < k; i++) z[i] = rng.normal();
  for (let i = 0; i < k; i++) {
    let v = 0;
    for (let j = 0; j <= i; j++) v += L[i * k + j] * z[j];
    out[i] = v;
  }
  return out;
}

/** Mean of the next state: A s + B a. */
export function meanNext(
  n: number,
  m: number,
  p: LinearGaussianParams,
  s: ArrayLike<number>,
  a: ArrayLike<number>,
  out = new Float64Array(n),
): Float64Array {
  for (let i = 0; i < n; i++) {
    let v = 0;
    for (let j = 0; j < n; j++) v += p.A[i * n + j] * s[j];
    for (let j = 0; j < m; j++) v += p.B[i * m + j] * a[j];
    out[i] = v;
  }
  return out;
}

/** Quadratic form xᵀ M x. */
export function quad(M: ArrayLike<number>, x: ArrayLike<number>, k: number): number {
  let v = 0;
  for (let i = 0; i < k; i++) {
    let row = 0;
    for (let j = 0; j < k; j++) row += M[i * k + j] * x[j];
    v += x[i] * row;
  }
  return v;
}

/** R_θ(s, a) = exp(−λ (sᵀQ s + aᵀR a)). */
export function reward(
  sys: Pick<LinearGaussianSystem, "n" | "m" | "lambda">,
  p: LinearGaussianParams,
  s: ArrayLike<number>,
  a: ArrayLike<number>,
): number {
  return Math.exp(-sys.lambda * (quad(p.Q, s, sys.n) + quad(p.R, a, sys.m)));
}

/** ∇_θ R_θ(s, a): zero on A and B; −λ s_i² R on diag Q, −λ a_j² R on diag R. */
export function rewardGradTheta(
  sys: Pick<LinearGaussianSystem, "n" | "m" | "lambda">,
  p: LinearGaussianParams,
  s: ArrayLike<number>,
  a: ArrayLike<number>,
): Float64Array {
  const { n, m, lambda } = sys;
  const g = new Float64Array(thetaSize(n, m));
  const r = reward(sys, p, s, a);
  const blk = thetaBlocks(n, m);
  for (let i = 0; i < n; i++) g[blk.Q[0] + i] = -lambda * s[i] * s[i] * r;
  for (let j = 0; j < m; j++) g[blk.R[0] + j] = -lambda * a[j] * a[j] * r;
  return g;
}

/**
 * The transition density's pieces that depend only on Σ (not on θ): its Cholesky factor, precision and
 * log-normaliser. Computed from the system each time they are asked for; callers in loops keep one.
 */
export function noiseModel(sys: Pick<LinearGaussianSystem, "n" | "noiseCov">) {
  const { n } = sys;
  const L = cholesky(sys.noiseCov, n);
  let logDet = 0;
  for (let i = 0; i < n; i++) logDet += 2 * Math.log(L[i * n + i]);
  return { L, precision: spdInverse(sys.noiseCov, n), logNorm: -0.5 * (n * Math.log(2 * Math.PI) + logDet) };
}

export type NoiseModel = ReturnType<typeof noiseModel>;

/** log f_θ(s′ | s, a) = log N(s′; A s + B a, Σ). */
export function logProb(
  sys: Pick<LinearGaussianSystem, "n" | "m">,
  noise: NoiseModel,
  p: LinearGaussianParams,
  s: ArrayLike<number>,
  a: ArrayLike<number>,
  next: ArrayLike<number>,
): number {
  const mu = meanNext(sys.n, sys.m, p, s, a);
  for (let i = 0; i < sys.n; i++) mu[i] = next[i] - mu[i];
  return noise.logNorm - 0.5 * quad(noise.precision, mu, sys.n);
}

/** ∇_θ log f_θ(s′ | s, a): with e = Σ⁻¹(s′ − A s − B a), ∂/∂A = e sᵀ, ∂/∂B = e aᵀ, zero on Q and R. */
export function logProbGradTheta(
  sys: Pick<LinearGaussianSystem, "n" | "m">,
  noise: NoiseModel,
  p: LinearGaussianParams,
  s: ArrayLike<number>,
  a: ArrayLike<number>,
  next: ArrayLike<number>,
): Float64Array {
  const { n, m } = sys;
  const r = meanNext(n, m, p, s, a);
  for (let i = 0; i < n; i++) r[i] = next[i] - r[i];
  const e = new Float64Array(n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) e[i] += noise.precision[i * n + j] * r[j];
  const g = new Float64Array(thetaSize(n, m));
  const blk = thetaBlocks(n, m);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) g[blk.A[0] + i * n + j] = e[i] * s[j];
    for (let j = 0; j < m; j++) g[blk.B[0] + i * m + j] = e[i] * a[j];
  }
  return g;
}

/** One step s⁺ = A s + B a + ε (functional: θ passed in, noise factor `L` from `noiseModel`). */
export function step(
  sys: Pick<LinearGaussianSystem, "n" | "m">,
  noise: NoiseModel,
  p: LinearGaussianParams,
  s: ArrayLike<number>,
  a: ArrayLike<number>,
  rng: Rng,
  out = new Float64Array(sys.n),
): Float64Array {
  const eps = gaussianDraw(noise.L, sys.n, rng);
  meanNext(sys.n, sys.m, p, s, a, out);
  for (let i = 0; i < sys.n; i++) out[i] += eps[i];
  return out;
}
