/**
 * dK/dθ of the continuous example's two inner solvers.
 *
 * - Exact solver: K*(θ) = argmax_K J_θ(K) satisfies ∇_K J = 0, so by the implicit function theorem
 *   dK/dθ = −(∇²_KK J)⁻¹ ∇²_Kθ J   (the bi-level paper's (12) for a linear policy; the policy Hessian and
 *   the critic terms are all inside the exact second derivatives of the closed-form return).
 * - LQR, route 1: differentiate the Riccati fixed point. By the envelope theorem
 *   dP = γ A_cᵀ dP A_c + dQ + Kᵀ dR K + γ (dA − dB K)ᵀ P A_c + γ A_cᵀ P (dA − dB K),  A_c = A − B K,
 *   a discounted Lyapunov (Stein) equation, then
 *   dK = G⁻¹ [γ dBᵀ P A + γ Bᵀ dP A + γ Bᵀ P dA − dG K],  dG = dR + γ (dBᵀ P B + Bᵀ dP B + Bᵀ P dB).
 * - LQR, route 2: the IFT of the quadratic problem's policy gradient (∇_K of −Σγ^t E[sᵀQs + aᵀRa] = 0).
 * Routes 1 and 2 must agree; finite differences of the full solves check everything (tests).
 */
import { expectedReturn } from "../critics/linear-gaussian.ts";
import {
  type LinearGaussianParams,
  type LinearGaussianSystem,
  thetaBlocks,
  thetaSize,
} from "../envs/linear-gaussian.ts";
import type { LqrSolution } from "../inner/lqr.ts";
import { axpby, matmul, solve, steinSolver, transpose } from "../math/dense.ts";
import { Lu } from "../math/linalg.ts";

/** −H⁻¹ X for H (d×d), X (d×c). */
function negSolve(H: Float64Array, X: Float64Array, d: number, c: number): Float64Array {
  const Y = new Lu(H, d).solve(X, c);
  for (let i = 0; i < Y.length; i++) Y[i] = -Y[i];
  return Y;
}

/** dK/dθ ((m·n)×nθ) of the exact solver at its optimum K, by the IFT on exact second derivatives. */
export function exactSolverSensitivity(
  sys: LinearGaussianSystem,
  p: LinearGaussianParams,
  K: ArrayLike<number>,
): Float64Array {
  const r = expectedReturn(sys, p, K, { derivatives: "full" });
  return negSolve(r.hessKK, r.hessKTheta, sys.m * sys.n, thetaSize(sys.n, sys.m));
}

/** dK/dθ of the LQR gain by differentiating the Riccati fixed point (route 1). */
export function lqrRiccatiSensitivity(
  sys: Pick<LinearGaussianSystem, "n" | "m" | "gamma">,
  p: LinearGaussianParams,
  sol: LqrSolution,
): Float64Array {
  const { n, m, gamma } = sys;
  const { A, B } = p;
  const { K, P } = sol;
  const nth = thetaSize(n, m);
  const nK = m * n;
  const blk = thetaBlocks(n, m);
  const Ac = axpby(1, A, -1, matmul(B, K, n, m, n));
  const Bt = transpose(B, n, m);
  const PA = matmul(P, A, n, n, n);
  const PB = matmul(P, B, n, n, m);
  const PAc = matmul(P, Ac, n, n, n);
  const G = axpby(1, p.R, gamma, matmul(Bt, PB, m, n, m));
  const stein = steinSolver(Ac, n, gamma);
  const out = new Float64Array(nK * nth);
  for (let i = 0; i < nth; i++) {
    // Unit perturbation of θ_i.
    const dA = new Float64Array(n * n);
    const dB = new Float64Array(n * m);
    const dQ = new Float64Array(n * n);
    const dR = new Float64Array(m * m);
    if (i < blk.B[0]) dA[i - blk.A[0]] = 1;
    else if (i < blk.Q[0]) dB[i - blk.B[0]] = 1;
    else if (i < blk.R[0]) dQ[(i - blk.Q[0]) * (n + 1)] = 1;
    else dR[(i - blk.R[0]) * (m + 1)] = 1;
    const dAc = axpby(1, dA, -1, matmul(dB, K, n, m, n));
    const cross = matmul(transpose(dAc, n, n), PAc, n, n, n);
    const E = axpby(1, dQ, 1, matmul(transpose(K, m, n), matmul(dR, K, m, m, n), n, m, n));
    for (let r = 0; r < n; r++)
      for (let c = 0; c < n; c++) E[r * n + c] += gamma * (cross[r * n + c] + cross[c * n + r]);
    const dP = stein(E);
    // dG and the bracket of dK.
    const dBt = transpose(dB, n, m);
    const dG = axpby(1, dR, gamma, matmul(dBt, PB, m, n, m));
    const BtdP = matmul(Bt, dP, m, n, n);
    const BtdPB = matmul(BtdP, B, m, n, m);
    const BtPdB = matmul(Bt, matmul(P, dB, n, n, m), m, n, m);
    for (let e = 0; e < m * m; e++) dG[e] += gamma * (BtdPB[e] + BtPdB[e]);
    const rhs = matmul(dBt, PA, m, n, n);
    const t2 = matmul(BtdP, A, m, n, n);
    const t3 = matmul(Bt, matmul(P, dA, n, n, n), m, n, n);
    const dGK = matmul(dG, K, m, m, n);
    for (let e = 0; e < nK; e++) rhs[e] = gamma * (rhs[e] + t2[e] + t3[e]) - dGK[e];
    const dK = solve(G, rhs, m, n);
    for (let e = 0; e < nK; e++) out[e * nth + i] = dK[e];
  }
  return out;
}

/** dK/dθ of the LQR gain by the IFT of the quadratic problem's policy gradient (route 2). */
export function lqrPolicyGradientSensitivity(
  sys: LinearGaussianSystem,
  p: LinearGaussianParams,
  K: ArrayLike<number>,
): Float64Array {
  const r = expectedReturn(sys, p, K, { derivatives: "full", stage: "quadratic" });
  if (!Number.isFinite(r.J)) throw new Error("LQR gain does not stabilise the discounted closed loop");
  return negSolve(r.hessKK, r.hessKTheta, sys.m * sys.n, thetaSize(sys.n, sys.m));
}
