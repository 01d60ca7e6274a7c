/**
 * The outer level's real-world policy gradient v = ∂J_real/∂φ (the factor of (9a) that (9b) maps to θ):
 * exact (when the real MDP is known, for evaluation) or REINFORCE with a per-state baseline from real
 * rollouts.
 */
import { evaluatePolicy, softmaxPolicyGradient } from "../critics/tabular.ts";
import type { TabularMDP } from "../envs/tabular.ts";
import type { Transitions } from "../envs/tabular-rollout.ts";

export type Objective = "soft" | "hard";

/** Temperature of the real objective: τ for "soft", 0 for "hard". */
export const objectiveTemperature = (objective: Objective, tau: number): number =>
  objective === "soft" ? tau : 0;

/** Exact ∂J_real/∂φ for the tabular softmax policy. */
export function exactRealGradient(
  real: TabularMDP,
  pi: Float64Array,
  logPi: Float64Array,
  tauObjective: number,
): Float64Array {
  return softmaxPolicyGradient(real, pi, evaluatePolicy(real, pi, logPi, tauObjective));
}

/**
 * REINFORCE with a state baseline from trajectories that start at s₀ ~ μ (trajectory j = the steps
 * between two `start` flags): v = (1/n) Σ_j Σ_k γ^k ∇_φ log π(a_k|s_k) (G_k − b(s_k)),
 * G_k = Σ_{t ≥ k} γ^{t−k} (r_t − τ log π(a_t|s_t)). Also returns the per-state mean of G_k, which callers
 * use to update their baseline (so a batch never baselines itself).
 */
export function reinforceGradient(
  batch: Transitions,
  S: number,
  A: number,
  gamma: number,
  pi: Float64Array,
  logPi: Float64Array,
  tauObjective: number,
  baseline: ArrayLike<number>,
): { v: Float64Array; meanReturn: Float64Array; visits: Float64Array; trajectories: number } {
  const n = batch.length;
  const G = new Float64Array(n);
  let acc = 0;
  for (let k = n - 1; k >= 0; k--) {
    const sa = batch.s[k] * A + batch.a[k];
    const rt = batch.r[k] - (tauObjective === 0 ? 0 : tauObjective * logPi[sa]);
    const next = k + 1 < n && batch.start[k + 1] === 0 ? acc : 0;
    acc = rt + gamma * next;
    G[k] = acc;
  }
  const v = new Float64Array(S * A);
  const meanReturn = new Float64Array(S);
  const visits = new Float64Array(S);
  let trajectories = 0;
  for (let k = 0; k < n; k++) {
    if (batch.start[k]) trajectories++;
    const s = batch.s[k];
    const a = batch.a[k];
    const adv = batch.discount[k] * (G[k] - baseline[s]);
    for (let b = 0; b < A; b++) v[s * A + b] += ((b === a ? 1 : 0) - pi[s * A + b]) * adv;
    meanReturn[s] += G[k];
    visits[s]++;
  }
  for (let i = 0; i < v.length; i++) v[i] /= Math.max(trajectories, 1);
  for (let s = 0; s < S; s++) if (visits[s] > 0) meanReturn[s] /= visits[s];
  return { v, meanReturn, visits, trajectories };
}
