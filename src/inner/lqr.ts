/**
 * Discounted LQR: the in-sim solver that answers the *quadratic-reward* problem
 *   min_K Σ_t γ^t E[sᵀQ s + aᵀR a],  s⁺ = A s + B a + ε,
 * i.e. LQR on −log R_θ/λ. With the paper's exponential reward this is a different problem from the one
 * the simulator poses (DESIGN §4.7): the gap between the two is the objective mismatch that bi-level
 * adaptation fixes.
 *
 * Correct discounted Riccati equation (the paper's appendix misses the Kᵀ R K term and the γ in K):
 *   P = Q + γ AᵀP A − γ² AᵀP B (R + γ BᵀP B)⁻¹ BᵀP A,    K = γ (R + γ BᵀP B)⁻¹ BᵀP A.
 * Scalar: P = q + γ s²P − (γ s a P)²/(r + γ a²P), K = γ a s P/(r + γ a²P).
 * By certainty equivalence K depends neither on the noise nor on the policy's exploration covariance.
 */
import type { LinearGaussianParams } from "../envs/linear-gaussian.ts";
import { axpby, matmul, maxAbsDiff, solve, transpose } from "../math/dense.ts";

/** The simulator at this θ has no discounted-stabilising gain: the LQR problem has no finite solution. */
export class InnerSolveError extends Error {
  override readonly name = "InnerSolveError";
}

export interface LqrSolution {
  K: Float64Array;
  P: Float64Array;
  iterations: number;
  /** max |P − Riccati(P)| at the returned P. */
  residual: number;
}

/** One application of the Riccati map; also returns the gain it implies and G = R + γ BᵀP B. */
export function riccatiMap(
  n: number,
  m: number,
  gamma: number,
  p: LinearGaussianParams,
  P: ArrayLike<number>,
): { next: Float64Array; K: Float64Array; G: Float64Array } {
  const { A, B, Q, R } = p;
  const At = transpose(A, n, n);
  const Bt = transpose(B, n, m);
  const PA = matmul(P, A, n, n, n);
  const PB = matmul(P, B, n, n, m);
  const G = axpby(1, R, gamma, matmul(Bt, PB, m, n, m));
  const BtPA = matmul(Bt, PA, m, n, n);
  const K = solve(G, BtPA, m, n);
  for (let i = 0; i < K.length; i++) K[i] *= gamma;
  // P⁺ = Q + γ AᵀP A − γ AᵀP B K   (γ² AᵀPB G⁻¹ BᵀPA = γ AᵀPB K)
  const AtPA = matmul(At, PA, n, n, n);
  const AtPBK = matmul(matmul(At, PB, n, n, m), K, n, m, n);
  const next = new Float64Array(n * n);
  for (let i = 0; i < n * n; i++) next[i] = Q[i] + gamma * AtPA[i] - gamma * AtPBK[i];
  return { next, K, G };
}

/** Iterate the Riccati map from P = Q to its fixed point (relative change ≤ tol). */
export function discountedLqr(
  n: number,
  m: number,
  gamma: number,
  p: LinearGaussianParams,
  opts: { tol?: number; maxIterations?: number } = {},
): LqrSolution {
  const tol = opts.tol ?? 1e-15;
  const maxIt = opts.maxIterations ?? 100_000;
  let P: Float64Array = Float64Array.from(p.Q);
  let it = 0;
  const diverged = () =>
    new InnerSolveError(
      "discounted Riccati iteration diverged: (A, B) has no discounted-stabilising gain at this θ",
    );
  for (; it < maxIt; it++) {
    let next: Float64Array;
    try {
      next = riccatiMap(n, m, gamma, p, P).next;
    } catch {
      throw diverged(); // R + γBᵀPB singular: P overflowed
    }
    const scale = Math.max(1, ...Array.from(next, Math.abs));
    const change = maxAbsDiff(next, P);
    P = next;
    if (!Number.isFinite(change) || scale > 1e150) throw diverged();
    if (change <= tol * scale) break;
  }
  // Symmetrise (rounding) and take the gain of the final P.
  for (let i = 0; i < n; i++)
    for (let j = 0; j < i; j++) {
      const v = 0.5 * (P[i * n + j] + P[j * n + i]);
      P[i * n + j] = v;
      P[j * n + i] = v;
    }
  const fin = riccatiMap(n, m, gamma, p, P);
  return { K: fin.K, P, iterations: it + 1, residual: maxAbsDiff(fin.next, P) };
}
