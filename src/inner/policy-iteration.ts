/**
 * Classical (hard, τ = 0) policy iteration: the optimum of the plain return, used for the "hard"
 * normalised return J(π*) of DESIGN §5. Ties are broken towards the lower action index.
 */
import { evaluatePolicy, type PolicyEvaluation } from "../critics/tabular.ts";
import type { TabularMDP } from "../envs/tabular.ts";

export interface HardPIResult {
  /** Deterministic policy as a 0/1 table (S×A). */
  readonly pi: Float64Array;
  readonly actions: Int32Array;
  readonly evaluation: PolicyEvaluation;
  readonly iterations: number;
}

export function policyIteration(mdp: TabularMDP, maxIter = 1000): HardPIResult {
  const { S, A } = mdp;
  const actions = new Int32Array(S);
  const zeros = new Float64Array(S * A);
  let pi = new Float64Array(S * A);
  for (let s = 0; s < S; s++) pi[s * A] = 1;
  let evaluation = evaluatePolicy(mdp, pi, zeros, 0);
  let it = 0;
  for (; it < maxIter; it++) {
    let changed = false;
    for (let s = 0; s < S; s++) {
      let best = actions[s];
      for (let a = 0; a < A; a++) {
        // Switch only on a strict improvement beyond rounding, so the loop terminates.
        const margin = 1e-12 * Math.max(1, Math.abs(evaluation.Qt[s * A + best]));
        if (evaluation.Qt[s * A + a] > evaluation.Qt[s * A + best] + margin) best = a;
      }
      if (best !== actions[s]) {
        actions[s] = best;
        changed = true;
      }
    }
    if (!changed) break;
    pi = new Float64Array(S * A);
    for (let s = 0; s < S; s++) pi[s * A + actions[s]] = 1;
    evaluation = evaluatePolicy(mdp, pi, zeros, 0);
  }
  return { pi, actions, evaluation, iterations: it };
}
