/**
 * Normalised real return (DESIGN §5): (J(π) − J(uniform)) / (J(π*) − J(uniform)) on the real system,
 * π* the optimum of the same objective — "soft": entropy-regularised with the problem's τ (π* by soft
 * policy iteration), "hard": the plain return (π* by policy iteration).
 */
import { evaluatePolicy, type PolicyEvaluation } from "../critics/tabular.ts";
import type { TabularProblem } from "../envs/tabular.ts";
import { policyIteration } from "../inner/policy-iteration.ts";
import { softPolicyIteration } from "../inner/soft-policy-iteration.ts";
import { uniformPolicy } from "../policies/tabular-softmax.ts";

export interface Normalizer {
  readonly softOptimum: number;
  readonly softUniform: number;
  readonly hardOptimum: number;
  readonly hardUniform: number;
  scores(
    pi: Float64Array,
    logPi: Float64Array,
  ): {
    soft: number;
    hard: number;
    softJ: number;
    hardJ: number;
    softEval: PolicyEvaluation;
    hardEval: PolicyEvaluation;
  };
}

export function normalizer(problem: TabularProblem): Normalizer {
  const { real, temperature: tau, S, A } = problem;
  const u = uniformPolicy(S, A);
  const softOptimum = softPolicyIteration(real, tau).evaluation.J;
  const softUniform = evaluatePolicy(real, u.pi, u.logPi, tau).J;
  const hardOptimum = policyIteration(real).evaluation.J;
  const hardUniform = evaluatePolicy(real, u.pi, u.logPi, 0).J;
  const ratio = (j: number, opt: number, uni: number) =>
    opt === uni ? (j >= opt ? 1 : 0) : (j - uni) / (opt - uni);
  return {
    softOptimum,
    softUniform,
    hardOptimum,
    hardUniform,
    scores(pi, logPi) {
      const softEval = evaluatePolicy(real, pi, logPi, tau);
      const hardEval = evaluatePolicy(real, pi, logPi, 0);
      const softJ = softEval.J;
      const hardJ = hardEval.J;
      return {
        softEval,
        hardEval,
        soft: ratio(softJ, softOptimum, softUniform),
        hard: ratio(hardJ, hardOptimum, hardUniform),
        softJ,
        hardJ,
      };
    },
  };
}
