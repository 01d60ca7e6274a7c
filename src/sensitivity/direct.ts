/**
 * Direct score-function differentiation of the simulation (slides "Direct Simulation Differentiation"):
 * Ĵ_θ(π_ν) = E[Σ_k γ^k L_θ(s_k,a_k)] with L = R_θ − τ log π_ν, differentiated through the trajectory
 * density log ϕ = Σ log π_ν + Σ log f_θ; second-order sensitivities "are similar":
 *   ∂²_νν Ĵ = E Σ_k [∂²L_k + ∂L_k ⊗ S^ν_k + S^ν_k ⊗ ∂L_k + L_k (H^ν_k + S^ν_k S^νᵀ_k)]
 *   ∂²_νθ Ĵ = E Σ_k [∂_ν L_k ⊗ S^θ_k + S^ν_k ⊗ ∂_θ L_k + L_k S^ν_k ⊗ S^θ_k]
 * with S^ν_k = Σ_{i≤k} ∇ log π(a_i|s_i), H^ν_k = Σ_{i≤k} ∇² log π, S^θ_k = Σ_{i<k} ∇_θ log f(s_{i+1}|s_i,a_i),
 * then dν/dθ = −(∂²_νν Ĵ)⁻¹ ∂²_νθ Ĵ. Segments of a restart-with-probability-(1−γ) stream are unbiased
 * discounted trajectories, so no γ^k weights appear. No critic, no control variates: "simple and
 * computationally very efficient … sample-based estimations are very noisy" (the slides' verdict).
 */
import type { Transitions } from "../envs/tabular-rollout.ts";
import { gaugeFixedSolve } from "./gauge.ts";
import type { SensitivityInput } from "./tabular-exact.ts";

export function directSensitivity(inp: SensitivityInput, batch: Transitions): Float64Array {
  const { Hvv, Hvt, visited } = directSecondOrder(inp, batch);
  const { S, A } = inp.sim;
  return gaugeFixedSolve(Hvv, Hvt, S, A, S * A * S + S * A, visited);
}

/**
 * The sample averages (1/N)Σ of the two second-order terms. Their expectation is (1 − γ) ∂²_νν Ĵ and
 * (1 − γ) ∂²_νθ Ĵ for a discounted stream (the restart rate is 1 − γ).
 */
export function directSecondOrder(
  inp: SensitivityInput,
  batch: Transitions,
): { Hvv: Float64Array; Hvt: Float64Array; visited: boolean[] } {
  const { sim, pi, logPi, tau } = inp;
  const { S, A, P, R } = sim;
  const n = S * A;
  const nf = n * S;
  const nth = nf + n;
  const Hvv = new Float64Array(n * n);
  const Hvt = new Float64Array(n * nth);
  const Sv = new Float64Array(n);
  const St = new Float64Array(nth);
  const Hsum = new Float64Array(n * n); // Σ_{i≤k} ∇² log π, block-diagonal
  const visited = new Array<boolean>(S).fill(false);
  const touched = new Set<number>(); // states whose Hessian block is non-zero in Hsum
  for (let k = 0; k < batch.length; k++) {
    if (batch.start[k]) {
      Sv.fill(0);
      St.fill(0);
      for (const s of touched)
        for (let b = 0; b < A; b++) for (let c = 0; c < A; c++) Hsum[(s * A + b) * n + s * A + c] = 0;
      touched.clear();
    }
    const s = batch.s[k];
    const a = batch.a[k];
    const sa = s * A + a;
    visited[s] = true;
    for (let b = 0; b < A; b++) Sv[s * A + b] += (b === a ? 1 : 0) - pi[s * A + b];
    for (let b = 0; b < A; b++)
      for (let c = 0; c < A; c++) {
        const j = s * A + b;
        Hsum[j * n + s * A + c] -= (b === c ? pi[j] : 0) - pi[j] * pi[s * A + c];
      }
    touched.add(s);
    const L = R[sa] - tau * logPi[sa];
    // ∂_ν L = −τ g_k (block s); ∂²L = −τ ∇² log π(a_k|s_k)
    for (let b = 0; b < A; b++) {
      const j = s * A + b;
      const dLb = -tau * ((b === a ? 1 : 0) - pi[j]);
      for (let c = 0; c < A; c++) {
        const F = (b === c ? pi[j] : 0) - pi[j] * pi[s * A + c];
        Hvv[j * n + s * A + c] += tau * F; // −τ·(−F)
      }
      for (let l = 0; l < n; l++) {
        Hvv[j * n + l] += dLb * Sv[l];
        Hvv[l * n + j] += Sv[l] * dLb;
      }
      for (let l = 0; l < nth; l++) Hvt[j * nth + l] += dLb * St[l];
    }
    for (let i = 0; i < n; i++) {
      const si = Sv[i];
      if (si !== 0) {
        Hvt[i * nth + nf + sa] += si; // S^ν ⊗ ∂_θ L, ∂_θ L = e_{θ^R_{s,a}}
        const Lsi = L * si;
        for (let l = 0; l < n; l++) Hvv[i * n + l] += Lsi * Sv[l];
        for (let l = 0; l < nth; l++) Hvt[i * nth + l] += Lsi * St[l];
      }
    }
    for (const t of touched)
      for (let b = 0; b < A; b++)
        for (let c = 0; c < A; c++) {
          const q = (t * A + b) * n + t * A + c;
          Hvv[q] += L * Hsum[q];
        }
    const s2 = batch.s2[k];
    for (let x = 0; x < S; x++) St[sa * S + x] += (x === s2 ? 1 : 0) - P[sa * S + x];
  }
  for (let i = 0; i < Hvv.length; i++) Hvv[i] /= batch.length;
  for (let i = 0; i < Hvt.length; i++) Hvt[i] /= batch.length;
  return { Hvv, Hvt, visited };
}
