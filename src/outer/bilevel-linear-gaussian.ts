/**
 * Algorithm 1 of the bi-level paper on linear-Gaussian problems (§5 "Continuous MDP"): solve the in-sim
 * problem for the gain K (exact maximiser of the simulator's return, or LQR on its quadratic surrogate),
 * get dK/dθ, get the real gradient ∂J_real/∂K (exact or REINFORCE from real rollouts), and ascend
 *   θ ← θ + α (dK/dθ)ᵀ ∂J_real/∂K,     (9a)–(9b)
 * then project θ onto its lower bounds (θ_a, θ_q, θ_r ≥ 1e−3 in the paper's example).
 * The core never prints or writes: metrics go through `onMetrics` with grouped keys.
 */
import { z } from "zod";
import { expectedReturn } from "../critics/linear-gaussian.ts";
import { type LinearGaussianProblem, problemParams, thetaBlocks } from "../envs/linear-gaussian.ts";
import { LinearGaussianRealSystem } from "../envs/linear-gaussian-rollout.ts";
import type { RealTransitionLog } from "../envs/real-log.ts";
import { maximizeExpectedReturn } from "../inner/linear-gaussian-exact.ts";
import { discountedLqr, InnerSolveError } from "../inner/lqr.ts";
import { norm } from "../math/linalg.ts";
import type { Rng } from "../math/rng.ts";
import { LinearGaussianPolicy } from "../policies/linear-gaussian.ts";
import {
  exactSolverSensitivity,
  lqrPolicyGradientSensitivity,
  lqrRiccatiSensitivity,
} from "../sensitivity/linear-gaussian.ts";
import { AscentSchema, makeAscent, projectLower } from "./ascent.ts";
import type { MetricsCallback } from "./bilevel.ts";
import { reinforceGradientK } from "./linear-real-gradient.ts";
import type { ExtraGradient } from "./trace.ts";

export const LINEAR_INNER_SOLVERS = ["exact", "lqr"] as const;
export type LinearInnerSolver = (typeof LINEAR_INNER_SOLVERS)[number];

export const LinearBilevelConfigSchema = z.object({
  inner: z
    .enum(LINEAR_INNER_SOLVERS)
    .default("lqr")
    .describe(
      "In-sim solver: exact (maximise the simulator's exponential-reward return over K) or lqr (discounted Riccati on the quadratic surrogate −log R/λ)",
    ),
  lqrSensitivity: z
    .enum(["riccati", "policy-gradient"])
    .default("riccati")
    .describe(
      "dK/dθ of the LQR gain: riccati (differentiate the Riccati fixed point) or policy-gradient (IFT of the quadratic problem's policy gradient); they agree to rounding",
    ),
  exactSearch: z
    .enum(["every", "first"])
    .default("every")
    .describe(
      "Exact solver: global candidate search at every outer iteration, or only at the first (then Newton warm-started from the previous K)",
    ),
  realGradient: z
    .enum(["exact", "sampled"])
    .default("exact")
    .describe("Real-world gradient ∂J_real/∂K: exact (real system known; evaluation) or sampled (REINFORCE)"),
  realTrajectories: z
    .number()
    .int()
    .positive()
    .default(100)
    .describe("Real trajectories per iteration (sampled)"),
  realHorizon: z.number().int().positive().default(40).describe("Steps per real trajectory (sampled)"),
  ...AscentSchema,
  iterations: z.number().int().nonnegative().default(200).describe("Outer iterations"),
  adapt: z
    .enum(["all", "dynamics", "reward"])
    .default("all")
    .describe("Which simulator parameters adapt: all, dynamics (A, B) only, reward (Q, R) only"),
});
export type LinearBilevelConfig = z.infer<typeof LinearBilevelConfigSchema>;

export interface LinearIterationRecord {
  iteration: number;
  /** J_real(K) / J_real(K*_real). */
  normalized: number;
  realJ: number;
  realTransitions: number;
  theta: Float64Array;
  K: Float64Array;
  gradNorm: number;
  /** ‖∇_K J_sim‖ (exact solver) or the Riccati residual (LQR): how converged the inner solve is. */
  innerResidual: number;
  /** Halvings of the previous outer step needed to reach a θ whose inner problem has a solution. */
  backtracks: number;
}

export interface InnerResult {
  K: Float64Array;
  /** dK/dθ, (m·n)×nθ. */
  dKdTheta: Float64Array;
  residual: number;
}

/** The in-sim solve and its sensitivity at θ. */
export function innerSolve(
  problem: LinearGaussianProblem,
  theta: ArrayLike<number>,
  config: Pick<LinearBilevelConfig, "inner" | "lqrSensitivity">,
  opts: { initK?: ArrayLike<number>; search?: "global" | "local" } = {},
): InnerResult {
  const p = problemParams(problem, theta);
  if (config.inner === "exact") {
    const sol = maximizeExpectedReturn(problem, p, { initK: opts.initK, search: opts.search });
    return { K: sol.K, dKdTheta: exactSolverSensitivity(problem, p, sol.K), residual: sol.gradNorm };
  }
  const sol = discountedLqr(problem.n, problem.m, problem.gamma, p);
  const dKdTheta =
    config.lqrSensitivity === "riccati"
      ? lqrRiccatiSensitivity(problem, p, sol)
      : lqrPolicyGradientSensitivity(problem, p, sol.K);
  return { K: sol.K, dKdTheta, residual: sol.residual };
}

/** The real optimum K*_real and J* (the normaliser of DESIGN §5 for this family). */
export function realOptimum(problem: LinearGaussianProblem): { K: Float64Array; J: number } {
  const sol = maximizeExpectedReturn(problem, problem.real);
  return { K: sol.K, J: sol.J };
}

/** Mask of the adapted θ entries. */
export function linearThetaMask(
  problem: LinearGaussianProblem,
  adapt: LinearBilevelConfig["adapt"],
): Float64Array {
  const { n, m } = problem;
  const blk = thetaBlocks(n, m);
  const mask = new Float64Array(blk.R[1]);
  for (let i = 0; i < mask.length; i++) {
    const dyn = i < blk.Q[0];
    mask[i] = adapt === "all" || (adapt === "dynamics" && dyn) || (adapt === "reward" && !dyn) ? 1 : 0;
  }
  return mask;
}

export interface LinearBilevelRun {
  records: LinearIterationRecord[];
  theta: Float64Array;
}

export function runLinearBilevel(
  problem: LinearGaussianProblem,
  theta0: ArrayLike<number>,
  config: LinearBilevelConfig,
  rng: Rng,
  onMetrics?: MetricsCallback,
  optimum = realOptimum(problem),
  extraGradient?: ExtraGradient,
  /** Every real transition is committed here before it is used. */
  realLog?: RealTransitionLog,
): LinearBilevelRun {
  const { n, m, gamma } = problem;
  const nK = n * m;
  const theta = Float64Array.from(theta0);
  const nth = theta.length;
  const mask = linearThetaMask(problem, config.adapt);
  const realRng = rng.split();
  const realSystem = new LinearGaussianRealSystem(problem, problem.real, realLog);
  const step = makeAscent(config.optimizer, config.stepSize, config.stepDecay, theta);
  const records: LinearIterationRecord[] = [];
  const solve = (prevK?: Float64Array) =>
    innerSolve(problem, theta, config, {
      initK: prevK,
      search: config.exactSearch === "first" && prevK ? "local" : "global",
    });
  let inner = solve();
  let backtracks = 0;
  for (let it = 0; ; it++) {
    const realEval = expectedReturn(problem, problem.real, inner.K, {
      derivatives: config.realGradient === "exact" ? "gradK" : "value",
    });
    const record: LinearIterationRecord = {
      iteration: it,
      normalized: realEval.J / optimum.J,
      realJ: realEval.J,
      realTransitions: realSystem.transitionsUsed,
      theta: Float64Array.from(theta),
      K: Float64Array.from(inner.K),
      gradNorm: Number.NaN,
      innerResidual: inner.residual,
      backtracks,
    };
    records.push(record);
    if (it === config.iterations) {
      emit(onMetrics, record);
      break;
    }
    let v: Float64Array;
    if (config.realGradient === "exact") v = realEval.gradK;
    else {
      const policy = new LinearGaussianPolicy(inner.K, problem.policyCov, n, m);
      const batch = realSystem.rollout(policy, config.realTrajectories, config.realHorizon, realRng);
      v = reinforceGradientK(batch, policy, gamma).grad;
    }
    // (dK/dθ)ᵀ v, masked.
    const grad = new Float64Array(nth);
    for (let e = 0; e < nK; e++) for (let i = 0; i < nth; i++) grad[i] += inner.dKdTheta[e * nth + i] * v[e];
    if (extraGradient) {
      const extra = extraGradient(theta);
      for (let i = 0; i < nth; i++) grad[i] += extra[i];
    }
    for (let i = 0; i < nth; i++) grad[i] *= mask[i];
    record.gradNorm = norm(grad);
    record.realTransitions = realSystem.transitionsUsed;
    emit(onMetrics, record);
    const prev = Float64Array.from(theta);
    step(grad, it);
    projectLower(theta, problem.lower);
    // A noisy step can leave the region where the inner problem has a solution (LQR needs a
    // discounted-stabilisable (A, B)): shrink the step towards the previous θ until it has one.
    const proposed = Float64Array.from(theta);
    backtracks = 0;
    for (;;) {
      try {
        inner = solve(inner.K);
        break;
      } catch (e) {
        if (!(e instanceof InnerSolveError) || backtracks >= 40) throw e;
        backtracks++;
        const f = 0.5 ** backtracks;
        for (let i = 0; i < nth; i++) theta[i] = prev[i] + f * (proposed[i] - prev[i]);
      }
    }
  }
  return { records, theta };
}

function emit(cb: MetricsCallback | undefined, r: LinearIterationRecord) {
  if (!cb) return;
  const m: Record<string, number> = {
    "real/normalized": r.normalized,
    "real/J": r.realJ,
    "real/transitions": r.realTransitions,
    "outer/gradNorm": r.gradNorm,
    "inner/residual": r.innerResidual,
    "outer/backtracks": r.backtracks,
  };
  r.K.forEach((k, i) => {
    m[`inner/K${i}`] = k;
  });
  r.theta.forEach((t, i) => {
    m[`theta/${i}`] = t;
  });
  cb(r.iteration, m);
}
