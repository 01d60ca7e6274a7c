/**
 * Exact evaluation of a stochastic policy on a tabular MDP, for the plain (τ = 0) or the
 * entropy-regularised objective J_τ = E Σ γ^t (R − τ log π).
 *
 * All linear algebra is in state space: V = (I − γ P_π)^{-1} r_π is S×S, and every (S·A)-sized
 * solve elsewhere is reduced to it through (I − γ P Π)^{-1} = I + γ P (I − γ P_π)^{-1} Π.
 */
import type { TabularMDP } from "../envs/tabular.ts";
import { Lu } from "../math/linalg.ts";

export interface PolicyEvaluation {
  /** V(s) = Σ_a π (Q̃ ), the (soft) state value. */
  readonly V: Float64Array;
  /** Q̃(s,a) = R − τ log π + γ Σ f V: the critic of the SPG condition (6) with the entropy term
   * (DESIGN §4.2). For τ = 0 it is the plain Q^π. */
  readonly Qt: Float64Array;
  /** Discounted state visitation d(s) = Σ_t γ^t Pr(s_t = s), total mass 1/(1 − γ). */
  readonly d: Float64Array;
  /** J = μᵀ V. */
  readonly J: number;
  /** LU of N⁻¹ = I − γ P_π (S×S). */
  readonly lu: Lu;
  /** P_π(s, s') = Σ_a π(a|s) f(s'|s,a). */
  readonly Ppi: Float64Array;
}

/** r̃(s,a) = R(s,a) − τ log π(a|s) (τ = 0: plain reward, even where π = 0). */
function entropyReward(R: Float64Array, logPi: Float64Array, tau: number): Float64Array {
  const r = new Float64Array(R.length);
  for (let i = 0; i < R.length; i++) r[i] = tau === 0 ? R[i] : R[i] - tau * logPi[i];
  return r;
}

export function evaluatePolicy(
  mdp: TabularMDP,
  pi: Float64Array,
  logPi: Float64Array,
  tau: number,
): PolicyEvaluation {
  const { S, A, gamma, P, mu } = mdp;
  const rt = entropyReward(mdp.R, logPi, tau);
  const rpi = new Float64Array(S);
  for (let s = 0; s < S; s++)
    for (let a = 0; a < A; a++) if (pi[s * A + a] !== 0) rpi[s] += pi[s * A + a] * rt[s * A + a];
  const { lu, Ppi } = stateResolvent(S, A, gamma, P, pi);
  const V = lu.solve(rpi);
  const Qt = new Float64Array(S * A);
  for (let sa = 0; sa < S * A; sa++) {
    let ev = 0;
    const off = sa * S;
    for (let x = 0; x < S; x++) ev += P[off + x] * V[x];
    Qt[sa] = rt[sa] + gamma * ev;
  }
  let J = 0;
  for (let s = 0; s < S; s++) J += mu[s] * V[s];
  // d is only needed for gradients: solved on first use (same factors, transposed).
  let d: Float64Array | null = null;
  return {
    V,
    Qt,
    J,
    lu,
    Ppi,
    get d() {
      if (d === null) d = lu.solveTransposed(mu);
      return d;
    },
  };
}

/**
 * Exact policy gradient of J_τ with respect to tabular softmax logits φ (φ index s·A + a):
 * ∂J/∂φ_{s,b} = d(s) π(b|s) (Q̃(s,b) − V(s)).
 */
export function softmaxPolicyGradient(mdp: TabularMDP, pi: Float64Array, ev: PolicyEvaluation): Float64Array {
  const { S, A } = mdp;
  const g = new Float64Array(S * A);
  for (let s = 0; s < S; s++)
    for (let b = 0; b < A; b++) g[s * A + b] = ev.d[s] * pi[s * A + b] * (ev.Qt[s * A + b] - ev.V[s]);
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
      if (p === 0) continue;
      const off = (s * A + a) * S;
      for (let x = 0; x < S; x++) Ppi[s * S + x] += p * P[off + x];
    }
  const Mm = new Float64Array(S * S);
  for (let i = 0; i < S * S; i++) Mm[i] = -gamma * Ppi[i];
  for (let s = 0; s < S; s++) Mm[s * S + s] += 1;
  return { lu: new Lu(Mm, S), Ppi };
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
