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
export function entropyReward(R: Float64Array, logPi: Float64Array, tau: number): Float64Array {
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
  const Ppi = new Float64Array(S * S);
  const rpi = new Float64Array(S);
  for (let s = 0; s < S; s++) {
    for (let a = 0; a < A; a++) {
      const p = pi[s * A + a];
      if (p === 0) continue;
      rpi[s] += p * rt[s * A + a];
      const off = (s * A + a) * S;
      for (let x = 0; x < S; x++) Ppi[s * S + x] += p * P[off + x];
    }
  }
  const Mm = new Float64Array(S * S);
  for (let i = 0; i < S * S; i++) Mm[i] = -gamma * Ppi[i];
  for (let s = 0; s < S; s++) Mm[s * S + s] += 1;
  const lu = new Lu(Mm, S);
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
