/**
 * Theorem 1 of the bi-level paper, sampled, for ANY differentiable policy π_φ and parametric model
 * (f_θ, R_θ) — the general engine of issue 4 — with the corrections and control variates of DESIGN §4,
 * and Hessian-free: J_φ and J_θ are never formed, only applied to vectors (both ways), and the IFT step
 * dφ/dθ = −J_φ⁻¹ J_θ (12) is one Krylov solve on vector–Jacobian products.
 *
 * Data: complete *discounted segments* from the simulator at θ under π_φ (a segment restarts from s₀ ~ μ
 * and continues after each transition with probability γ), so every sample is a draw from the normalised
 * discounted visitation (1 − γ)d_π — the ρ̂ of (12), with its γ^k (DESIGN §4.6) — and a sum over the rest
 * of a segment is an unbiased discounted sum. Segments are never cut, so nothing is truncated.
 *
 * Per sample k (s, a, s′), with g_k = ∇_φ log π(a|s), Ã_k the advantage of Q̃ = Q_soft − τ log π (§4.2):
 *   T_A  (policy Hessian)        Ã_k ∇²_φ log π
 *   T_B  (critic sensitivity 14) g_k ⊗ ∂_φQ̃(s,a),  ∂_φQ̃_k = −τ g_k + Σ_{j>k} g_j Ã_j               (14)
 *   T_C  (Markov chain 15)       g_k Ã_k ⊗ (W_k + g_k),  W_k = Σ_{j<k} g_j                          (15)
 *   T_D  (critic sensitivity 13) g_k ⊗ ∂_θQ̃(s,a),  ∂_θQ̃_k = Σ_{j≥k} [∇_θR_j + γ ∇_θlog f_j (V(s′_j) − b_j)] (13)
 *   T_E  (Markov chain 16)       g_k Ã_k ⊗ W^θ_k,  W^θ_k = Σ_{j<k} ∇_θ log f(s′_j|s_j, a_j)        (16)
 * (sums over j within k's segment). The critic sensitivities are the per-sample recursions the paper
 * allows: the reverse sums ARE the recursions ∂Q̃ = c + γ E[∂V(s′)] unrolled along the segment.
 *
 * Control variates (zero mean, DESIGN §4.6): Ã = Q̃ − V rather than Q̃ in T_A, T_C, T_E (the critic V
 * comes from the inner solver), and b_j = E_{x∼f(·|s_j,a_j)} V(x) inside the model-score term of (13):
 * exact when the model has `nextDistribution`, else a mean over `nextSamples` fresh draws (independent of
 * s′_j, so still zero-mean).
 *
 * Every product is a few batched passes — per-sample score dots (JVP), one summed score (VJP), one summed
 * Hessian–vector product — plus O(n) prefix sums, so a product costs a small multiple of one gradient.
 * The transposed products are the same sums regrouped (tested: vᵀ(J u) = uᵀ(Jᵀ v) to rounding).
 */
import { z } from "zod";
import type { ParametricModel } from "../envs/parametric-model.ts";
import type { InitialStateSampler } from "../inner/actor-critic.ts";
import { type KrylovResult, type LinearOperator, solveLinear } from "../math/krylov.ts";
import { cosine, Lu } from "../math/linalg.ts";
import type { Rng } from "../math/rng.ts";
import {
  type BoundBatch,
  bindBatch,
  type DifferentiablePolicy,
  TabularSoftmaxPolicy,
} from "../policies/policy.ts";

export const SampledTheorem1ConfigSchema = z.object({
  samples: z
    .number()
    .int()
    .positive()
    .default(4000)
    .describe("In-sim transitions at least (whole segments are kept, so slightly more)"),
  walkers: z.number().int().positive().default(32).describe("Segments sampled side by side (batching only)"),
  advantageLambda: z
    .number()
    .min(0)
    .max(1)
    .default(0)
    .describe("GAE λ of Ã: 0 = r̃ + γV(s′) − V(s) (needs a good critic), 1 = Monte-Carlo (unbiased, noisier)"),
  controlVariates: z
    .boolean()
    .default(true)
    .describe("DESIGN §4.6: Ã = Q̃ − V and the model-score baseline (false: the estimator as printed)"),
  nextSamples: z
    .number()
    .int()
    .positive()
    .default(8)
    .describe("Draws of s′ for the model-score baseline E_f V(s′) when the model has no nextDistribution"),
  criticBaseline: z
    .enum(["auto", "none", "onehot", "quadratic"])
    .default("auto")
    .describe(
      "State baseline of the critic-sensitivity terms (DESIGN §4.6, ∂Q̃(s,a) − Σ_b π ∂Q̃(s,b)): a cross-fitted regression of the per-sample sums on features of s — onehot (discrete states), quadratic (1, s_i, s_i²), auto = onehot for index states",
    ),
  ridge: z
    .number()
    .nonnegative()
    .default(1e-6)
    .describe("Ridge of the baseline regression (relative to its trace)"),
  damping: z
    .number()
    .nonnegative()
    .default(1e-3)
    .describe("λ of the IFT solve (−J_φᵀ + λI) y = ∂J_real/∂φ, in units of J_φ (the Hessian of J_τ)"),
  solver: z.enum(["gmres", "bicgstab"]).default("gmres").describe("Krylov method (J_φ is not symmetric)"),
  tol: z.number().positive().default(1e-8).describe("Relative residual of the Krylov solve"),
  maxIterations: z.number().int().positive().default(200).describe("Krylov iterations at most"),
  restart: z.number().int().positive().default(50).describe("GMRES restart length"),
  firstOrderStep: z
    .number()
    .positive()
    .default(1)
    .describe("α of the first-order variant (dφ/dθ ≈ α J_θ: one step, no Hessian term), reported alongside"),
});
export type SampledTheorem1Config = z.infer<typeof SampledTheorem1ConfigSchema>;
export type SampledTheorem1ConfigInput = z.input<typeof SampledTheorem1ConfigSchema>;

/** V(s) for n states (n × obsSize), written into out. The soft value of the in-sim policy. */
export type ValueFunction = (obs: Float64Array, n: number, out: Float64Array) => void;

/** In-sim samples in whole discounted segments, stored segment after segment. */
export interface Segments {
  n: number;
  obsSize: number;
  actionSize: number;
  obs: Float64Array;
  actions: Float64Array;
  next: Float64Array;
  /** R_θ(s, a). */
  reward: Float64Array;
  /** log π_φ(a|s). */
  logp: Float64Array;
  /** 1 where the walker restarted after this sample (the segment's last sample). */
  last: Uint8Array;
  segments: number;
}

/**
 * Whole discounted segments from the simulator at θ under π_φ, at least `minSamples` transitions.
 * `walkers` segments run side by side so the policy is called on batches; a walker whose segment ends
 * once enough samples exist stops, so no segment is cut.
 */
export function sampleSegments(
  model: ParametricModel,
  policy: DifferentiablePolicy,
  phi: Float64Array,
  theta: ArrayLike<number>,
  initialState: InitialStateSampler,
  gamma: number,
  minSamples: number,
  rng: Rng,
  walkers = 32,
): Segments {
  const dS = policy.obsSize;
  const dA = policy.actionSize;
  if (model.obsSize !== dS || model.actionSize !== dA)
    throw new RangeError(
      `model (obs ${model.obsSize}, action ${model.actionSize}) and policy (obs ${dS}, action ${dA}) disagree`,
    );
  type Walker = { obs: number[]; act: number[]; next: number[]; r: number[]; lp: number[]; last: number[] };
  const ws: Walker[] = Array.from({ length: walkers }, () => ({
    obs: [],
    act: [],
    next: [],
    r: [],
    lp: [],
    last: [],
  }));
  const cur = new Float64Array(walkers * dS);
  for (let i = 0; i < walkers; i++) cur.set(initialState(rng), i * dS);
  const active = Array.from({ length: walkers }, (_, i) => i);
  const o = new Float64Array(walkers * dS);
  const a = new Float64Array(walkers * dA);
  const lp = new Float64Array(walkers);
  let total = 0;
  let segments = 0;
  while (active.length > 0) {
    const m = active.length;
    for (let q = 0; q < m; q++) o.set(cur.subarray(active[q] * dS, (active[q] + 1) * dS), q * dS);
    policy.sample(phi, o, m, rng, a);
    policy.logProb(phi, o, a, m, lp);
    const stillActive: number[] = [];
    for (let q = 0; q < m; q++) {
      const i = active[q];
      const w = ws[i];
      const s = o.subarray(q * dS, (q + 1) * dS);
      const ai = a.subarray(q * dA, (q + 1) * dA);
      const s2 = model.sampleNext(theta, s, ai, rng);
      for (let d = 0; d < dS; d++) w.obs.push(s[d]);
      for (let d = 0; d < dA; d++) w.act.push(ai[d]);
      for (let d = 0; d < dS; d++) w.next.push(s2[d]);
      w.r.push(model.reward(theta, s, ai));
      w.lp.push(lp[q]);
      total++;
      if (rng.uniform() < gamma) {
        w.last.push(0);
        cur.set(s2, i * dS);
        stillActive.push(i);
      } else {
        w.last.push(1);
        segments++;
        if (total < minSamples) {
          cur.set(initialState(rng), i * dS);
          stillActive.push(i);
        }
      }
    }
    active.length = 0;
    active.push(...stillActive);
  }
  const out: Segments = {
    n: total,
    obsSize: dS,
    actionSize: dA,
    obs: new Float64Array(total * dS),
    actions: new Float64Array(total * dA),
    next: new Float64Array(total * dS),
    reward: new Float64Array(total),
    logp: new Float64Array(total),
    last: new Uint8Array(total),
    segments,
  };
  let k = 0;
  for (const w of ws) {
    out.obs.set(w.obs, k * dS);
    out.actions.set(w.act, k * dA);
    out.next.set(w.next, k * dS);
    out.reward.set(w.r, k);
    out.logp.set(w.lp, k);
    out.last.set(w.last, k);
    k += w.r.length;
  }
  return out;
}

/**
 * Cross-fitted least-squares state baseline: β = H y, where a sample in one fold (segments alternate
 * between two folds) is predicted from a ridge regression on the OTHER fold, so β_k is independent of
 * sample k's own action and the control variate g_k β_k keeps zero mean. H is linear in y, and
 * `applyT` gives Hᵀ x for the transposed products.
 */
class CrossFitBaseline {
  private readonly solvers: Lu[];
  private readonly t: Float64Array[];

  constructor(
    private readonly psi: Float64Array,
    private readonly p: number,
    private readonly fold: Uint8Array,
    ridge: number,
  ) {
    const n = fold.length;
    this.solvers = [0, 1].map((f) => {
      const G = new Float64Array(p * p);
      for (let k = 0; k < n; k++) {
        if (fold[k] !== f) continue;
        for (let i = 0; i < p; i++) {
          const x = psi[k * p + i];
          if (x !== 0) for (let j = 0; j < p; j++) G[i * p + j] += x * psi[k * p + j];
        }
      }
      let tr = 0;
      for (let i = 0; i < p; i++) tr += G[i * p + i];
      for (let i = 0; i < p; i++) G[i * p + i] += ridge * Math.max(tr / p, 1e-300);
      return new Lu(G, p, { overwrite: true });
    });
    this.t = [new Float64Array(p), new Float64Array(p)];
  }

  /** Σ_{k ∈ fold f} ψ_k y_k for both folds, into this.t. */
  private moments(y: Float64Array): void {
    const { psi, p, fold, t } = this;
    t[0].fill(0);
    t[1].fill(0);
    for (let k = 0; k < fold.length; k++) {
      const yk = y[k];
      if (yk === 0) continue;
      const tf = t[fold[k]];
      for (let i = 0; i < p; i++) tf[i] += psi[k * p + i] * yk;
    }
  }

  /** out_k = ψ_kᵀ c_{fold(k)} with c_h from `coef(h)`. */
  private predict(c: Float64Array[], out: Float64Array): void {
    const { psi, p, fold } = this;
    for (let k = 0; k < fold.length; k++) {
      const ck = c[fold[k]];
      let v = 0;
      for (let i = 0; i < p; i++) v += psi[k * p + i] * ck[i];
      out[k] = v;
    }
  }

  /** β = H y: fold h predicted with the coefficients fitted on fold 1 − h. */
  apply(y: Float64Array, out: Float64Array): void {
    this.moments(y);
    this.predict([this.solvers[1].solve(this.t[1]), this.solvers[0].solve(this.t[0])], out);
  }

  /** Hᵀ x (the Gram matrices are symmetric). */
  applyT(x: Float64Array, out: Float64Array): void {
    this.moments(x);
    this.predict([this.solvers[0].solve(this.t[1]), this.solvers[1].solve(this.t[0])], out);
  }
}

/** Baseline features of every sample's state: one-hot for index states, else (1, s_i, s_i²). */
function baselineFeatures(
  kind: "onehot" | "quadratic",
  batch: Segments,
  states: number | undefined,
): { psi: Float64Array; p: number } {
  const { n, obsSize: d, obs } = batch;
  if (kind === "onehot") {
    if (states === undefined || d !== 1)
      throw new RangeError("criticBaseline onehot needs index states and a state count");
    const psi = new Float64Array(n * states);
    for (let k = 0; k < n; k++) psi[k * states + obs[k]] = 1;
    return { psi, p: states };
  }
  const p = 1 + 2 * d;
  const psi = new Float64Array(n * p);
  for (let k = 0; k < n; k++) {
    psi[k * p] = 1;
    for (let i = 0; i < d; i++) {
      const x = obs[k * d + i];
      psi[k * p + 1 + i] = x;
      psi[k * p + 1 + d + i] = x * x;
    }
  }
  return { psi, p };
}

/**
 * J_φ = ∂φ̂/∂φ and J_θ = ∂φ̂/∂θ of the sampled in-sim policy gradient φ̂, as operators, in the units of
 * ∇J_τ (a factor 1/((1 − γ) n) on the sums, like the actor-critic's φ̂).
 */
export class SampledTheorem1 {
  readonly nPhi: number;
  readonly nTheta: number;
  readonly n: number;
  /** Ã_k. */
  readonly advantage: Float64Array;
  /** Per sample ∇_θR_k + γ ∇_θ log f_k (V(s′_k) − b_k) (n × nθ): the summand of (13). */
  private readonly rowD: Float64Array;
  /** Per sample ∇_θ log f(s′_k|s_k, a_k) (n × nθ): the summand of W^θ (16). */
  private readonly rowW: Float64Array;
  private readonly scale: number;
  private readonly tau: number;
  private readonly ga: Float64Array;
  private readonly wt: Float64Array;
  private readonly acc: Float64Array;
  private readonly base: CrossFitBaseline | null;
  /** The policy evaluated once on the batch: every product reuses that forward pass. */
  private readonly bound: BoundBatch;
  private readonly tmp: Float64Array;

  constructor(
    readonly model: ParametricModel,
    readonly policy: DifferentiablePolicy,
    readonly phi: Float64Array,
    readonly theta: ArrayLike<number>,
    readonly batch: Segments,
    value: ValueFunction,
    options: {
      gamma: number;
      temperature: number;
      advantageLambda?: number;
      controlVariates?: boolean;
      nextSamples?: number;
      criticBaseline?: "auto" | "none" | "onehot" | "quadratic";
      ridge?: number;
      /** State count of index states (for the one-hot baseline); a TabularSoftmaxPolicy gives its own. */
      states?: number;
    },
    rng: Rng,
  ) {
    const { gamma, temperature: tau } = options;
    const lambda = options.advantageLambda ?? 0;
    const cv = options.controlVariates ?? true;
    const M = options.nextSamples ?? 8;
    const n = batch.n;
    const dS = batch.obsSize;
    const nth = model.nTheta;
    this.nPhi = policy.nParams;
    this.nTheta = nth;
    this.n = n;
    this.tau = tau;
    this.scale = 1 / ((1 - gamma) * n);

    const V = new Float64Array(n);
    const V2 = new Float64Array(n);
    value(batch.obs, n, V);
    value(batch.next, n, V2);
    // Ã_k by GAE along the segment: δ = r̃ + γV(s′) − V(s); continuation already carries the γ.
    // Without control variates the paper's Q̃ itself is used: the GAE advantage plus V(s).
    const adv = new Float64Array(n);
    let accA = 0;
    for (let k = n - 1; k >= 0; k--) {
      const delta = batch.reward[k] - tau * batch.logp[k] + gamma * V2[k] - V[k];
      accA = batch.last[k] ? delta : delta + lambda * accA;
      adv[k] = accA;
    }
    if (!cv) for (let k = 0; k < n; k++) adv[k] += V[k];
    this.advantage = adv;

    // Model-score baseline b_k = E_f V(s′) (zero-mean control variate of (13a)).
    const b = new Float64Array(n);
    if (cv) {
      const sa = new Float64Array(dS);
      const aa = new Float64Array(batch.actionSize);
      // Per sample, weighted next states (the exact distribution, or M equally weighted draws); then
      // one batched critic call for all of them.
      const pts: Float64Array[] = [];
      // null: M equally weighted draws (summed, then divided by M).
      const wts: (Float64Array | null)[] = [];
      let total = 0;
      for (let k = 0; k < n; k++) {
        sa.set(batch.obs.subarray(k * dS, (k + 1) * dS));
        aa.set(batch.actions.subarray(k * batch.actionSize, (k + 1) * batch.actionSize));
        if (model.nextDistribution) {
          const { states, probs } = model.nextDistribution(theta, sa, aa);
          pts.push(states);
          wts.push(probs);
        } else {
          const draws = new Float64Array(M * dS);
          for (let j = 0; j < M; j++) draws.set(model.sampleNext(theta, sa, aa, rng), j * dS);
          pts.push(draws);
          wts.push(null);
        }
        total += wts[k]?.length ?? M;
      }
      const all = new Float64Array(total * dS);
      let off = 0;
      for (const x of pts) {
        all.set(x, off);
        off += x.length;
      }
      const vals = new Float64Array(total);
      value(all, total, vals);
      let j = 0;
      for (let k = 0; k < n; k++) {
        const w = wts[k];
        let e = 0;
        if (w === null) {
          for (let i = 0; i < M; i++) e += vals[j++];
          e /= M;
        } else for (let i = 0; i < w.length; i++) e += w[i] * vals[j++];
        b[k] = e;
      }
    }

    this.rowD = new Float64Array(n * nth);
    this.rowW = new Float64Array(n * nth);
    const s = new Float64Array(dS);
    const s2 = new Float64Array(dS);
    const a = new Float64Array(batch.actionSize);
    const gl = new Float64Array(nth);
    for (let k = 0; k < n; k++) {
      s.set(batch.obs.subarray(k * dS, (k + 1) * dS));
      s2.set(batch.next.subarray(k * dS, (k + 1) * dS));
      a.set(batch.actions.subarray(k * batch.actionSize, (k + 1) * batch.actionSize));
      gl.fill(0);
      model.gradLogProb(theta, s, a, s2, gl);
      const row = this.rowD.subarray(k * nth, (k + 1) * nth);
      model.gradReward(theta, s, a, row);
      // γ (V(s′) − b) with V(s′) estimated as the critic plus the next sample's advantage (its λ-return
      // correction; continuation carries the γ), so λ = 1 is unbiased whatever the critic.
      const c = gamma * (V2[k] - b[k]) + (batch.last[k] ? 0 : adv[k + 1] - (cv ? 0 : V[k + 1]));
      for (let i = 0; i < nth; i++) row[i] += c * gl[i];
      this.rowW.set(gl, k * nth);
    }
    this.ga = new Float64Array(n);
    this.wt = new Float64Array(n);
    this.acc = new Float64Array(n);
    this.tmp = new Float64Array(n);
    this.bound = bindBatch(policy, phi, batch.obs, batch.actions, n);

    const states = options.states ?? (policy instanceof TabularSoftmaxPolicy ? policy.S : undefined);
    const want = options.criticBaseline ?? "auto";
    const kind =
      !cv || want === "none"
        ? null
        : want === "auto"
          ? states !== undefined
            ? "onehot"
            : "quadratic"
          : want;
    if (kind === null) this.base = null;
    else {
      const fold = new Uint8Array(n);
      let f = 0;
      for (let k = 0; k < n; k++) {
        fold[k] = f;
        if (batch.last[k]) f ^= 1;
      }
      const { psi, p } = baselineFeatures(kind, batch, states);
      this.base = new CrossFitBaseline(psi, p, fold, options.ridge ?? 1e-6);
    }
  }

  /** x − Hᵀx (the weights that carry the baseline in a transposed product), or x itself. */
  private centredT(x: Float64Array): Float64Array {
    if (this.base === null) return x;
    const out = this.tmp;
    this.base.applyT(x, out);
    for (let k = 0; k < x.length; k++) out[k] = x[k] - out[k];
    return out;
  }

  /** y − H y in place. */
  private centre(y: Float64Array): void {
    if (this.base === null) return;
    const b = this.tmp;
    this.base.apply(y, b);
    for (let k = 0; k < y.length; k++) y[k] -= b[k];
  }

  /** g_k · x for every sample. */
  private scoreDots(x: Float64Array, out: Float64Array): void {
    this.bound.scoreDot(x, out);
  }

  /** out = J_φ u. */
  jphi(u: Float64Array, out: Float64Array): void {
    const { n, tau, advantage: A, batch: B, ga: gu, wt: c } = this;
    this.scoreDots(u, gu);
    // Forward: W_k·u = Σ_{j<k} gu_j; reverse: F_k = Σ_{j>k} gu_j Ã_j (both within the segment).
    let F = 0;
    for (let k = n - 1; k >= 0; k--) {
      if (B.last[k]) F = 0;
      c[k] = F;
      F += gu[k] * A[k];
    }
    this.centre(c);
    let W = 0;
    for (let k = 0; k < n; k++) {
      c[k] += -tau * gu[k] + A[k] * (W + gu[k]);
      W = B.last[k] ? 0 : W + gu[k];
    }
    this.finishPhi(u, c, out);
  }

  /** out = J_φᵀ v. */
  jphiT(v: Float64Array, out: Float64Array): void {
    const { n, tau, advantage: A, batch: B, ga: cv, wt: w } = this;
    this.scoreDots(v, cv);
    // ω_j = −τ cv_j + Ã_j Σ_{k<j} c̄_k + Σ_{k>j} cv_k Ã_k + cv_j Ã_j, c̄ = cv − Hᵀcv (the baseline).
    const cb = this.centredT(cv);
    let C = 0;
    for (let k = 0; k < n; k++) {
      w[k] = -tau * cv[k] + A[k] * C + cv[k] * A[k];
      C = B.last[k] ? 0 : C + cb[k];
    }
    let S = 0;
    for (let k = n - 1; k >= 0; k--) {
      if (B.last[k]) S = 0;
      w[k] += S;
      S += cv[k] * A[k];
    }
    this.finishPhi(v, w, out);
  }

  /** out = scale · (Σ Ã_k ∇²log π_k x + Σ c_k g_k). */
  private finishPhi(x: Float64Array, c: Float64Array, out: Float64Array): void {
    const { bound, scale } = this;
    out.fill(0);
    bound.hessianVectorSum(this.advantage, x, out);
    bound.scoreSum(c, out);
    for (let i = 0; i < out.length; i++) out[i] *= scale;
  }

  /** out = J_θ w (length nφ). */
  jtheta(w: ArrayLike<number>, out: Float64Array): void {
    const { n, nTheta: nth, rowD, rowW, advantage: A, batch: B, wt: c } = this;
    let D = 0;
    for (let k = n - 1; k >= 0; k--) {
      if (B.last[k]) D = 0;
      let e = 0;
      for (let i = 0; i < nth; i++) e += rowD[k * nth + i] * w[i];
      D += e;
      c[k] = D;
    }
    this.centre(c);
    let W = 0;
    for (let k = 0; k < n; k++) {
      c[k] += A[k] * W;
      if (B.last[k]) W = 0;
      else {
        let e = 0;
        for (let i = 0; i < nth; i++) e += rowW[k * nth + i] * w[i];
        W += e;
      }
    }
    out.fill(0);
    this.bound.scoreSum(c, out);
    for (let i = 0; i < out.length; i++) out[i] *= this.scale;
  }

  /** out = J_θᵀ v (length nθ). */
  jthetaT(v: Float64Array, out: Float64Array): void {
    const { n, nTheta: nth, rowD, rowW, advantage: A, batch: B, ga: cv, acc } = this;
    this.scoreDots(v, cv);
    out.fill(0);
    // Σ_j rowD_j Σ_{k≤j} c̄_k + rowW_j Σ_{k>j} cv_k Ã_k, c̄ = cv − Hᵀcv (the baseline).
    const cb = this.centredT(cv);
    let C = 0;
    for (let k = 0; k < n; k++) {
      C += cb[k];
      acc[k] = C;
      if (B.last[k]) C = 0;
    }
    for (let k = 0; k < n; k++) {
      const c = acc[k];
      if (c !== 0) for (let i = 0; i < nth; i++) out[i] += c * rowD[k * nth + i];
    }
    let S = 0;
    for (let k = n - 1; k >= 0; k--) {
      if (B.last[k]) S = 0;
      if (S !== 0) for (let i = 0; i < nth; i++) out[i] += S * rowW[k * nth + i];
      S += cv[k] * A[k];
    }
    for (let i = 0; i < nth; i++) out[i] *= this.scale;
  }

  /** The sampled in-sim policy gradient φ̂ itself (how stationary φ is on this batch). */
  policyGradient(): Float64Array {
    const out = new Float64Array(this.nPhi);
    this.bound.scoreSum(this.advantage, out);
    for (let i = 0; i < out.length; i++) out[i] *= this.scale;
    return out;
  }

  /** Dense J_φ (nφ × nφ, row-major) from nφ products: for small problems and tests. */
  denseJphi(): Float64Array {
    const p = this.nPhi;
    const J = new Float64Array(p * p);
    const e = new Float64Array(p);
    const col = new Float64Array(p);
    for (let j = 0; j < p; j++) {
      e.fill(0);
      e[j] = 1;
      this.jphi(e, col);
      for (let i = 0; i < p; i++) J[i * p + j] = col[i];
    }
    return J;
  }

  /** Dense J_θ (nφ × nθ, row-major). */
  denseJtheta(): Float64Array {
    const p = this.nPhi;
    const q = this.nTheta;
    const J = new Float64Array(p * q);
    const e = new Float64Array(q);
    const col = new Float64Array(p);
    for (let j = 0; j < q; j++) {
      e.fill(0);
      e[j] = 1;
      this.jtheta(e, col);
      for (let i = 0; i < p; i++) J[i * q + j] = col[i];
    }
    return J;
  }
}

export interface SampledOuterGradient {
  /** (dφ/dθ)ᵀ ∂J_real/∂φ = J_θᵀ (−J_φᵀ + λI)⁻¹ ∂J_real/∂φ (bi-level paper (9b) with (12)). */
  grad: Float64Array;
  /** The first-order variant α J_θᵀ ∂J_real/∂φ (drops the Hessian terms: one step of size α). */
  firstOrder: Float64Array;
  /** cos(grad, firstOrder) and ‖firstOrder − grad‖/‖grad‖: the first-order variant's error. */
  firstOrderCosine: number;
  firstOrderRelError: number;
  solve: KrylovResult;
}

/**
 * The outer gradient (9b) from the sampled operators: one damped Krylov solve
 * (−J_φᵀ + λI) y = ∂J_real/∂φ (near an in-sim maximum −J_φ is close to positive definite, so λ > 0 moves
 * eigenvalues away from zero), then J_θᵀ y. Never forms J_φ.
 */
export function sampledOuterGradient(
  ops: SampledTheorem1,
  realGradient: Float64Array,
  config: SampledTheorem1ConfigInput = {},
): SampledOuterGradient {
  const cfg = SampledTheorem1ConfigSchema.parse(config);
  if (realGradient.length !== ops.nPhi)
    throw new RangeError(`realGradient: expected ${ops.nPhi} entries, got ${realGradient.length}`);
  const op: LinearOperator = (x, out) => {
    ops.jphiT(x, out);
    for (let i = 0; i < out.length; i++) out[i] = -out[i];
  };
  const solve = solveLinear(op, realGradient, {
    method: cfg.solver,
    damping: cfg.damping,
    tol: cfg.tol,
    maxIterations: cfg.maxIterations,
    ...(cfg.solver === "gmres" ? { restart: cfg.restart } : {}),
  });
  const grad = new Float64Array(ops.nTheta);
  ops.jthetaT(solve.x, grad);
  const firstOrder = new Float64Array(ops.nTheta);
  ops.jthetaT(realGradient, firstOrder);
  let diff = 0;
  let gn = 0;
  for (let i = 0; i < grad.length; i++) {
    firstOrder[i] *= cfg.firstOrderStep;
    diff += (firstOrder[i] - grad[i]) ** 2;
    gn += grad[i] ** 2;
  }
  return {
    grad,
    firstOrder,
    firstOrderCosine: cosine(grad, firstOrder),
    firstOrderRelError: gn === 0 ? Number.NaN : Math.sqrt(diff / gn),
    solve,
  };
}
