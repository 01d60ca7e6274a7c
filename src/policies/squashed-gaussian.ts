/**
 * The tanh-squashed Gaussian policy of SAC (Haarnoja et al. 2018, appendix C), on one MLP.
 *
 * The network maps s to 2K numbers per row: μ_1..μ_K, then x_1..x_K. The log-std is x squashed smoothly
 * into [logStdMin, logStdMax] (as in CleanRL): ℓ = lo + ½(hi − lo)(tanh x + 1), σ = e^ℓ. An action is
 *   u = μ + σ ⊙ ε,  ε ~ N(0, I),  a = tanh(u) ∈ (−1, 1)^K,
 * in *normalised* units: the caller maps it affinely into the env's action box (SAC does). Its density,
 * by the change of variables u → a (the log-det correction), is
 *   log π(a|s) = Σ_j [log N(u_j; μ_j, σ_j²) − log(1 − tanh² u_j)],
 * with log(1 − tanh² u) = 2(log 2 − u − softplus(−2u)), exact and stable for large |u|. The density is in
 * the normalised units (Stable-Baselines3's convention; with a box of half-width c_j the env-unit density
 * is this minus Σ log c_j), so SAC's default entropy target −K does not depend on the box.
 *
 * Reparameterised gradients (`backward`): with ε held fixed, for a loss L(a, log π),
 *   ∂ log π/∂u_j = 2 tanh u_j (the Gaussian term −½ε² does not move), ∂a_j/∂u_j = 1 − a_j²,
 *   ∂u_j/∂μ_j = 1, ∂u_j/∂ℓ_j = σ_j ε_j, ∂ log π/∂ℓ_j = −1 (explicit), ∂ℓ_j/∂x_j = ½(hi − lo)(1 − tanh² x_j),
 * and the MLP's reverse pass takes it to the parameters.
 *
 * One instance keeps its workspace and the last draw (u, ε, …) for `backward`: it is not re-entrant, and
 * `backward` refers to the last `sample` call (any other call in between invalidates it).
 */
import type { Rng } from "../math/rng.ts";
import { type Activation, type InitOptions, Mlp, type MlpSpec, type MlpWorkspace } from "../nn/index.ts";

const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);
const LOG2 = Math.log(2);

/** log(1 − tanh² u), stable for any u. */
export function logOneMinusTanhSq(u: number): number {
  const v = -2 * u;
  // softplus(v) = max(v, 0) + log1p(e^{−|v|})
  const sp = (v > 0 ? v : 0) + Math.log1p(Math.exp(-Math.abs(v)));
  return 2 * (LOG2 - u - sp);
}

export interface SquashedGaussianOptions {
  /** Hidden layer widths (default [256, 256]). */
  hidden?: readonly number[];
  /** Hidden activation (default relu). */
  activation?: Activation;
  /** Range of the log-std (default [−5, 2]). */
  logStdMin?: number;
  logStdMax?: number;
}

export class SquashedGaussianPolicy {
  readonly obsSize: number;
  readonly actionSize: number;
  readonly net: Mlp;
  readonly nParams: number;
  readonly logStdMin: number;
  readonly logStdMax: number;
  private readonly ws: MlpWorkspace;
  private n = 0;
  /** Last draw, n × K each. */
  private eps = new Float64Array(0);
  private u = new Float64Array(0);
  private a = new Float64Array(0);
  private sigma = new Float64Array(0);
  /** tanh of the raw log-std outputs x. */
  private tx = new Float64Array(0);
  private dOut = new Float64Array(0);

  constructor(obsSize: number, actionSize: number, options: SquashedGaussianOptions = {}) {
    const hidden = options.hidden ?? [256, 256];
    const act = options.activation ?? "relu";
    this.obsSize = obsSize;
    this.actionSize = actionSize;
    this.logStdMin = options.logStdMin ?? -5;
    this.logStdMax = options.logStdMax ?? 2;
    if (
      !(Number.isFinite(this.logStdMin) && Number.isFinite(this.logStdMax) && this.logStdMax > this.logStdMin)
    )
      throw new RangeError(`need finite logStdMin < logStdMax, got [${this.logStdMin}, ${this.logStdMax}]`);
    const spec: MlpSpec = {
      sizes: [obsSize, ...hidden, 2 * actionSize],
      activations: [...hidden.map(() => act), "linear"],
    };
    this.net = new Mlp(spec);
    this.nParams = this.net.nParams;
    this.ws = this.net.workspace();
  }

  /** Fresh parameters (nn initParams; the output gain scales the last layer). */
  init(rng: Rng, options: InitOptions = {}): Float64Array {
    return this.net.init(rng, options);
  }

  private reserve(n: number): void {
    const len = n * this.actionSize;
    if (this.eps.length < len) {
      const cap = Math.max(len, 2 * this.eps.length);
      this.eps = new Float64Array(cap);
      this.u = new Float64Array(cap);
      this.a = new Float64Array(cap);
      this.sigma = new Float64Array(cap);
      this.tx = new Float64Array(cap);
      this.dOut = new Float64Array(2 * cap);
    }
  }

  private checkObs(params: Float64Array, obs: Float64Array, n: number): void {
    if (params.length !== this.nParams)
      throw new RangeError(`params: expected ${this.nParams}, got ${params.length}`);
    if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`n must be an integer ≥ 1, got ${n}`);
    if (obs.length < n * this.obsSize) throw new RangeError(`obs: expected ${n}×${this.obsSize} entries`);
  }

  /**
   * Forward pass and reparameterised draw: writes a = tanh(μ + σε) (n × K, normalised units) into
   * `actions` and log π(a|s) into `logProb` (n). `noise` is either an Rng (ε drawn row by row) or given
   * ε (n × K). Keeps what `backward` needs.
   */
  sample(
    params: Float64Array,
    obs: Float64Array,
    n: number,
    noise: Rng | Float64Array,
    actions: Float64Array,
    logProb: Float64Array,
  ): void {
    this.checkObs(params, obs, n);
    const K = this.actionSize;
    if (actions.length < n * K || logProb.length < n) throw new RangeError("sample: output arrays too short");
    if (noise instanceof Float64Array && noise.length < n * K)
      throw new RangeError(`noise: expected ${n}×${K}`);
    this.reserve(n);
    const out = this.net.forward(params, obs, n, this.ws);
    const half = 0.5 * (this.logStdMax - this.logStdMin);
    for (let r = 0; r < n; r++) {
      let lp = 0;
      for (let j = 0; j < K; j++) {
        const i = r * K + j;
        const mu = out[r * 2 * K + j];
        const tx = Math.tanh(out[r * 2 * K + K + j]);
        const ls = this.logStdMin + half * (tx + 1);
        const sigma = Math.exp(ls);
        const e = noise instanceof Float64Array ? noise[i] : noise.normal();
        const u = mu + sigma * e;
        const a = Math.tanh(u);
        this.eps[i] = e;
        this.tx[i] = tx;
        this.sigma[i] = sigma;
        this.u[i] = u;
        this.a[i] = a;
        actions[i] = a;
        lp += -0.5 * e * e - ls - HALF_LOG_2PI - logOneMinusTanhSq(u);
      }
      logProb[r] = lp;
    }
    this.n = n;
  }

  /**
   * Reverse pass through the last `sample`: given ∂L/∂a (n × K; null for none) and ∂L/∂log π (n; null for
   * none), ACCUMULATES ∂L/∂params into `grad`.
   */
  backward(
    params: Float64Array,
    dAction: Float64Array | null,
    dLogProb: Float64Array | null,
    grad: Float64Array,
  ): void {
    const n = this.n;
    if (n === 0) throw new Error("backward: call sample first");
    const K = this.actionSize;
    const half = 0.5 * (this.logStdMax - this.logStdMin);
    const d = this.dOut;
    for (let r = 0; r < n; r++) {
      const gl = dLogProb === null ? 0 : dLogProb[r];
      for (let j = 0; j < K; j++) {
        const i = r * K + j;
        const a = this.a[i];
        // tanh(u) saturates to ±1 beyond |u| ≈ 19, where 1 − a² = 0 and 2 tanh u = ±2 are both right.
        const gu = (dAction === null ? 0 : dAction[i] * (1 - a * a)) + gl * 2 * a;
        const gls = gu * this.sigma[i] * this.eps[i] - gl;
        const tx = this.tx[i];
        d[r * 2 * K + j] = gu;
        d[r * 2 * K + K + j] = gls * half * (1 - tx * tx);
      }
    }
    this.net.backward(params, this.ws, d, grad);
  }

  /** The deterministic action tanh(μ(s)) (n × K, normalised units), for evaluation. */
  deterministic(params: Float64Array, obs: Float64Array, n: number, out: Float64Array): void {
    this.checkObs(params, obs, n);
    const K = this.actionSize;
    const y = this.net.forward(params, obs, n, this.ws);
    for (let r = 0; r < n; r++) for (let j = 0; j < K; j++) out[r * K + j] = Math.tanh(y[r * 2 * K + j]);
    this.n = 0;
  }

  /**
   * log π(a|s) of given normalised actions a ∈ (−1, 1)^K (u = atanh a); for tests and diagnostics. An
   * action at ±1 has density 0 (−∞ here).
   */
  logProb(
    params: Float64Array,
    obs: Float64Array,
    actions: Float64Array,
    n: number,
    out: Float64Array,
  ): void {
    this.checkObs(params, obs, n);
    const K = this.actionSize;
    const y = this.net.forward(params, obs, n, this.ws);
    const half = 0.5 * (this.logStdMax - this.logStdMin);
    for (let r = 0; r < n; r++) {
      let lp = 0;
      for (let j = 0; j < K; j++) {
        const a = actions[r * K + j];
        const u = Math.atanh(a);
        const mu = y[r * 2 * K + j];
        const ls = this.logStdMin + half * (Math.tanh(y[r * 2 * K + K + j]) + 1);
        const e = (u - mu) / Math.exp(ls);
        lp += -0.5 * e * e - ls - HALF_LOG_2PI - Math.log1p(-a * a);
      }
      out[r] = lp;
    }
    this.n = 0;
  }

  /** μ and σ of the Gaussian before the squashing (n × K each), for diagnostics. */
  gaussian(params: Float64Array, obs: Float64Array, n: number, mean: Float64Array, std: Float64Array): void {
    this.checkObs(params, obs, n);
    const K = this.actionSize;
    const y = this.net.forward(params, obs, n, this.ws);
    const half = 0.5 * (this.logStdMax - this.logStdMin);
    for (let r = 0; r < n; r++)
      for (let j = 0; j < K; j++) {
        mean[r * K + j] = y[r * 2 * K + j];
        std[r * K + j] = Math.exp(this.logStdMin + half * (Math.tanh(y[r * 2 * K + K + j]) + 1));
      }
    this.n = 0;
  }
}
