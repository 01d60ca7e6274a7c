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
 *
 * `bind` (see BoundBatch in policy.ts) runs the forward pass once on a fixed batch at fixed φ, in a fresh
 * workspace with its own scratch, and every later product on it reuses that pass. The unbound methods are
 * the same code: a forward pass into the instance's own evaluator, then the bound product. This is safe
 * because, after Mlp.forward, Mlp.jvp writes only the tangent buffers (ws.rz, ws.ra), Mlp.backward only
 * ws.g0/g1, and Mlp.hvp those plus ws.hr and ws.rg0/rg1: none of them touches the activations ws.a / ws.d
 * nor the output view ws.out (= μ or the logits), so products can follow one another in any order.
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
import {
  type BoundBatch,
  checkBatch,
  checkRowsOut,
  checkVector,
  type DifferentiablePolicy,
  type Weights,
} from "./policy.ts";

const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

/** A batch evaluator that (re)loads a batch: one forward pass, then the BoundBatch products. */
interface LoadableBatch extends BoundBatch {
  load(phi: Float64Array, obs: Float64Array, actions: Float64Array, n: number): Float64Array;
}

/**
 * What both MLP families share: the unbound products are a forward pass into the instance's own
 * evaluator followed by the bound product, and `bind` is the same in a fresh evaluator.
 */
abstract class BatchedMlpPolicy<E extends LoadableBatch> {
  abstract readonly nParams: number;
  abstract readonly obsSize: number;
  abstract readonly actionSize: number;
  /** The unbound methods' evaluator (this instance's workspace and scratch). */
  protected abstract readonly ev: E;
  /** A fresh evaluator with its own workspace and scratch. */
  protected abstract newBatch(): E;

  /** One forward pass on the batch, in a workspace of its own; see BoundBatch. */
  bind(phi: Float64Array, obs: Float64Array, actions: Float64Array, n: number): BoundBatch {
    checkBatch(this, phi, obs, n, actions);
    const b = this.newBatch();
    b.load(phi, obs, actions, n);
    return b;
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
    this.ev.load(phi, obs, actions, n);
    this.ev.scoreSum(weights, out);
  }

  /** One forward and one jvp for the whole batch (see the evaluators' scoreDot). */
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
    this.ev.load(phi, obs, actions, n);
    this.ev.scoreDot(u, out);
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
    this.ev.load(phi, obs, actions, n);
    this.ev.hessianVectorSum(weights, v, out);
  }
}

const EMPTY = new Float64Array(0);

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
 * A GaussianMlpPolicy evaluated on one batch: σ and log σ at φ, one forward pass (μ) in its own workspace,
 * and the products that reuse it. The policy keeps one for its unbound methods (reloaded on every call);
 * `bind` returns a fresh one, loaded once.
 */
class GaussianBatch implements BoundBatch {
  n = 0;
  readonly sigma: Float64Array;
  readonly logSigma: Float64Array;
  private readonly ws: MlpWorkspace;
  private grad: Float64Array = EMPTY;
  /** The MLP block of φ (a view). */
  private theta: Float64Array = EMPTY;
  /** μ (n × K), the workspace's output view. */
  private mu: Float64Array = EMPTY;
  private actions: Float64Array = EMPTY;

  constructor(private readonly p: GaussianMlpPolicy) {
    this.ws = p.net.workspace();
    this.sigma = new Float64Array(p.actionSize);
    this.logSigma = new Float64Array(p.actionSize);
  }

  /** σ, log σ from φ (or the fixed log-std), then μ = MLP(obs); returns μ. Arguments already checked. */
  load(phi: Float64Array, obs: Float64Array, actions: Float64Array, n: number): Float64Array {
    const p = this.p;
    for (let j = 0; j < p.actionSize; j++) {
      const l = p.learnLogStd ? phi[p.netParams + j] : p.logStd0[j];
      this.logSigma[j] = l;
      this.sigma[j] = Math.exp(l);
    }
    this.theta = p.learnLogStd ? phi.subarray(0, p.netParams) : phi;
    this.mu = p.net.forward(this.theta, obs, n, this.ws);
    this.actions = actions;
    this.n = n;
    return this.mu;
  }

  scoreSum(weights: Weights, out: Float64Array): void {
    const p = this.p;
    checkVector("out", out, p.nParams);
    const { n, mu, actions, sigma } = this;
    const K = p.actionSize;
    const nNet = p.netParams;
    this.grad = grow(this.grad, n * K);
    const w = weights ?? undefined;
    const loss = gaussianLogProbLoss(mu, actions, sigma, n, K, w, this.grad);
    p.net.backward(this.theta, this.ws, loss.grad, p.learnLogStd ? out.subarray(0, nNet) : out);
    if (!p.learnLogStd) return;
    for (let r = 0; r < n; r++) {
      const wr = w === undefined ? 1 : w[r];
      for (let j = 0; j < K; j++) {
        const e = (actions[r * K + j] - mu[r * K + j]) / sigma[j];
        out[nNet + j] += wr * (e * e - 1);
      }
    }
  }

  /**
   * μ̇ = (∂μ/∂φ_net)·u_net by one jvp; per row Σ_j e_j/σ_j · μ̇_j (+ Σ_j (e_j² − 1) u_ℓj when ℓ is learned).
   * jvp writes only the tangent buffers of the workspace, so μ (the forward output view) stays valid.
   */
  scoreDot(u: Float64Array, out: Float64Array): void {
    const p = this.p;
    checkVector("u", u, p.nParams);
    checkRowsOut(out, this.n);
    const { n, mu, actions, sigma } = this;
    const K = p.actionSize;
    const nNet = p.netParams;
    const learnLogStd = p.learnLogStd;
    const muDot = p.net.jvp(this.theta, this.ws, learnLogStd ? u.subarray(0, nNet) : u);
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
  }

  hessianVectorSum(weights: Weights, v: Float64Array, out: Float64Array): void {
    const p = this.p;
    checkVector("v", v, p.nParams);
    checkVector("out", out, p.nParams);
    const { n, mu, actions, sigma } = this;
    const K = p.actionSize;
    const nNet = p.netParams;
    this.grad = grow(this.grad, n * K);
    const w = weights ?? undefined;
    const loss = gaussianLogProbLoss(mu, actions, sigma, n, K, w, this.grad);
    if (!p.learnLogStd) {
      p.net.hvp(this.theta, this.ws, v, loss.grad, loss.hess, out);
      return;
    }
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
    p.net.hvp(this.theta, this.ws, v.subarray(0, nNet), loss.grad, hOut, out.subarray(0, nNet));
  }
}

/**
 * log π(a|s) = Σ_j [−½ e_j² − ℓ_j − ½ log 2π], e_j = (a_j − μ_j)/σ_j. Derivatives per sample:
 *   ∂/∂μ_j = e_j/σ_j, ∂/∂ℓ_j = e_j² − 1;
 *   ∂²/∂μ_j² = −1/σ_j², ∂²/∂μ_j∂ℓ_j = −2 e_j/σ_j, ∂²/∂ℓ_j² = −2 e_j² (all else zero).
 * The μ–ℓ cross term enters the R-operator as an extra R{∂L/∂μ} = −2 w e/σ · v_ℓ.
 */
export class GaussianMlpPolicy extends BatchedMlpPolicy<GaussianBatch> implements DifferentiablePolicy {
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
  protected readonly ev: GaussianBatch;

  constructor(spec: MlpSpec, options: GaussianMlpOptions) {
    super();
    this.net = new Mlp(spec);
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
    this.ev = new GaussianBatch(this);
  }

  /** Fresh φ: MLP initialisation (see nn initParams), then the initial log-std when it is learned. */
  init(rng: Rng, options: InitOptions = {}): Float64Array {
    const phi = new Float64Array(this.nParams);
    phi.set(this.net.init(rng, options));
    if (this.learnLogStd) phi.set(this.logStd0, this.netParams);
    return phi;
  }

  protected newBatch(): GaussianBatch {
    return new GaussianBatch(this);
  }

  sample(
    phi: Float64Array,
    obs: Float64Array,
    n: number,
    rng: Rng,
    out = new Float64Array(n * this.actionSize),
  ): Float64Array {
    checkBatch(this, phi, obs, n);
    const mu = this.ev.load(phi, obs, EMPTY, n);
    const { sigma } = this.ev;
    for (let i = 0; i < n * this.actionSize; i++) out[i] = mu[i] + sigma[i % this.actionSize] * rng.normal();
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
    const mu = this.ev.load(phi, obs, actions, n);
    const { sigma, logSigma } = this.ev;
    for (let r = 0; r < n; r++) {
      let v = 0;
      for (let j = 0; j < K; j++) {
        const e = (actions[r * K + j] - mu[r * K + j]) / sigma[j];
        v += -0.5 * e * e - logSigma[j] - HALF_LOG_2PI;
      }
      out[r] = v;
    }
    return out;
  }
}

/**
 * A CategoricalMlpPolicy evaluated on one batch: one forward pass (the logits) in its own workspace and the
 * products that reuse it (as GaussianBatch).
 */
class CategoricalBatch implements BoundBatch {
  n = 0;
  /** Unnormalised softmax of one row, written by `softmaxRow`. */
  readonly row: Float64Array;
  private readonly ws: MlpWorkspace;
  private grad: Float64Array = EMPTY;
  private probs: Float64Array = EMPTY;
  private phi: Float64Array = EMPTY;
  /** Logits (n × K), the workspace's output view. */
  private logits: Float64Array = EMPTY;
  private actions: Float64Array = EMPTY;

  constructor(private readonly p: CategoricalMlpPolicy) {
    this.ws = p.net.workspace();
    this.row = new Float64Array(p.nActions);
  }

  /** logits = MLP(obs); returns them. Arguments already checked. */
  load(phi: Float64Array, obs: Float64Array, actions: Float64Array, n: number): Float64Array {
    this.phi = phi;
    this.logits = this.p.net.forward(phi, obs, n, this.ws);
    this.actions = actions;
    this.n = n;
    return this.logits;
  }

  /** Unnormalised softmax of logits row r into `row`; returns log Σ exp. */
  softmaxRow(r: number): number {
    const { logits, row } = this;
    const K = this.p.nActions;
    const o = r * K;
    let m = Number.NEGATIVE_INFINITY;
    for (let j = 0; j < K; j++) if (logits[o + j] > m) m = logits[o + j];
    let z = 0;
    for (let j = 0; j < K; j++) {
      row[j] = Math.exp(logits[o + j] - m);
      z += row[j];
    }
    return m + Math.log(z);
  }

  private loss(weights: Weights) {
    const K = this.p.nActions;
    const n = this.n;
    this.grad = grow(this.grad, n * K);
    this.probs = grow(this.probs, n * K);
    return categoricalLogProbLoss(
      this.logits,
      this.actions,
      n,
      K,
      weights ?? undefined,
      this.grad,
      this.probs,
    );
  }

  scoreSum(weights: Weights, out: Float64Array): void {
    checkVector("out", out, this.p.nParams);
    const loss = this.loss(weights);
    this.p.net.backward(this.phi, this.ws, loss.grad, out);
  }

  /** ż = (∂logits/∂φ)·u by one jvp; per row ż_a − Σ_b π_b ż_b. */
  scoreDot(u: Float64Array, out: Float64Array): void {
    const { n, actions, row } = this;
    checkVector("u", u, this.p.nParams);
    checkRowsOut(out, n);
    const K = this.p.nActions;
    const zDot = this.p.net.jvp(this.phi, this.ws, u);
    for (let r = 0; r < n; r++) {
      const a = actions[r];
      if (!Number.isInteger(a) || a < 0 || a >= K)
        throw new RangeError(`actions[${r}] must be in 0..${K - 1}, got ${a}`);
      this.softmaxRow(r);
      const o = r * K;
      let z = 0;
      let pz = 0;
      for (let b = 0; b < K; b++) {
        z += row[b];
        pz += row[b] * zDot[o + b];
      }
      out[r] = zDot[o + a] - pz / z;
    }
  }

  hessianVectorSum(weights: Weights, v: Float64Array, out: Float64Array): void {
    checkVector("v", v, this.p.nParams);
    checkVector("out", out, this.p.nParams);
    const loss = this.loss(weights);
    this.p.net.hvp(this.phi, this.ws, v, loss.grad, loss.hess, out);
  }
}

/** a ~ softmax(MLP(s)); φ is the MLP's parameters; actions are indices 0..nActions−1 (actionSize 1). */
export class CategoricalMlpPolicy extends BatchedMlpPolicy<CategoricalBatch> implements DifferentiablePolicy {
  readonly net: Mlp;
  readonly nParams: number;
  readonly obsSize: number;
  readonly actionSize = 1;
  readonly nActions: number;
  readonly discrete = true;
  protected readonly ev: CategoricalBatch;

  constructor(spec: MlpSpec) {
    super();
    this.net = new Mlp(spec);
    this.nParams = this.net.nParams;
    this.obsSize = this.net.inSize;
    this.nActions = this.net.outSize;
    if (this.nActions < 2) throw new RangeError(`a categorical policy needs ≥ 2 actions`);
    this.ev = new CategoricalBatch(this);
  }

  init(rng: Rng, options: InitOptions = {}): Float64Array {
    return this.net.init(rng, options);
  }

  protected newBatch(): CategoricalBatch {
    return new CategoricalBatch(this);
  }

  sample(phi: Float64Array, obs: Float64Array, n: number, rng: Rng, out = new Float64Array(n)): Float64Array {
    checkBatch(this, phi, obs, n);
    const ev = this.ev;
    ev.load(phi, obs, EMPTY, n);
    for (let r = 0; r < n; r++) {
      ev.softmaxRow(r);
      out[r] = rng.categorical(ev.row, 0, this.nActions);
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
    const logits = this.ev.load(phi, obs, actions, n);
    for (let r = 0; r < n; r++) {
      const a = actions[r];
      if (!Number.isInteger(a) || a < 0 || a >= K)
        throw new RangeError(`actions[${r}] must be in 0..${K - 1}, got ${a}`);
      out[r] = logits[r * K + a] - this.ev.softmaxRow(r);
    }
    return out;
  }
}
