/**
 * Tabular softmax policy π_φ(a|s) = softmax(φ_s)_a with its score and Hessian.
 * ∇_φ log π(a|s) = e_{s,a} − π(·|s) on block s; ∇²_φ log π(a|s) = −(diag π_s − π_s π_sᵀ), the same for every a.
 * Logits are gauge-invariant per state (DESIGN §4.3): only centred logits are meaningful.
 */
import { logSoftmaxRows } from "../math/softmax.ts";

export interface TabularPolicy {
  readonly S: number;
  readonly A: number;
  readonly logPi: Float64Array;
  readonly pi: Float64Array;
}

export function softmaxPolicy(phi: ArrayLike<number>, S: number, A: number): TabularPolicy {
  const logPi = logSoftmaxRows(phi, A);
  const pi = new Float64Array(S * A);
  for (let i = 0; i < S * A; i++) pi[i] = Math.exp(logPi[i]);
  return { S, A, logPi, pi };
}

export function uniformPolicy(S: number, A: number): TabularPolicy {
  return softmaxPolicy(new Float64Array(S * A), S, A);
}
