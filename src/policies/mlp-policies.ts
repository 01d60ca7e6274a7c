/**
 * Neural policies behind the DifferentiablePolicy interface (policy.ts), built on src/nn: scores come from
 * Mlp.backward and exact Hessian-vector products from Mlp.hvp (R-operator) with the nn loss helpers.
 * Per-sample directional derivatives (`scoreDot`) use one forward-mode pass, Mlp.jvp, for the whole batch.
 *
 * - GaussianMlpPolicy: a ~ N(μ_φ(s), diag σ²), μ = MLP(s), σ = exp(ℓ) state-independent.
 *   Layout of φ: the MLP parameters (mlp.ts layout, `netParams` entries) and then, only when the log-std
 *   is learned, ℓ_1..ℓ_K (K = action size) at φ[netParams + j]. With a fixed log-std, φ is the MLP alone.
 * - CategoricalMlpPolicy: a ~ softmax(MLP(s)), actions are indices 0..K−1.
 *
 * Each instance owns one MlpWorkspace and a few scratch buffers that grow to the largest batch seen and
 * are reused: no allocation per sample, and one instance is not re-entrant.
 */
import type { Rng } from "../math/rng.ts";
import {
  categoricalLogProbLoss,
  gaussianLogProbLoss,
  type InitOptions,
  Mlp,
  type MlpSpec,
  type MlpWorkspace,
  type OutputHessian,
} from "../nn/index.ts";
import { checkBatch, checkRowsOut, checkVector, type DifferentiablePolicy, type Weights } from "./policy.ts";

const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

function grow(buf: Float64Array, len: number): Float64Array {
  return buf.length >= len ? buf : new Float64Array(Math.max(len, 2 * buf.length));
}

export interface GaussianMlpOptions {
  /** Log standard deviation per action dimension (or one number for all). Fixed, or the initial value. */
  logStd: ArrayLike<number> | number;
  /** Learn ℓ as K extra parameters appended after the MLP's (default false). */
  learnLogStd?: boolean;
}

/**
 * log π(a|s) = Σ_j [−½ e_j² − ℓ_j − ½ log 2π], e_j = (a_j − μ_j)/σ_j. Derivatives per sample:
 *   ∂/∂μ_j = e_j/σ_j, ∂/∂ℓ_j = e_j² − 1;
 *   ∂²/∂μ_j² = −1/σ_j², ∂²/∂μ_j∂ℓ_j = −2 e_j/σ_j, ∂²/∂ℓ_j² = −2 e_j² (all else zero).
 * The μ–ℓ cross term enters the R-operator as an extra R{∂L/∂μ} = −2 w e/σ · v_ℓ.
 */
export class GaussianMlpPolicy implements DifferentiablePolicy {
  readonly net: Mlp;
  readonly nParams: number;
  /** Number of MLP parameters (the log-std block, when learned, starts here). */
  readonly netParams: number;
  readonly obsSize: number;
  readonly actionSize: number;
  readonly discrete = false;
  readonly learnLogStd: boolean;
  /** The fixed log-std, or the initial one when learned. */
  readonly logStd0: Float64Array;
  private readonly ws: MlpWorkspace;
  private readonly sigma: Float64Array;
  private readonly logSigma: Float64Array;
  private grad: Float64Array = new Float64Array(0);

  constructor(spec: MlpSpec, options: GaussianMlpOptions) {
    this.net = new Mlp(spec);
    this.ws = this.net.workspace();
    const K = this.net.outSize;
    this.obsSize = this.net.inSize;
    this.actionSize = K;
    this.netParams = this.net.nParams;
    this.learnLogStd = options.learnLogStd ?? false;
    this.nParams = this.netParams + (this.learnLogStd ? K : 0);
    const ls = options.logStd;
    this.logStd0 = Float64Array.from({ length: K }, (_, j) => (typeof ls === "number" ? ls : ls[j]));
    if (typeof ls !== "number" && ls.length !== K)
      throw new RangeError(`logStd: expected ${K} entries, got ${ls.length}`);
    for (const v of this.logStd0) if (!Number.isFinite(v)) throw new RangeError(`logStd must be finite`);
    this.sigma = new Float64Array(K);
    this.logSigma = new Float64Array(K);
  }

  /** Fresh φ: MLP initialisation (see nn initParams), then the initial log-std when it is learned. */
  init(rng: Rng, options: InitOptions = {}): Float64Array {
    const phi = new Float64Array(this.nParams);
    phi.set(this.net.init(rng, options));
    if (this.learnLogStd) phi.set(this.logStd0, this.netParams);
    return phi;
  }

  /** The MLP block of φ (a view), after setting σ and log σ from φ or the fixed values. */
  private prepare(phi: Float64Array): Float64Array {
    const K = this.actionSize;
    for (let j = 0; j < K; j++) {
      const l = this.learnLogStd ? phi[this.netParams + j] : this.logStd0[j];
      this.logSigma[j] = l;
      this.sigma[j] = Math.exp(l);
    }
    return this.learnLogStd ? phi.subarray(0, this.netParams) : phi;
  }

  sample(
    phi: Float64Array,
    obs: Float64Array,
    n: number,
    rng: Rng,
    out = new Float64Array(n * this.actionSize),
  ): Float64Array {
    checkBatch(this, phi, obs, n);
    const mu = this.net.forward(this.prepare(phi), obs, n, this.ws);
    for (let i = 0; i < n * this.actionSize; i++)
      out[i] = mu[i] + this.sigma[i % this.actionSize] * rng.normal();
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
    const K = this.actionSize;
    const mu = this.net.forward(this.prepare(phi), obs, n, this.ws);
    for (let r = 0; r < n; r++) {
      let v = 0;
      for (let j = 0; j < K; j++) {
        const e = (actions[r * K + j] - mu[r * K + j]) / this.sigma[j];
        v += -0.5 * e * e - this.logSigma[j] - HALF_LOG_2PI;
      }
      out[r] = v;
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
    const K = this.actionSize;
    const theta = this.prepare(phi);
    const mu = this.net.forward(theta, obs, n, this.ws);
    this.grad = grow(this.grad, n * K);
    const w = weights ?? undefined;
    const loss = gaussianLogProbLoss(mu, actions, this.sigma, n, K, w, this.grad);
    this.net.backward(theta, this.ws, loss.grad, this.learnLogStd ? out.subarray(0, this.netParams) : out);
    if (!this.learnLogStd) return;
    for (let r = 0; r < n; r++) {
      const wr = w === undefined ? 1 : w[r];
      for (let j = 0; j < K; j++) {
        const e = (actions[r * K + j] - mu[r * K + j]) / this.sigma[j];
        out[this.netParams + j] += wr * (e * e - 1);
      }
    }
  }

  /**
   * μ̇ = (∂μ/∂φ_net)·u_net by one jvp; per row Σ_j e_j/σ_j · μ̇_j (+ Σ_j (e_j² − 1) u_ℓj when ℓ is learned).
   * jvp writes only the tangent buffers of the workspace, so μ (the forward output view) stays valid.
   */
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
    const K = this.actionSize;
    const nNet = this.netParams;
    const { sigma, learnLogStd } = this;
    const theta = this.prepare(phi);
    const mu = this.net.forward(theta, obs, n, this.ws);
    const muDot = this.net.jvp(theta, this.ws, learnLogStd ? u.subarray(0, nNet) : u);
    for (let r = 0; r < n; r++) {
      let x = 0;
      for (let j = 0; j < K; j++) {
        const i = r * K + j;
        const e = (actions[i] - mu[i]) / sigma[j];
        x += (e / sigma[j]) * muDot[i];
        if (learnLogStd) x += (e * e - 1) * u[nNet + j];
      }
      out[r] = x;
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
    const K = this.actionSize;
    const nNet = this.netParams;
    const theta = this.prepare(phi);
    const mu = this.net.forward(theta, obs, n, this.ws);
    this.grad = grow(this.grad, n * K);
    const w = weights ?? undefined;
    const loss = gaussianLogProbLoss(mu, actions, this.sigma, n, K, w, this.grad);
    if (!this.learnLogStd) {
      this.net.hvp(theta, this.ws, v, loss.grad, loss.hess, out);
      return;
    }
    const { sigma } = this;
    const baseHess = loss.hess;
    if (typeof baseHess !== "function") throw new Error("gaussianLogProbLoss returned a matrix Hessian");
    // r = J v_net (from the R-forward pass). Adds the cross term to R{∂L/∂μ} and, while the rows are at
    // hand, the ℓ-block of H v: Σ_r w (−2 e/σ · r − 2 e² v_ℓ).
    const hOut: OutputHessian = (rv, hr, rows, k) => {
      baseHess(rv, hr, rows, k);
      for (let r = 0; r < rows; r++) {
        const wr = w === undefined ? 1 : w[r];
        for (let j = 0; j < k; j++) {
          const i = r * k + j;
          const e = (actions[i] - mu[i]) / sigma[j];
          const vl = v[nNet + j];
          hr[i] -= (2 * wr * e * vl) / sigma[j];
          out[nNet + j] -= 2 * wr * e * (rv[i] / sigma[j] + e * vl);
        }
      }
    };
    this.net.hvp(theta, this.ws, v.subarray(0, nNet), loss.grad, hOut, out.subarray(0, nNet));
  }
}

/** a ~ softmax(MLP(s)); φ is the MLP's parameters; actions are indices 0..nActions−1 (actionSize 1). */
export class CategoricalMlpPolicy implements DifferentiablePolicy {
  readonly net: Mlp;
  readonly nParams: number;
  readonly obsSize: number;
  readonly actionSize = 1;
  readonly nActions: number;
  readonly discrete = true;
  private readonly ws: MlpWorkspace;
  private readonly row: Float64Array;
  private grad: Float64Array = new Float64Array(0);
  private probs: Float64Array = new Float64Array(0);

  constructor(spec: MlpSpec) {
    this.net = new Mlp(spec);
    this.ws = this.net.workspace();
    this.nParams = this.net.nParams;
    this.obsSize = this.net.inSize;
    this.nActions = this.net.outSize;
    if (this.nActions < 2) throw new RangeError(`a categorical policy needs ≥ 2 actions`);
    this.row = new Float64Array(this.nActions);
  }

  init(rng: Rng, options: InitOptions = {}): Float64Array {
    return this.net.init(rng, options);
  }

  /** Unnormalised softmax of logits row r into `row`; returns log Σ exp. */
  private softmaxRow(logits: Float64Array, r: number): number {
    const K = this.nActions;
    const o = r * K;
    let m = Number.NEGATIVE_INFINITY;
    for (let j = 0; j < K; j++) if (logits[o + j] > m) m = logits[o + j];
    let z = 0;
    for (let j = 0; j < K; j++) {
      this.row[j] = Math.exp(logits[o + j] - m);
      z += this.row[j];
    }
    return m + Math.log(z);
  }

  sample(phi: Float64Array, obs: Float64Array, n: number, rng: Rng, out = new Float64Array(n)): Float64Array {
    checkBatch(this, phi, obs, n);
    const logits = this.net.forward(phi, obs, n, this.ws);
    for (let r = 0; r < n; r++) {
      this.softmaxRow(logits, r);
      out[r] = rng.categorical(this.row, 0, this.nActions);
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
    const K = this.nActions;
    const logits = this.net.forward(phi, obs, n, this.ws);
    for (let r = 0; r < n; r++) {
      const a = actions[r];
      if (!Number.isInteger(a) || a < 0 || a >= K)
        throw new RangeError(`actions[${r}] must be in 0..${K - 1}, got ${a}`);
      out[r] = logits[r * K + a] - this.softmaxRow(logits, r);
    }
    return out;
  }

  private loss(phi: Float64Array, obs: Float64Array, actions: Float64Array, n: number, weights: Weights) {
    const K = this.nActions;
    const logits = this.net.forward(phi, obs, n, this.ws);
    this.grad = grow(this.grad, n * K);
    this.probs = grow(this.probs, n * K);
    return categoricalLogProbLoss(logits, actions, n, K, weights ?? undefined, this.grad, this.probs);
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
    const loss = this.loss(phi, obs, actions, n, weights);
    this.net.backward(phi, this.ws, loss.grad, out);
  }

  /** ż = (∂logits/∂φ)·u by one jvp; per row ż_a − Σ_b π_b ż_b. */
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
    const K = this.nActions;
    const logits = this.net.forward(phi, obs, n, this.ws);
    const zDot = this.net.jvp(phi, this.ws, u);
    for (let r = 0; r < n; r++) {
      const a = actions[r];
      if (!Number.isInteger(a) || a < 0 || a >= K)
        throw new RangeError(`actions[${r}] must be in 0..${K - 1}, got ${a}`);
      this.softmaxRow(logits, r);
      const o = r * K;
      let z = 0;
      let pz = 0;
      for (let b = 0; b < K; b++) {
        z += this.row[b];
        pz += this.row[b] * zDot[o + b];
      }
      out[r] = zDot[o + a] - pz / z;
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
    const loss = this.loss(phi, obs, actions, n, weights);
    this.net.hvp(phi, this.ws, v, loss.grad, loss.hess, out);
  }
}
