/**
 * Sensitivity of the MPC solution to θ (issue 9, item 2) by the implicit function theorem on the
 * optimality (KKT) conditions of the converged N-step problem, with the active set held fixed.
 *
 * Multiple-shooting Lagrangian 𝓛 = Σ_k ℓ_k(x_k, u_k) + T(x_N) + Σ_k λ_{k+1}ᵀ(f(x_k, u_k) − x_{k+1}). At the
 * solution: λ_N = ∇T, λ_k = ∇_xℓ_k + f_xᵀλ_{k+1} (costates), ∇_uℓ_k + f_uᵀλ_{k+1} = 0 on the free
 * controls, active controls pinned to their bound. Differentiating all of these along θ_j gives a linear
 * system for (δx, δu, δλ) which is the KKT system of an equality-constrained LQ problem:
 *
 *   min Σ_k ½[δx;δu]ᵀ H_k [δx;δu] + [δx;δu]ᵀ ∂_θ∇(ℓ_k + λ_{k+1}ᵀf) + ½δx_Nᵀ∇²T δx_N + δx_Nᵀ ∂_θ∇T
 *   s.t. δx_{k+1} = f_x δx_k + f_u δu_k + ∂_θ f,  δx_0 = 0 (s does not depend on θ),  δu_{k,i} = 0 if active,
 *
 * H_k = ∇²_{(x,u)}(ℓ_k + λ_{k+1}ᵀf) — the *exact* Hessian of the Lagrangian, with the model's second
 * derivatives (eliminating δx gives the reduced Hessian ∇²_{U_f U_f}J of the single-shooting problem, so
 * this is du_f/dθ = −H_ff⁻¹ ∂²J/∂U_f∂θ). One backward Riccati sweep solves it for all nθ directions at
 * once (the "differentiated converged Riccati sweep"):
 *
 *   P_N = ∇²T, p_N = ∂_θ∇T;  Q_xx = H_xx + f_xᵀP f_x,  Q_ux = H_ux + f_uᵀP f_x,  Q_uu = H_uu + f_uᵀP f_u,
 *   w = p + P ∂_θf,  q_x = ∂_θ∇_x(ℓ + λᵀf) + f_xᵀw,  q_u = ∂_θ∇_u(ℓ + λᵀf) + f_uᵀw,
 *   on the free rows F: K_F = −Q_uu,FF⁻¹ Q_ux,F,  k_F = −Q_uu,FF⁻¹ q_u,F  (active rows 0),
 *   P ← Q_xx + Q_uxᵀK,  p ← q_x + Q_uxᵀk.
 *
 * Since δx_0 = 0, du₀*∕dθ = k_0 and (a by-product) du₀*∕ds = K_0. The whole dU*∕dθ follows from a forward
 * pass δx_{k+1} = f_x δx_k + f_u δu_k + ∂_θf, δu_k = K_k δx_k + k_k.
 */

import { Lu } from "../math/linalg.ts";
import {
  costateGradient,
  type Ocp,
  type StageDerivatives,
  stageDerivativesBuffer,
  terminalDerivativesBuffer,
} from "./ocp.ts";

export interface ControlSensitivity {
  /** du₀*∕dθ (m×nθ, row-major). */
  du0dTheta: Float64Array;
  /** du₀*∕ds (m×n): the converged feedback gain. */
  du0ds: Float64Array;
  /** dU*∕dθ for the whole sequence ((N·m)×nθ), when asked for. */
  dUdTheta?: Float64Array;
}

/** C (r×c) = Aᵀ (k×r)ᵀ · B (k×c), accumulated into C when `acc`. */
function atb(
  A: Float64Array,
  B: Float64Array,
  k: number,
  r: number,
  c: number,
  C: Float64Array,
  acc: boolean,
): void {
  if (!acc) C.fill(0);
  for (let l = 0; l < k; l++)
    for (let i = 0; i < r; i++) {
      const a = A[l * r + i];
      if (a === 0) continue;
      for (let j = 0; j < c; j++) C[i * c + j] += a * B[l * c + j];
    }
}

/** C (r×c) = A (r×k) · B (k×c). */
function ab(A: Float64Array, B: Float64Array, r: number, k: number, c: number, C: Float64Array): void {
  C.fill(0);
  for (let i = 0; i < r; i++)
    for (let l = 0; l < k; l++) {
      const a = A[i * k + l];
      if (a === 0) continue;
      for (let j = 0; j < c; j++) C[i * c + j] += a * B[l * c + j];
    }
}

/**
 * du*∕dθ at a converged solution (X, U) of `ocp` at θ, with `active` (−1/+1 on a bound, 0 free) the active
 * set. `full`: also the whole dU*∕dθ.
 */
export function controlSensitivity(
  ocp: Ocp,
  theta: Float64Array,
  X: Float64Array,
  U: Float64Array,
  active: Int8Array,
  options: { full?: boolean } = {},
): ControlSensitivity {
  const { n, m, horizon: N, nTheta: nt } = ocp;
  const lambda = new Float64Array((N + 1) * n);
  costateGradient(ocp, theta, X, U, new Float64Array(N * m), lambda);
  const term = terminalDerivativesBuffer(n, nt);
  ocp.terminalDerivatives(theta, X.subarray(N * n), true, term);
  let P = Float64Array.from(term.lxx);
  let p = Float64Array.from(term.lxt);
  const d: StageDerivatives = stageDerivativesBuffer(n, m, nt);
  const Pfx = new Float64Array(n * n);
  const Pfu = new Float64Array(n * m);
  const Qxx = new Float64Array(n * n);
  const Qux = new Float64Array(m * n);
  const Quu = new Float64Array(m * m);
  const w = new Float64Array(n * nt);
  const qx = new Float64Array(n * nt);
  const qu = new Float64Array(m * nt);
  const K = new Float64Array(m * n);
  const kk = new Float64Array(m * nt);
  const full = options.full ?? false;
  const gains = full
    ? Array.from({ length: N }, () => ({ K: new Float64Array(m * n), k: new Float64Array(m * nt) }))
    : [];
  const derivs: StageDerivatives[] = [];
  const free = new Int32Array(m);
  for (let k = N - 1; k >= 0; k--) {
    const dk = full ? stageDerivativesBuffer(n, m, nt) : d;
    ocp.stageDerivatives(
      theta,
      k,
      X.subarray(k * n, (k + 1) * n),
      U.subarray(k * m, (k + 1) * m),
      lambda.subarray((k + 1) * n, (k + 2) * n),
      true,
      dk,
    );
    if (full) derivs[k] = dk;
    // Q-function blocks (header).
    ab(P, dk.fx, n, n, n, Pfx);
    ab(P, dk.fu, n, n, m, Pfu);
    Qxx.set(dk.hxx);
    atb(dk.fx, Pfx, n, n, n, Qxx, true);
    Qux.set(dk.hux);
    atb(dk.fu, Pfx, n, m, n, Qux, true);
    Quu.set(dk.huu);
    atb(dk.fu, Pfu, n, m, m, Quu, true);
    ab(P, dk.ft, n, n, nt, w);
    for (let i = 0; i < w.length; i++) w[i] += p[i];
    qx.set(dk.hxt);
    atb(dk.fx, w, n, n, nt, qx, true);
    qu.set(dk.hut);
    atb(dk.fu, w, n, m, nt, qu, true);
    // Free rows: Q_uu,FF [K_F | k_F] = −[Q_ux,F | q_u,F].
    let nf = 0;
    for (let j = 0; j < m; j++) if (active[k * m + j] === 0) free[nf++] = j;
    K.fill(0);
    kk.fill(0);
    if (nf > 0) {
      const A = new Float64Array(nf * nf);
      const rhs = new Float64Array(nf * (n + nt));
      for (let a = 0; a < nf; a++) {
        for (let b = 0; b < nf; b++) A[a * nf + b] = Quu[free[a] * m + free[b]];
        for (let j = 0; j < n; j++) rhs[a * (n + nt) + j] = -Qux[free[a] * n + j];
        for (let j = 0; j < nt; j++) rhs[a * (n + nt) + n + j] = -qu[free[a] * nt + j];
      }
      const sol = new Lu(A, nf).solve(rhs, n + nt);
      for (let a = 0; a < nf; a++) {
        for (let j = 0; j < n; j++) K[free[a] * n + j] = sol[a * (n + nt) + j];
        for (let j = 0; j < nt; j++) kk[free[a] * nt + j] = sol[a * (n + nt) + n + j];
      }
    }
    if (full) {
      gains[k].K.set(K);
      gains[k].k.set(kk);
    }
    // P ← Q_xx + Q_uxᵀK (symmetrised), p ← q_x + Q_uxᵀk.
    const Pn = Float64Array.from(Qxx);
    atb(Qux, K, m, n, n, Pn, true);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < i; j++) {
        const v = 0.5 * (Pn[i * n + j] + Pn[j * n + i]);
        Pn[i * n + j] = v;
        Pn[j * n + i] = v;
      }
    const pn = Float64Array.from(qx);
    atb(Qux, kk, m, n, nt, pn, true);
    P = Pn;
    p = pn;
  }
  const out: ControlSensitivity = { du0dTheta: Float64Array.from(kk), du0ds: Float64Array.from(K) };
  if (full) {
    const dU = new Float64Array(N * m * nt);
    let dx = new Float64Array(n * nt);
    for (let k = 0; k < N; k++) {
      const du = new Float64Array(m * nt);
      ab(gains[k].K, dx, m, n, nt, du);
      for (let i = 0; i < du.length; i++) du[i] += gains[k].k[i];
      dU.set(du, k * m * nt);
      const next = Float64Array.from(derivs[k].ft);
      const t1 = new Float64Array(n * nt);
      ab(derivs[k].fx, dx, n, n, nt, t1);
      const t2 = new Float64Array(n * nt);
      ab(derivs[k].fu, du, n, m, nt, t2);
      for (let i = 0; i < next.length; i++) next[i] += t1[i] + t2[i];
      dx = next;
    }
    out.dUdTheta = dU;
  }
  return out;
}
