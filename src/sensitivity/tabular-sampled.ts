/**
 * Sampled Theorem 1 (bi-level paper (12)–(16)) from in-sim rollouts, tabular form, with the three
 * control variates of DESIGN §4.6. What is sampled: the states and actions (s, a) ~ ρ̂π and next
 * states s' ~ f_θ. What is known exactly: the policy and its derivatives, the simulator's f_θ, ∇_θ log f_θ,
 * R_θ, ∇_θ R_θ at the visited pairs, and the in-sim critic Q̃, V from the inner solver.
 *
 *  - Critic sensitivities (13)/(14) are tabular and solved to convergence on the empirical model P̂
 *    (equivalently, iterating the recursions over the data until they stop changing); pairs never
 *    visited fall back on the simulator's own f(·|s,a).
 *  - Markov-chain terms (15)/(16) use the score sums W accumulated since the last restart of a
 *    discounted stream (`sampleDiscountedStream`), never over a long undiscounted trajectory.
 *  - Control variates (each with zero mean): Ã = Q̃ − V in the Hessian and Markov-chain terms;
 *    ∇Q̃(s,a) − Σ_b π(b|s)∇Q̃(s,b) in the critic-sensitivity terms; V(s') − Σ_x f(x|s,a)V(x) in the
 *    model-score term of (13a).
 * With `controlVariates: false` and a plain trajectory it is the estimator as printed in the paper
 * (keeping only the entropy correction of §4.2, without which J_φ is singular).
 */
import { actionResolvent, denseInverse, evaluatePolicy, stateResolvent } from "../critics/tabular.ts";
import type { Transitions } from "../envs/tabular-rollout.ts";
import { gaugeFixedSolve } from "./gauge.ts";
import type { SensitivityInput } from "./tabular-exact.ts";

export interface SampledTheorem1Options {
  /** The three control variates of DESIGN §4.6 (default true). */
  controlVariates?: boolean;
}

export function sampledTheorem1(
  inp: SensitivityInput,
  batch: Transitions,
  opts: SampledTheorem1Options = {},
): Float64Array {
  const cv = opts.controlVariates ?? true;
  const { sim, pi, logPi, tau } = inp;
  const { S, A, gamma, P } = sim;
  const n = S * A;
  const nf = n * S;
  const nth = nf + n;
  const ev = inp.evaluation ?? evaluatePolicy(sim, pi, logPi, tau);
  const { V, Qt } = ev;

  // Empirical model P̂ (simulator's f where a pair was never visited).
  const counts = new Float64Array(n * S);
  const visits = new Float64Array(n);
  const stateVisited = new Array<boolean>(S).fill(false);
  for (let k = 0; k < batch.length; k++) {
    const sa = batch.s[k] * A + batch.a[k];
    counts[sa * S + batch.s2[k]]++;
    visits[sa]++;
    stateVisited[batch.s[k]] = true;
  }
  const Ph = new Float64Array(n * S);
  for (let sa = 0; sa < n; sa++)
    for (let x = 0; x < S; x++)
      Ph[sa * S + x] = visits[sa] > 0 ? counts[sa * S + x] / visits[sa] : P[sa * S + x];

  // M̂⁻¹ = (I − γ P̂ Π)⁻¹ = I + γ P̂ N̂ Π, N̂ = (I − γ P̂_π)⁻¹.
  const Mi = actionResolvent(S, A, gamma, Ph, pi, denseInverse(stateResolvent(S, A, gamma, Ph, pi).lu));

  // (13): ∂_θQ̃ = M̂⁻¹ B̂. Column θ^f_{s,a,x} of B̂ is γ ĉ(s,a,x) e_{(s,a)} with
  // ĉ = Ê_{s'}[(δ_{x s'} − f(x|s,a)) (V(s') − b)], b = Σ_y f(y|s,a)V(y) with control variates, else 0.
  const DQth = new Float64Array(n * nth);
  for (let sa = 0; sa < n; sa++) {
    let b = 0;
    if (cv) for (let y = 0; y < S; y++) b += P[sa * S + y] * V[y];
    let mean = 0;
    for (let y = 0; y < S; y++) mean += Ph[sa * S + y] * (V[y] - b);
    for (let x = 0; x < S; x++) {
      const c = gamma * (Ph[sa * S + x] * (V[x] - b) - P[sa * S + x] * mean);
      for (let i = 0; i < n; i++) DQth[i * nth + sa * S + x] = Mi[i * n + sa] * c;
    }
    for (let i = 0; i < n; i++) DQth[i * nth + nf + sa] = Mi[i * n + sa];
  }
  // (14) with the entropy correction: ∂_φQ̃ = M̂⁻¹ (−τ G + γ P̂ Kᵀ), Kᵀ[s2,(s2,b)] = π(b|s2)(Q̃ − V).
  const X = new Float64Array(n * n);
  for (let s = 0; s < S; s++)
    for (let a = 0; a < A; a++) {
      const row = (s * A + a) * n;
      for (let b = 0; b < A; b++) X[row + s * A + b] -= tau * ((a === b ? 1 : 0) - pi[s * A + b]);
      for (let s2 = 0; s2 < S; s2++) {
        const p = gamma * Ph[(s * A + a) * S + s2];
        if (p === 0) continue;
        for (let b = 0; b < A; b++) X[row + s2 * A + b] += p * pi[s2 * A + b] * (Qt[s2 * A + b] - V[s2]);
      }
    }
  const DQphi = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let l = 0; l < n; l++) {
      const m = Mi[i * n + l];
      if (m === 0) continue;
      for (let j = 0; j < n; j++) DQphi[i * n + j] += m * X[l * n + j];
    }
  // Σ_a π(a|s) ∂Q̃(s,a): the baselines of the critic-sensitivity control variate.
  const barPhi = new Float64Array(S * n);
  const barTh = new Float64Array(S * nth);
  if (cv)
    for (let s = 0; s < S; s++)
      for (let a = 0; a < A; a++) {
        const p = pi[s * A + a];
        for (let j = 0; j < n; j++) barPhi[s * n + j] += p * DQphi[(s * A + a) * n + j];
        for (let j = 0; j < nth; j++) barTh[s * nth + j] += p * DQth[(s * A + a) * nth + j];
      }

  // Sample averages of J_φ and J_θ (the common 1/N scale cancels in the solve).
  const Jphi = new Float64Array(n * n);
  const Jth = new Float64Array(n * nth);
  const Wphi = new Float64Array(n);
  const Wth = new Float64Array(nth);
  const g = new Float64Array(A);
  for (let k = 0; k < batch.length; k++) {
    if (batch.start[k]) {
      Wphi.fill(0);
      Wth.fill(0);
    }
    const s = batch.s[k];
    const a = batch.a[k];
    const sa = s * A + a;
    for (let b = 0; b < A; b++) g[b] = (b === a ? 1 : 0) - pi[s * A + b];
    const At = Qt[sa] - (cv ? V[s] : 0);
    for (let b = 0; b < A; b++) {
      const j = s * A + b;
      const rowPhi = j * n;
      const rowTh = j * nth;
      const gb = g[b];
      // T_A: ∇² log π Ã = −(diag π_s − π_s π_sᵀ) Ã
      for (let c = 0; c < A; c++) {
        const F = (b === c ? pi[j] : 0) - pi[j] * pi[s * A + c];
        Jphi[rowPhi + s * A + c] -= F * At;
      }
      // T_B and T_D: g ⊗ (∂Q̃(s,a) − Σ_b π ∂Q̃(s,b))
      for (let l = 0; l < n; l++) Jphi[rowPhi + l] += gb * (DQphi[sa * n + l] - barPhi[s * n + l]);
      for (let l = 0; l < nth; l++) Jth[rowTh + l] += gb * (DQth[sa * nth + l] - barTh[s * nth + l]);
      // T_C and T_E: g Ã ⊗ (W + ∇ log π) and g Ã ⊗ W^θ   (15), (16)
      const ga = gb * At;
      if (ga !== 0) {
        for (let l = 0; l < n; l++) Jphi[rowPhi + l] += ga * Wphi[l];
        for (let c = 0; c < A; c++) Jphi[rowPhi + s * A + c] += ga * g[c];
        for (let l = 0; l < nth; l++) Jth[rowTh + l] += ga * Wth[l];
      }
    }
    // W_{k+1} = W_k + ∇ log π(a_k|s_k), W^θ_{k+1} = W^θ_k + ∇_θ log f(s_{k+1}|s_k,a_k).
    for (let b = 0; b < A; b++) Wphi[s * A + b] += g[b];
    const s2 = batch.s2[k];
    for (let x = 0; x < S; x++) Wth[sa * S + x] += (x === s2 ? 1 : 0) - P[sa * S + x];
  }
  return gaugeFixedSolve(Jphi, Jth, S, A, nth, stateVisited);
}
