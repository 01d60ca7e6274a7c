/**
 * Exact evaluation of a stochastic policy on a tabular MDP, for the plain (τ = 0) or the
 * entropy-regularised objective J_τ = E Σ γ^t (R − τ log π).
 *
 * All linear algebra is in state space: V = (I − γ P_π)^{-1} r_π is S×S, and every (S·A)-sized
 * solve elsewhere is reduced to it through (I − γ P Π)^{-1} = I + γ P (I − γ P_π)^{-1} Π.
 */
import type { TabularMDP } from "../envs/tabular.ts";
import { axpyAt, dotAt, Lu } from "../math/linalg.ts";

export interface PolicyEvaluation {
  /** V(s) = Σ_a π (Q̃ ), the (soft) state value. */
  readonly V: Float64Array;
  /** Q̃(s,a) = R − τ log π + γ Σ f V: the critic of the SPG condition (6) with the entropy term
   * (DESIGN §4.2). For τ = 0 it is the plain Q^π. */
  readonly Qt: Float64Array;
  /** (P V)(s,a) = Σ_x f(x|s,a) V(x), the expected next value (kept: the sensitivities need it too). */
  readonly PV: Float64Array;
  /** Discounted state visitation d(s) = Σ_t γ^t Pr(s_t = s), total mass 1/(1 − γ). */
  readonly d: Float64Array;
  /** J = μᵀ V. */
  readonly J: number;
  /** LU of N⁻¹ = I − γ P_π (S×S). */
  readonly lu: Lu;
  /** P_π(s, s') = Σ_a π(a|s) f(s'|s,a). */
  readonly Ppi: Float64Array;
}

/** A class rather than an object literal with a getter: V8 keeps its property loads fast in hot loops. */
class Evaluation implements PolicyEvaluation {
  private dCache: Float64Array | null = null;

  constructor(
    readonly V: Float64Array,
    readonly Qt: Float64Array,
    readonly PV: Float64Array,
    readonly J: number,
    readonly lu: Lu,
    readonly Ppi: Float64Array,
    private readonly mu: Float64Array,
  ) {}

  /** d is only needed for gradients: solved on first use (same factors, transposed). */
  get d(): Float64Array {
    if (this.dCache === null) this.dCache = this.lu.solveTransposed(this.mu);
    return this.dCache;
  }
}

/** The last state resolvent computed for a transition table, with the discount and policy it was for. */
interface CachedResolvent {
  readonly gamma: number;
  readonly pi: Float64Array;
  readonly lu: Lu;
  readonly Ppi: Float64Array;
}

/**
 * Callers often evaluate one policy twice on the same MDP with different rewards (soft and hard return,
 * or an evaluation repeated for a gradient); the O(S³) factorisation depends only on (P, γ, π), so the
 * last one per transition table is kept. P is keyed by identity (MDP tables are never written after
 * construction); π is compared by value, so a policy array mutated in place is never mistaken.
 */
const resolventCache = new WeakMap<Float64Array, CachedResolvent>();

function sameArray(a: Float64Array, b: Float64Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function cachedStateResolvent(
  S: number,
  A: number,
  gamma: number,
  P: Float64Array,
  pi: Float64Array,
): { lu: Lu; Ppi: Float64Array } {
  const hit = resolventCache.get(P);
  if (hit !== undefined && hit.gamma === gamma && sameArray(hit.pi, pi)) return hit;
  const { lu, Ppi } = stateResolvent(S, A, gamma, P, pi);
  resolventCache.set(P, { gamma, pi: pi.slice(), lu, Ppi });
  return { lu, Ppi };
}

export function evaluatePolicy(
  mdp: TabularMDP,
  pi: Float64Array,
  logPi: Float64Array,
  tau: number,
): PolicyEvaluation {
  const { S, A, gamma, P, R, mu } = mdp;
  const n = S * A;
  // r̃(s,a) = R(s,a) − τ log π(a|s) (τ = 0: plain reward, even where π = 0).
  const rt = tau === 0 ? R : new Float64Array(n);
  if (tau !== 0) for (let i = 0; i < n; i++) rt[i] = R[i] - tau * logPi[i];
  const rpi = new Float64Array(S);
  for (let s = 0; s < S; s++) {
    let acc = 0;
    for (let a = s * A; a < s * A + A; a++) if (pi[a] !== 0) acc += pi[a] * rt[a];
    rpi[s] = acc;
  }
  const { lu, Ppi } = cachedStateResolvent(S, A, gamma, P, pi);
  const V = lu.solve(rpi);
  const Qt = new Float64Array(n);
  const PV = new Float64Array(n);
  for (let sa = 0; sa < n; sa++) {
    const ev = dotAt(P, sa * S, V, S);
    PV[sa] = ev;
    Qt[sa] = rt[sa] + gamma * ev;
  }
  let J = 0;
  for (let s = 0; s < S; s++) J += mu[s] * V[s];
  return new Evaluation(V, Qt, PV, J, lu, Ppi, mu);
}

/**
 * Exact policy gradient of J_τ with respect to tabular softmax logits φ (φ index s·A + a):
 * ∂J/∂φ_{s,b} = d(s) π(b|s) (Q̃(s,b) − V(s)).
 */
export function softmaxPolicyGradient(mdp: TabularMDP, pi: Float64Array, ev: PolicyEvaluation): Float64Array {
  const { S, A } = mdp;
  const { d, Qt, V } = ev;
  const g = new Float64Array(S * A);
  for (let s = 0; s < S; s++)
    for (let b = 0; b < A; b++) g[s * A + b] = d[s] * pi[s * A + b] * (Qt[s * A + b] - V[s]);
  return g;
}

/** P_π = Π P and the LU of N⁻¹ = I − γ P_π (S×S), for any transition table P (model or empirical). */
export function stateResolvent(
  S: number,
  A: number,
  gamma: number,
  P: Float64Array,
  pi: Float64Array,
): { lu: Lu; Ppi: Float64Array } {
  const Ppi = new Float64Array(S * S);
  for (let s = 0; s < S; s++)
    for (let a = 0; a < A; a++) {
      const p = pi[s * A + a];
      if (p !== 0) axpyAt(p, P, (s * A + a) * S, Ppi, s * S, S);
    }
  const Mm = new Float64Array(S * S);
  for (let i = 0; i < S * S; i++) Mm[i] = -gamma * Ppi[i];
  for (let s = 0; s < S; s++) Mm[s * S + s] += 1;
  return { lu: new Lu(Mm, S, { overwrite: true }), Ppi };
}

/** N = (I − γ P_π)⁻¹ as a dense S×S matrix, from its LU. */
export function denseInverse(lu: Lu): Float64Array {
  const I = new Float64Array(lu.n * lu.n);
  for (let s = 0; s < lu.n; s++) I[s * lu.n + s] = 1;
  return lu.solve(I, lu.n);
}

/**
 * (I − γ P Π)⁻¹ = I + γ P N Π, dense (S·A)×(S·A), from the S×S N: the action-value resolvent, with
 * no (S·A)-sized factorisation.
 */
export function actionResolvent(
  S: number,
  A: number,
  gamma: number,
  P: Float64Array,
  pi: Float64Array,
  N: Float64Array,
): Float64Array {
  const n = S * A;
  const Mi = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let y = 0; y < S; y++) {
      let pn = 0;
      for (let x = 0; x < S; x++) pn += P[i * S + x] * N[x * S + y];
      for (let a2 = 0; a2 < A; a2++) Mi[i * n + y * A + a2] = gamma * pn * pi[y * A + a2];
    }
    Mi[i * n + i] += 1;
  }
  return Mi;
}
