/**
 * Q^π of a controller's exploratory policy, learned from real transitions (issue 9, item 3), for the outer
 * level's policy gradients (src/mpc/outer.ts).
 *
 * Data: a batch of real trajectories of the behaviour policy a = u₀*(s; θ) + σε (ε ~ N(0, I)), recorded
 * with the controller's mean u₀*(s_t) and Jacobian du₀/dθ at every visited state (`RealBatch`). Q^π is
 * the action value of that Gaussian policy; the action a_t in φ(s_t, a_t) is the *unclipped* sample (the
 * real system receives its clip to the declared bounds, which is part of the environment as Q sees it).
 *
 * Critic: linear in features, Q̂(s, a) = φ(s, a)ᵀ w, fitted by weighted LSTD(λ) (Boyan 2002, with state
 * weights ω_t):
 *   z_t = γλ z_{t−1} + ω_t φ_t,   A = Σ_t z_t (φ_t − γ φ_{t+1})ᵀ,   b = Σ_t z_t r_t,   w = A⁻¹ b,
 * where φ_{t+1} = φ(s_{t+1}, a_{t+1}) is the next on-policy pair (at t = H − 1 the action a_H is drawn
 * from the policy but never executed) and drops out when the objective ends after H steps. λ = 0 is
 * LSTD-Q (the TD fixed point); λ = 1 telescopes to a weighted least-squares regression of the
 * bootstrapped Monte-Carlo returns G_t + γ^{H−t} Q̂(s_H, a_H) on φ_t (no bias from V's features).
 *
 * Feature maps:
 * - `polynomialFeatures(n, m, d)`: every monomial of z = (s, a) of degree ≤ d. With d = 2 and a quadratic
 *   reward on a linear-Gaussian system under a linear-Gaussian policy, Q^π is exactly in the span
 *   (Q^π(s, a) = −sᵀQs − aᵀRa − γ(As + Ba)ᵀP(As + Ba) − const), so LSTD-Q is consistent for it.
 * - `compatibleFeatures(stateFeatures)`: ψ(s, a) = (du₀/dθ)ᵀ (a − u₀*(s)) plus state features for V
 *   (Silver et al. 2014, compatible function approximation for the deterministic policy gradient): then
 *   ∇_a Q̂ = (du₀/dθ) w_ψ at every a. Since E[ψ | s] = 0 under the Gaussian exploration, the regression
 *   coefficients of ψ decouple from V's features: with λ = 1 and ω_t = γ^t the DPG with this critic is a
 *   consistent estimate of the exploratory policy's gradient for *any* differentiable controller (σ²I
 *   exploration; Stein's lemma E[(a − μ) Q(s, a)] = σ² E[∇_a Q]) — the reason it is the default.
 */
import { Lu } from "../math/linalg.ts";

/** N real trajectories of H steps (see the module comment). Index k = i·(H + 1) + t, t = 0..H. */
export interface RealBatch {
  N: number;
  H: number;
  /** State size, action size, length of θ. */
  n: number;
  m: number;
  nTheta: number;
  /** s_t, t = 0..H (s_H is the state after the last real step). */
  states: Float64Array;
  /** The behaviour policy's samples a_t = u₀*(s_t) + σε_t before clipping, t = 0..H (a_H never executed). */
  actions: Float64Array;
  /** What the real system received: the samples clipped to its declared bounds, t = 0..H − 1 (index k). */
  applied: Float64Array;
  /** u₀*(s_t), t = 0..H. */
  means: Float64Array;
  /** du₀/dθ at s_t (m × nθ row-major), t = 0..H. */
  jacobians: Float64Array;
  /** r_t, t = 0..H − 1, at index i·H + t. */
  rewards: Float64Array;
  /** Whether the objective continues after step H (truncated rollouts of a continuing task: bootstrap). */
  bootstrap: boolean;
}

/** Features of a state alone (for V in the compatible critic). */
export interface StateFeatures {
  readonly size: number;
  /** φ(s) into out[off …]. */
  features(s: Float64Array, sOff: number, out: Float64Array, off: number): void;
}

/** Features of a state-action pair of a batch. */
export interface QFeatures {
  readonly size: number;
  /** φ(s_k, a) into out (a: m entries; the batch's state, mean and Jacobian at k). */
  features(b: RealBatch, k: number, a: ArrayLike<number>, out: Float64Array): void;
  /** ∇_a (φ(s_k, a)ᵀ w) into out (m). */
  gradA(b: RealBatch, k: number, a: ArrayLike<number>, w: Float64Array, out: Float64Array): void;
}

// ───────────────────────────── feature maps ─────────────────────────────

/** Exponent vectors of every monomial in `dims` variables of total degree ≤ d (degree-major order). */
export function monomials(dims: number, d: number): Int32Array[] {
  const out: Int32Array[] = [];
  const rec = (prefix: number[], left: number) => {
    if (prefix.length === dims - 1) {
      out.push(Int32Array.from([...prefix, left]));
      return;
    }
    for (let e = left; e >= 0; e--) rec([...prefix, e], left - e);
  };
  for (let deg = 0; deg <= d; deg++) rec([], deg);
  return out;
}

/** Every monomial of z = (s, a) of degree ≤ d. */
export function polynomialFeatures(n: number, m: number, degree: number): QFeatures {
  const dims = n + m;
  const exps = monomials(dims, degree);
  const z = new Float64Array(dims);
  const load = (b: RealBatch, k: number, a: ArrayLike<number>) => {
    for (let j = 0; j < n; j++) z[j] = b.states[k * n + j];
    for (let j = 0; j < m; j++) z[n + j] = a[j];
  };
  const mono = (e: Int32Array, skip = -1): number => {
    let v = 1;
    for (let j = 0; j < dims; j++) {
      const p = j === skip ? e[j] - 1 : e[j];
      for (let q = 0; q < p; q++) v *= z[j];
    }
    return v;
  };
  return {
    size: exps.length,
    features(b, k, a, out) {
      load(b, k, a);
      for (let f = 0; f < exps.length; f++) out[f] = mono(exps[f]);
    },
    gradA(b, k, a, w, out) {
      load(b, k, a);
      for (let j = 0; j < m; j++) {
        let g = 0;
        for (let f = 0; f < exps.length; f++) {
          const e = exps[f][n + j];
          if (e > 0) g += w[f] * e * mono(exps[f], n + j);
        }
        out[j] = g;
      }
    },
  };
}

/** [1, s_i, s_i s_j (i ≤ j)] and, with widths, radial bumps exp(−k ‖s‖²/scale) for k in `widths`. */
export function quadraticStateFeatures(n: number, widths: readonly number[] = [], scale = 1): StateFeatures {
  return {
    size: 1 + n + (n * (n + 1)) / 2 + widths.length,
    features(s, sOff, out, off) {
      let f = off;
      out[f++] = 1;
      let r2 = 0;
      for (let i = 0; i < n; i++) {
        out[f++] = s[sOff + i];
        r2 += s[sOff + i] * s[sOff + i];
      }
      for (let i = 0; i < n; i++) for (let j = i; j < n; j++) out[f++] = s[sOff + i] * s[sOff + j];
      for (const k of widths) out[f++] = Math.exp((-k * r2) / scale);
    },
  };
}

/**
 * Compatible features ψ = (du₀/dθ)ᵀ (a − u₀*(s)) (nθ entries) followed by state features for V: Q̂ =
 * ψᵀ w_ψ + φ_V(s)ᵀ w_V, so ∇_a Q̂ = (du₀/dθ) w_ψ.
 */
export function compatibleFeatures(nTheta: number, m: number, state: StateFeatures): QFeatures {
  return {
    size: nTheta + state.size,
    features(b, k, a, out) {
      const J = b.jacobians;
      const jOff = k * m * nTheta;
      for (let p = 0; p < nTheta; p++) {
        let v = 0;
        for (let i = 0; i < m; i++) v += J[jOff + i * nTheta + p] * (a[i] - b.means[k * m + i]);
        out[p] = v;
      }
      state.features(b.states, k * b.n, out, nTheta);
    },
    gradA(b, k, _a, w, out) {
      const J = b.jacobians;
      const jOff = k * m * nTheta;
      for (let i = 0; i < m; i++) {
        let v = 0;
        for (let p = 0; p < nTheta; p++) v += J[jOff + i * nTheta + p] * w[p];
        out[i] = v;
      }
    },
  };
}

// ───────────────────────────── LSTD(λ) ─────────────────────────────

export interface LstdOptions {
  gamma: number;
  /** Trace decay λ ∈ [0, 1]. */
  lambda: number;
  /** Ridge added to A's diagonal, relative to mean |A_ii| (keeps A invertible with few samples). */
  ridge: number;
  /** Per-step weight ω_t (the state weighting of the fit). */
  weight: (t: number) => number;
  /** Trajectories used (default all): [from, to). */
  from?: number;
  to?: number;
}

/** A fitted linear critic. */
export class LinearQ {
  readonly features: QFeatures;
  readonly w: Float64Array;
  private readonly phi: Float64Array;

  constructor(features: QFeatures, w: Float64Array) {
    this.features = features;
    this.w = w;
    this.phi = new Float64Array(features.size);
  }

  /** Q̂(s_k, a). */
  value(b: RealBatch, k: number, a: ArrayLike<number>): number {
    this.features.features(b, k, a, this.phi);
    let v = 0;
    for (let f = 0; f < this.w.length; f++) v += this.w[f] * this.phi[f];
    return v;
  }

  /** ∇_a Q̂(s_k, a) into out. */
  gradA(b: RealBatch, k: number, a: ArrayLike<number>, out: Float64Array): void {
    this.features.gradA(b, k, a, this.w, out);
  }
}

/** Weighted LSTD(λ) on one batch (see the module comment). */
export function fitLstd(b: RealBatch, features: QFeatures, opts: LstdOptions): LinearQ {
  const nf = features.size;
  const { gamma, lambda, m } = { ...opts, m: b.m };
  const A = new Float64Array(nf * nf);
  const rhs = new Float64Array(nf);
  const z = new Float64Array(nf);
  const cur = new Float64Array(nf);
  const next = new Float64Array(nf);
  const a = new Float64Array(m);
  const loadPhi = (k: number, out: Float64Array) => {
    for (let j = 0; j < m; j++) a[j] = b.actions[k * m + j];
    features.features(b, k, a, out);
  };
  const from = opts.from ?? 0;
  const to = opts.to ?? b.N;
  for (let i = from; i < to; i++) {
    z.fill(0);
    loadPhi(i * (b.H + 1), cur);
    for (let t = 0; t < b.H; t++) {
      const k = i * (b.H + 1) + t;
      const last = t === b.H - 1;
      if (!last || b.bootstrap) loadPhi(k + 1, next);
      else next.fill(0);
      const wt = opts.weight(t);
      for (let f = 0; f < nf; f++) z[f] = gamma * lambda * z[f] + wt * cur[f];
      const r = b.rewards[i * b.H + t];
      for (let p = 0; p < nf; p++) {
        const zp = z[p];
        if (zp === 0) continue;
        rhs[p] += zp * r;
        const row = p * nf;
        for (let q = 0; q < nf; q++) A[row + q] += zp * (cur[q] - gamma * next[q]);
      }
      cur.set(next);
    }
  }
  let tr = 0;
  for (let p = 0; p < nf; p++) tr += Math.abs(A[p * nf + p]);
  const ridge = (opts.ridge * tr) / nf;
  for (let p = 0; p < nf; p++) A[p * nf + p] += ridge;
  const w = new Lu(A, nf).solve(rhs);
  if (!w.every(Number.isFinite)) throw new RangeError("LSTD: the critic's linear system is singular");
  return new LinearQ(features, w);
}
