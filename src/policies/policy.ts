/**
 * One interface for differentiable stochastic policies π_φ(a|s) with flat Float64 parameters φ, used by the
 * general (non-tabular) bi-level engine: sampling, log-likelihoods, summed scores and exact summed
 * Hessian-vector products of log π.
 *
 * Conventions (all implementations):
 * - batches are row-major: obs is N × obsSize, actions N × actionSize; a discrete action is its index
 *   stored as a number (actionSize = 1), a tabular state likewise (obsSize = 1);
 * - `scoreSum` and `hessianVectorSum` ADD into `out` (the caller zeroes it), so several batches or terms
 *   can be accumulated into one vector; `weights` (length ≥ N) multiply the per-sample terms, null or
 *   undefined meaning all ones;
 * - `scoreDot` is the per-sample directional derivative ∇_φ log π(a_i|s_i) · u, WRITTEN (not added) into
 *   out[i], without forming the per-sample scores;
 * - implementations keep scratch buffers between calls: one instance is not re-entrant (one per worker);
 * - many products on one fixed batch at one fixed φ (Krylov iterations) go through `bindBatch`, which lets a
 *   policy with an expensive forward pass (the MLPs) run it once and reuse it for every product.
 *
 * Implemented here: `TabularSoftmaxPolicy` and `LinearGaussianPolicyAdapter`; the MLP families are in
 * mlp-policies.ts.
 */
import { cholesky, spdInverse } from "../envs/linear-gaussian.ts";
import type { Rng } from "../math/rng.ts";
import { logSumExp } from "../math/softmax.ts";

export type Weights = ArrayLike<number> | null | undefined;

/**
 * A policy evaluated once on a fixed batch at fixed φ; products reuse that forward pass. The caller must not
 * change phi, obs or actions while the bound batch is in use. Same semantics as the policy's methods of the
 * same name (scoreDot WRITES out[0..n); scoreSum and hessianVectorSum ADD). Not re-entrant.
 */
export interface BoundBatch {
  readonly n: number;
  scoreDot(u: Float64Array, out: Float64Array): void;
  scoreSum(weights: Weights, out: Float64Array): void;
  hessianVectorSum(weights: Weights, v: Float64Array, out: Float64Array): void;
}

export interface DifferentiablePolicy {
  readonly nParams: number;
  readonly obsSize: number;
  readonly actionSize: number;
  readonly discrete: boolean;
  /** Draws one action per row of obs (N × obsSize); returns N × actionSize (written into `out` if given). */
  sample(phi: Float64Array, obs: Float64Array, n: number, rng: Rng, out?: Float64Array): Float64Array;
  /** log π(a_i|s_i) for i < n (written into `out` if given). */
  logProb(
    phi: Float64Array,
    obs: Float64Array,
    actions: Float64Array,
    n: number,
    out?: Float64Array,
  ): Float64Array;
  /** out += Σ_i w_i ∇_φ log π(a_i|s_i). */
  scoreSum(
    phi: Float64Array,
    obs: Float64Array,
    actions: Float64Array,
    n: number,
    weights: Weights,
    out: Float64Array,
  ): void;
  /** out[i] = ∇_φ log π(a_i|s_i) · u for i < n (WRITTEN, not added; a fresh array if out is omitted). */
  scoreDot(
    phi: Float64Array,
    obs: Float64Array,
    actions: Float64Array,
    n: number,
    u: Float64Array,
    out?: Float64Array,
  ): Float64Array;
  /** out += Σ_i w_i ∇²_φ log π(a_i|s_i) · v (exact). */
  hessianVectorSum(
    phi: Float64Array,
    obs: Float64Array,
    actions: Float64Array,
    n: number,
    weights: Weights,
    v: Float64Array,
    out: Float64Array,
  ): void;
  /**
   * Optional: a BoundBatch with its own buffers (independent of this instance's), for policies whose
   * per-call work on a batch (a forward pass) can be done once. Use through `bindBatch`.
   */
  bind?(phi: Float64Array, obs: Float64Array, actions: Float64Array, n: number): BoundBatch;
}

/**
 * The batch (phi, obs, actions, n) bound once: `policy.bind` when the policy has it, else a wrapper that
 * forwards to the unbound methods (no saving, same results). Arguments are checked here, once.
 */
export function bindBatch(
  policy: DifferentiablePolicy,
  phi: Float64Array,
  obs: Float64Array,
  actions: Float64Array,
  n: number,
): BoundBatch {
  if (policy.bind !== undefined) return policy.bind(phi, obs, actions, n);
  checkBatch(policy, phi, obs, n, actions);
  return {
    n,
    scoreDot(u, out) {
      policy.scoreDot(phi, obs, actions, n, u, out);
    },
    scoreSum(weights, out) {
      policy.scoreSum(phi, obs, actions, n, weights, out);
    },
    hessianVectorSum(weights, v, out) {
      policy.hessianVectorSum(phi, obs, actions, n, weights, v, out);
    },
  };
}

/** Shared argument checks: a wrong length here would otherwise read past a row silently. */
export function checkBatch(
  p: Pick<DifferentiablePolicy, "nParams" | "obsSize" | "actionSize">,
  phi: Float64Array,
  obs: Float64Array,
  n: number,
  actions?: Float64Array,
): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`batch size must be an integer ≥ 0, got ${n}`);
  if (phi.length !== p.nParams) throw new RangeError(`phi: expected ${p.nParams} entries, got ${phi.length}`);
  if (obs.length < n * p.obsSize)
    throw new RangeError(`obs: expected ${n}×${p.obsSize} entries, got ${obs.length}`);
  if (actions !== undefined && actions.length < n * p.actionSize)
    throw new RangeError(`actions: expected ${n}×${p.actionSize} entries, got ${actions.length}`);
}

export function checkVector(name: string, x: Float64Array, len: number): void {
  if (x.length !== len) throw new RangeError(`${name}: expected ${len} entries, got ${x.length}`);
}

/** A per-sample output must hold at least n entries (a typed array would drop the rest silently). */
export function checkRowsOut(out: Float64Array, n: number): void {
  if (out.length < n) throw new RangeError(`out: expected ≥ ${n} entries, got ${out.length}`);
}

function checkIndex(name: string, x: number, bound: number): number {
  if (!Number.isInteger(x) || x < 0 || x >= bound)
    throw new RangeError(`${name} must be an integer in 0..${bound - 1}, got ${x}`);
  return x;
}

/**
 * Tabular softmax policy π(a|s) = softmax(φ_s)_a (same maths as tabular-softmax.ts), φ index s·A + a.
 * Score on block s: e_a − π_s; Hessian on block s: −(diag π_s − π_s π_sᵀ), independent of a.
 */
export class TabularSoftmaxPolicy implements DifferentiablePolicy {
  readonly nParams: number;
  readonly obsSize = 1;
  readonly actionSize = 1;
  readonly discrete = true;
  private readonly p: Float64Array;

  constructor(
    readonly S: number,
    readonly A: number,
  ) {
    if (!Number.isSafeInteger(S) || S < 1 || !Number.isSafeInteger(A) || A < 1)
      throw new RangeError(`S and A must be positive integers, got ${S}, ${A}`);
    this.nParams = S * A;
    this.p = new Float64Array(A);
  }

  /** π(·|s) into the scratch row; returns log Σ exp(φ_s). */
  private row(phi: Float64Array, s: number): number {
    const { A, p } = this;
    const off = s * A;
    const lse = logSumExp(phi, off, A);
    for (let a = 0; a < A; a++) p[a] = Math.exp(phi[off + a] - lse);
    return lse;
  }

  sample(phi: Float64Array, obs: Float64Array, n: number, rng: Rng, out = new Float64Array(n)): Float64Array {
    checkBatch(this, phi, obs, n);
    for (let i = 0; i < n; i++) {
      this.row(phi, checkIndex("state", obs[i], this.S));
      out[i] = rng.categorical(this.p, 0, this.A);
    }
    return out;
  }

  logProb(
    phi: Float64Array,
    obs: Float64Array,
    actions: Float64Array,
    n: number,
    out = new Float64Array(n),
  ): Float64Array {
    checkBatch(this, phi, obs, n, actions);
    for (let i = 0; i < n; i++) {
      const s = checkIndex("state", obs[i], this.S);
      const lse = this.row(phi, s);
      out[i] = phi[s * this.A + checkIndex("action", actions[i], this.A)] - lse;
    }
    return out;
  }

  scoreSum(
    phi: Float64Array,
    obs: Float64Array,
    actions: Float64Array,
    n: number,
    weights: Weights,
    out: Float64Array,
  ): void {
    checkBatch(this, phi, obs, n, actions);
    checkVector("out", out, this.nParams);
    const { A, p } = this;
    for (let i = 0; i < n; i++) {
      const s = checkIndex("state", obs[i], this.S);
      const w = weights ? weights[i] : 1;
      this.row(phi, s);
      const off = s * A;
      for (let b = 0; b < A; b++) out[off + b] -= w * p[b];
      out[off + checkIndex("action", actions[i], A)] += w;
    }
  }

  /** u[s·A + a] − Σ_b π(b|s) u[s·A + b]. */
  scoreDot(
    phi: Float64Array,
    obs: Float64Array,
    actions: Float64Array,
    n: number,
    u: Float64Array,
    out = new Float64Array(n),
  ): Float64Array {
    checkBatch(this, phi, obs, n, actions);
    checkVector("u", u, this.nParams);
    checkRowsOut(out, n);
    const { A, p } = this;
    for (let i = 0; i < n; i++) {
      const s = checkIndex("state", obs[i], this.S);
      const a = checkIndex("action", actions[i], A);
      this.row(phi, s);
      const off = s * A;
      let pu = 0;
      for (let b = 0; b < A; b++) pu += p[b] * u[off + b];
      out[i] = u[off + a] - pu;
    }
    return out;
  }

  hessianVectorSum(
    phi: Float64Array,
    obs: Float64Array,
    actions: Float64Array,
    n: number,
    weights: Weights,
    v: Float64Array,
    out: Float64Array,
  ): void {
    checkBatch(this, phi, obs, n, actions);
    checkVector("v", v, this.nParams);
    checkVector("out", out, this.nParams);
    const { A, p } = this;
    for (let i = 0; i < n; i++) {
      const s = checkIndex("state", obs[i], this.S);
      checkIndex("action", actions[i], A);
      const w = weights ? weights[i] : 1;
      this.row(phi, s);
      const off = s * A;
      let pv = 0;
      for (let b = 0; b < A; b++) pv += p[b] * v[off + b];
      // −(diag π − π πᵀ) v = −π ⊙ (v − πᵀv)
      for (let b = 0; b < A; b++) out[off + b] -= w * p[b] * (v[off + b] - pv);
    }
  }
}

/**
 * The linear-Gaussian policy a ~ N(−K s, Σ_a) of policies/linear-gaussian.ts behind the batch interface:
 * φ = vec K (m×n, row-major), Σ_a fixed. Same maths and the same random draws as LinearGaussianPolicy
 * (m normals, then mean + L z), without its per-sample allocations:
 *   score_ij = −[Σ_a⁻¹ (a + K s)]_i s_j,   (H v)_ij = −[Σ_a⁻¹ (V s)]_i s_j   (H independent of a).
 */
export class LinearGaussianPolicyAdapter implements DifferentiablePolicy {
  readonly nParams: number;
  readonly obsSize: number;
  readonly actionSize: number;
  readonly discrete = false;
  private readonly chol: Float64Array;
  private readonly prec: Float64Array;
  private readonly logNorm: number;
  private readonly d: Float64Array;
  private readonly e: Float64Array;

  /** n = state dimension, m = action dimension, cov = Σ_a (m×m, SPD). */
  constructor(
    readonly n: number,
    readonly m: number,
    cov: ArrayLike<number>,
  ) {
    if (cov.length !== m * m) throw new RangeError(`cov must have ${m}×${m} entries, got ${cov.length}`);
    this.nParams = m * n;
    this.obsSize = n;
    this.actionSize = m;
    this.chol = cholesky(cov, m);
    this.prec = spdInverse(cov, m);
    let logDet = 0;
    for (let i = 0; i < m; i++) logDet += 2 * Math.log(this.chol[i * m + i]);
    this.logNorm = -0.5 * (m * Math.log(2 * Math.PI) + logDet);
    this.d = new Float64Array(m);
    this.e = new Float64Array(m);
  }

  /** d = a − (−K s) for row r, e = Σ_a⁻¹ d. */
  private residual(phi: Float64Array, obs: Float64Array, actions: Float64Array, r: number): void {
    const { n, m, d, e, prec } = this;
    const so = r * n;
    for (let i = 0; i < m; i++) {
      let mu = 0;
      for (let j = 0; j < n; j++) mu -= phi[i * n + j] * obs[so + j];
      d[i] = actions[r * m + i] - mu;
    }
    for (let i = 0; i < m; i++) {
      let x = 0;
      for (let k = 0; k < m; k++) x += prec[i * m + k] * d[k];
      e[i] = x;
    }
  }

  sample(
    phi: Float64Array,
    obs: Float64Array,
    nRows: number,
    rng: Rng,
    out = new Float64Array(nRows * this.m),
  ): Float64Array {
    checkBatch(this, phi, obs, nRows);
    const { n, m, chol, d } = this;
    for (let r = 0; r < nRows; r++) {
      for (let i = 0; i < m; i++) d[i] = rng.normal();
      for (let i = 0; i < m; i++) {
        let mu = 0;
        for (let j = 0; j < n; j++) mu -= phi[i * n + j] * obs[r * n + j];
        let eta = 0;
        for (let j = 0; j <= i; j++) eta += chol[i * m + j] * d[j];
        out[r * m + i] = mu + eta;
      }
    }
    return out;
  }

  logProb(
    phi: Float64Array,
    obs: Float64Array,
    actions: Float64Array,
    nRows: number,
    out = new Float64Array(nRows),
  ): Float64Array {
    checkBatch(this, phi, obs, nRows, actions);
    for (let r = 0; r < nRows; r++) {
      this.residual(phi, obs, actions, r);
      let q = 0;
      for (let i = 0; i < this.m; i++) q += this.d[i] * this.e[i];
      out[r] = this.logNorm - 0.5 * q;
    }
    return out;
  }

  scoreSum(
    phi: Float64Array,
    obs: Float64Array,
    actions: Float64Array,
    nRows: number,
    weights: Weights,
    out: Float64Array,
  ): void {
    checkBatch(this, phi, obs, nRows, actions);
    checkVector("out", out, this.nParams);
    const { n, m, e } = this;
    for (let r = 0; r < nRows; r++) {
      const w = weights ? weights[r] : 1;
      this.residual(phi, obs, actions, r);
      for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) out[i * n + j] -= w * e[i] * obs[r * n + j];
    }
  }

  /** −Σ_i e_i (U s)_i with e = Σ_a⁻¹ (a + K s), U = u as an m×n matrix. */
  scoreDot(
    phi: Float64Array,
    obs: Float64Array,
    actions: Float64Array,
    nRows: number,
    u: Float64Array,
    out = new Float64Array(nRows),
  ): Float64Array {
    checkBatch(this, phi, obs, nRows, actions);
    checkVector("u", u, this.nParams);
    checkRowsOut(out, nRows);
    const { n, m, e } = this;
    for (let r = 0; r < nRows; r++) {
      this.residual(phi, obs, actions, r);
      const so = r * n;
      let x = 0;
      for (let i = 0; i < m; i++) {
        let us = 0;
        for (let j = 0; j < n; j++) us += u[i * n + j] * obs[so + j];
        x -= e[i] * us;
      }
      out[r] = x;
    }
    return out;
  }

  hessianVectorSum(
    phi: Float64Array,
    obs: Float64Array,
    actions: Float64Array,
    nRows: number,
    weights: Weights,
    v: Float64Array,
    out: Float64Array,
  ): void {
    checkBatch(this, phi, obs, nRows, actions);
    checkVector("v", v, this.nParams);
    checkVector("out", out, this.nParams);
    const { n, m, d, e, prec } = this;
    for (let r = 0; r < nRows; r++) {
      const w = weights ? weights[r] : 1;
      const so = r * n;
      for (let i = 0; i < m; i++) {
        let x = 0;
        for (let j = 0; j < n; j++) x += v[i * n + j] * obs[so + j];
        d[i] = x;
      }
      for (let i = 0; i < m; i++) {
        let x = 0;
        for (let k = 0; k < m; k++) x += prec[i * m + k] * d[k];
        e[i] = x;
      }
      for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) out[i * n + j] -= w * e[i] * obs[so + j];
    }
  }
}
