/**
 * Parametric models (DESIGN §2): a simulator f_θ(s′|s, a), R_θ(s, a) that exposes what the general bi-level
 * engine needs — the transition log-density, its θ-gradient, the reward's θ-gradient and sampling — with
 * θ an explicit argument of every call.
 *
 * - `GaussianMeanModel`: s′ ~ N(μ_θ(s, a), Σ), Σ fixed, around a user-supplied differentiable mean;
 * - `linearGaussianModel(problem)`: the linear-Gaussian systems of linear-gaussian.ts (same θ layout,
 *   same gradients, same random draws as `step`);
 * - `tabularModel(S, A)`: the softmax-tabular simulator of tabular.ts, θ in the DESIGN §5 layout, states
 *   and actions as indices stored in 1-vectors.
 *
 * Gradients are ADDED into `out` (the caller zeroes it), so sums over transitions need no temporaries.
 * Instances keep scratch buffers: not re-entrant (one per worker).
 */
import type { Rng } from "../math/rng.ts";
import {
  type LinearGaussianProblem,
  reward as lgReward,
  thetaSize as lgThetaSize,
  noiseModel,
  quad,
  rewardGradTheta,
  thetaBlocks,
} from "./linear-gaussian.ts";
import { thetaSize as tabularThetaSize } from "./tabular.ts";

export interface ParametricModel {
  readonly nTheta: number;
  readonly obsSize: number;
  readonly actionSize: number;
  /** log f_θ(s2 | s, a). */
  logProb(
    theta: ArrayLike<number>,
    s: ArrayLike<number>,
    a: ArrayLike<number>,
    s2: ArrayLike<number>,
  ): number;
  /** out += ∇_θ log f_θ(s2 | s, a). */
  gradLogProb(
    theta: ArrayLike<number>,
    s: ArrayLike<number>,
    a: ArrayLike<number>,
    s2: ArrayLike<number>,
    out: Float64Array,
  ): void;
  /** R_θ(s, a). */
  reward(theta: ArrayLike<number>, s: ArrayLike<number>, a: ArrayLike<number>): number;
  /** out += ∇_θ R_θ(s, a). */
  gradReward(theta: ArrayLike<number>, s: ArrayLike<number>, a: ArrayLike<number>, out: Float64Array): void;
  /** A draw s′ ~ f_θ(·|s, a) (a fresh array of obsSize). */
  sampleNext(theta: ArrayLike<number>, s: ArrayLike<number>, a: ArrayLike<number>, rng: Rng): Float64Array;
  /**
   * Optional: the whole of f_θ(·|s, a) when it has finite support (K next states, K × obsSize, and their
   * probabilities). Estimators use it for exact expectations over s′ instead of Monte-Carlo draws.
   */
  nextDistribution?(
    theta: ArrayLike<number>,
    s: ArrayLike<number>,
    a: ArrayLike<number>,
  ): { states: Float64Array; probs: Float64Array };
}

/** A mean μ_θ(s, a) ∈ Rⁿ, differentiable in θ. */
export interface DifferentiableMean {
  /** Writes μ_θ(s, a) (n entries) into out. */
  mean(theta: ArrayLike<number>, s: ArrayLike<number>, a: ArrayLike<number>, out: Float64Array): void;
  /** Writes ∂μ/∂θ (n × nθ, row-major) into out (every entry: zeros included). */
  meanJacobianTheta(
    theta: ArrayLike<number>,
    s: ArrayLike<number>,
    a: ArrayLike<number>,
    out: Float64Array,
  ): void;
}

/** A reward R_θ(s, a) with its θ-gradient (added into out). */
export interface DifferentiableReward {
  reward(theta: ArrayLike<number>, s: ArrayLike<number>, a: ArrayLike<number>): number;
  gradReward(theta: ArrayLike<number>, s: ArrayLike<number>, a: ArrayLike<number>, out: Float64Array): void;
}

export interface GaussianMeanModelOptions {
  nTheta: number;
  obsSize: number;
  actionSize: number;
  /** Σ of the process noise (obsSize × obsSize, SPD), independent of θ. */
  noiseCov: ArrayLike<number>;
  mean: DifferentiableMean;
  reward: DifferentiableReward;
}

function checkLength(name: string, x: ArrayLike<number>, len: number): void {
  if (x.length !== len) throw new RangeError(`${name}: expected ${len} entries, got ${x.length}`);
}

/**
 * Gaussian process noise around a differentiable mean: log f = c − ½ rᵀΣ⁻¹r with r = s′ − μ_θ(s, a), so
 * ∇_θ log f = (∂μ/∂θ)ᵀ Σ⁻¹ r. Sampling draws n standard normals z, then s′ = μ + L z (L Lᵀ = Σ), the
 * order linear-gaussian.ts `step` uses.
 */
export class GaussianMeanModel implements ParametricModel {
  readonly nTheta: number;
  readonly obsSize: number;
  readonly actionSize: number;
  private readonly meanFn: DifferentiableMean;
  private readonly rewardFn: DifferentiableReward;
  private readonly L: Float64Array;
  private readonly precision: Float64Array;
  private readonly logNorm: number;
  private readonly mu: Float64Array;
  private readonly e: Float64Array;
  private readonly jac: Float64Array;

  constructor(options: GaussianMeanModelOptions) {
    const { nTheta, obsSize: n, actionSize } = options;
    for (const [k, v] of [
      ["nTheta", nTheta],
      ["obsSize", n],
      ["actionSize", actionSize],
    ] as const)
      if (!Number.isSafeInteger(v) || v < 1)
        throw new RangeError(`${k} must be a positive integer, got ${v}`);
    checkLength("noiseCov", options.noiseCov, n * n);
    this.nTheta = nTheta;
    this.obsSize = n;
    this.actionSize = actionSize;
    this.meanFn = options.mean;
    this.rewardFn = options.reward;
    const noise = noiseModel({ n, noiseCov: Float64Array.from(options.noiseCov) });
    this.L = noise.L;
    this.precision = noise.precision;
    this.logNorm = noise.logNorm;
    this.mu = new Float64Array(n);
    this.e = new Float64Array(n);
    this.jac = new Float64Array(n * nTheta);
  }

  private check(theta: ArrayLike<number>, s: ArrayLike<number>, a: ArrayLike<number>): void {
    checkLength("theta", theta, this.nTheta);
    checkLength("s", s, this.obsSize);
    checkLength("a", a, this.actionSize);
  }

  /** mu = μ_θ(s, a); e = s′ − μ (the residual; Σ⁻¹ is applied by the callers). */
  private residual(
    theta: ArrayLike<number>,
    s: ArrayLike<number>,
    a: ArrayLike<number>,
    s2: ArrayLike<number>,
  ) {
    this.check(theta, s, a);
    checkLength("s2", s2, this.obsSize);
    this.meanFn.mean(theta, s, a, this.mu);
    for (let i = 0; i < this.obsSize; i++) this.e[i] = s2[i] - this.mu[i];
  }

  logProb(
    theta: ArrayLike<number>,
    s: ArrayLike<number>,
    a: ArrayLike<number>,
    s2: ArrayLike<number>,
  ): number {
    this.residual(theta, s, a, s2);
    return this.logNorm - 0.5 * quad(this.precision, this.e, this.obsSize);
  }

  gradLogProb(
    theta: ArrayLike<number>,
    s: ArrayLike<number>,
    a: ArrayLike<number>,
    s2: ArrayLike<number>,
    out: Float64Array,
  ): void {
    checkLength("out", out, this.nTheta);
    this.residual(theta, s, a, s2);
    const n = this.obsSize;
    const nT = this.nTheta;
    // Σ⁻¹ r into mu (no longer needed), then Jᵀ (Σ⁻¹ r).
    const { precision, e, mu, jac } = this;
    for (let i = 0; i < n; i++) {
      let v = 0;
      for (let j = 0; j < n; j++) v += precision[i * n + j] * e[j];
      mu[i] = v;
    }
    this.meanFn.meanJacobianTheta(theta, s, a, jac);
    for (let i = 0; i < n; i++) {
      const w = mu[i];
      if (w === 0) continue;
      for (let k = 0; k < nT; k++) out[k] += w * jac[i * nT + k];
    }
  }

  reward(theta: ArrayLike<number>, s: ArrayLike<number>, a: ArrayLike<number>): number {
    this.check(theta, s, a);
    return this.rewardFn.reward(theta, s, a);
  }

  gradReward(theta: ArrayLike<number>, s: ArrayLike<number>, a: ArrayLike<number>, out: Float64Array): void {
    this.check(theta, s, a);
    checkLength("out", out, this.nTheta);
    this.rewardFn.gradReward(theta, s, a, out);
  }

  sampleNext(theta: ArrayLike<number>, s: ArrayLike<number>, a: ArrayLike<number>, rng: Rng): Float64Array {
    this.check(theta, s, a);
    const n = this.obsSize;
    const { L, e } = this;
    for (let i = 0; i < n; i++) e[i] = rng.normal();
    const out = new Float64Array(n);
    this.meanFn.mean(theta, s, a, out);
    for (let i = 0; i < n; i++) {
      let v = 0;
      for (let j = 0; j <= i; j++) v += L[i * n + j] * e[j];
      out[i] += v;
    }
    return out;
  }
}

/**
 * The linear-Gaussian simulator of a problem as a parametric model: μ = A s + B a, reward
 * exp(−λ(sᵀQs + aᵀRa)) with the off-diagonals of Q and R from the problem's simulator (θ layout of
 * linear-gaussian.ts). Agrees with its logProb / logProbGradTheta / reward / rewardGradTheta / step.
 */
export function linearGaussianModel(problem: LinearGaussianProblem): GaussianMeanModel {
  const { n, m } = problem;
  const nTheta = lgThetaSize(n, m);
  const blk = thetaBlocks(n, m);
  // Scratch A, B, Q, R for the reward helpers; Q and R keep the template's off-diagonals.
  const p = {
    A: new Float64Array(n * n),
    B: new Float64Array(n * m),
    Q: Float64Array.from(problem.simulator.Q),
    R: Float64Array.from(problem.simulator.R),
  };
  const load = (theta: ArrayLike<number>) => {
    for (let i = 0; i < n; i++) p.Q[i * n + i] = theta[blk.Q[0] + i];
    for (let i = 0; i < m; i++) p.R[i * m + i] = theta[blk.R[0] + i];
    return p;
  };
  return new GaussianMeanModel({
    nTheta,
    obsSize: n,
    actionSize: m,
    noiseCov: problem.noiseCov,
    mean: {
      mean(theta, s, a, out) {
        for (let i = 0; i < n; i++) {
          let v = 0;
          for (let j = 0; j < n; j++) v += theta[blk.A[0] + i * n + j] * s[j];
          for (let j = 0; j < m; j++) v += theta[blk.B[0] + i * m + j] * a[j];
          out[i] = v;
        }
      },
      meanJacobianTheta(_theta, s, a, out) {
        out.fill(0);
        for (let i = 0; i < n; i++) {
          for (let j = 0; j < n; j++) out[i * nTheta + blk.A[0] + i * n + j] = s[j];
          for (let j = 0; j < m; j++) out[i * nTheta + blk.B[0] + i * m + j] = a[j];
        }
      },
    },
    reward: {
      reward: (theta, s, a) => lgReward(problem, load(theta), s, a),
      gradReward(theta, s, a, out) {
        const g = rewardGradTheta(problem, load(theta), s, a);
        for (let k = 0; k < nTheta; k++) out[k] += g[k];
      },
    },
  });
}

/**
 * The tabular simulator (tabular.ts) as a parametric model: θ = [θ^f (s, a, s′), θ^R (s, a)] (DESIGN §5),
 * f_θ(s′|s, a) = softmax(θ^f_{s,a})_{s′}, R_θ = θ^R. States and actions are indices in 1-vectors.
 * ∇_θ log f = e_{s′} − softmax(θ^f_{s,a}) on the (s, a) block; ∇_θ R = e_{(s,a)} in the reward block.
 */
export function tabularModel(S: number, A: number): ParametricModel {
  if (!Number.isSafeInteger(S) || S < 1 || !Number.isSafeInteger(A) || A < 1)
    throw new RangeError(`S and A must be positive integers, got ${S}, ${A}`);
  const nTheta = tabularThetaSize(S, A);
  const nf = S * A * S;
  const row = new Float64Array(S);
  const index = (name: string, x: ArrayLike<number>, bound: number): number => {
    const v = x[0];
    if (x.length !== 1 || !Number.isInteger(v) || v < 0 || v >= bound)
      throw new RangeError(`${name} must be one index in 0..${bound - 1}, got [${Array.from(x).join(", ")}]`);
    return v;
  };
  // Row offset of (s, a) in θ^f, after checking θ, s and a.
  const rowOffset = (theta: ArrayLike<number>, s: ArrayLike<number>, a: ArrayLike<number>): number => {
    checkLength("theta", theta, nTheta);
    return (index("s", s, S) * A + index("a", a, A)) * S;
  };
  // Unnormalised softmax of the row into `row`; returns log Σ exp.
  const softmax = (theta: ArrayLike<number>, off: number): number => {
    let mx = Number.NEGATIVE_INFINITY;
    for (let x = 0; x < S; x++) if (theta[off + x] > mx) mx = theta[off + x];
    let z = 0;
    for (let x = 0; x < S; x++) {
      row[x] = Math.exp(theta[off + x] - mx);
      z += row[x];
    }
    return mx + Math.log(z);
  };
  return {
    nTheta,
    obsSize: 1,
    actionSize: 1,
    logProb(theta, s, a, s2) {
      const off = rowOffset(theta, s, a);
      return theta[off + index("s2", s2, S)] - softmax(theta, off);
    },
    gradLogProb(theta, s, a, s2, out) {
      checkLength("out", out, nTheta);
      const off = rowOffset(theta, s, a);
      const x2 = index("s2", s2, S);
      const lse = softmax(theta, off);
      for (let x = 0; x < S; x++) out[off + x] -= Math.exp(theta[off + x] - lse);
      out[off + x2] += 1;
    },
    reward(theta, s, a) {
      return theta[nf + rowOffset(theta, s, a) / S];
    },
    gradReward(theta, s, a, out) {
      checkLength("out", out, nTheta);
      out[nf + rowOffset(theta, s, a) / S] += 1;
    },
    sampleNext(theta, s, a, rng) {
      const off = rowOffset(theta, s, a);
      softmax(theta, off);
      return Float64Array.of(rng.categorical(row, 0, S));
    },
    nextDistribution(theta, s, a) {
      const off = rowOffset(theta, s, a);
      const lse = softmax(theta, off);
      const probs = new Float64Array(S);
      for (let x = 0; x < S; x++) probs[x] = Math.exp(theta[off + x] - lse);
      return { states: Float64Array.from({ length: S }, (_, x) => x), probs };
    },
  };
}
