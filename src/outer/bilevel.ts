/**
 * Algorithm 1 of the bi-level paper (Bi-level SPG) on tabular problems: solve the in-sim problem
 * exactly (soft policy iteration), get dφ/dθ (or its product with the real gradient), get the real
 * gradient v = ∂J_real/∂φ, and ascend θ ← θ + α (dφ/dθ)ᵀ v   (9a)–(9b).
 * The core never prints or writes: it reports metrics through `onMetrics` with grouped keys.
 */
import { z } from "zod";
import { evaluatePolicy, softmaxPolicyGradient } from "../critics/tabular.ts";
import { problemSimulator, type TabularProblem, thetaMask } from "../envs/tabular.ts";
import { tieRows } from "../envs/tabular-family.ts";
import { sampleDiscountedStream, sampleTrajectories, TabularRealSystem } from "../envs/tabular-rollout.ts";
import { softPolicyIteration } from "../inner/soft-policy-iteration.ts";
import { norm } from "../math/linalg.ts";
import type { Rng } from "../math/rng.ts";
import { directSensitivity } from "../sensitivity/direct.ts";
import {
  adjointOuterGradient,
  closedFormSensitivity,
  iftSensitivity,
  jacobianTransposeTimes,
  type SensitivityInput,
} from "../sensitivity/tabular-exact.ts";
import { sampledTheorem1 } from "../sensitivity/tabular-sampled.ts";
import { AscentSchema, makeAscent } from "./ascent.ts";
import { type Normalizer, normalizer } from "./normalized-return.ts";
import { objectiveTemperature, reinforceGradient } from "./real-gradient.ts";
import type { ExtraGradient } from "./trace.ts";

export const SENSITIVITY_METHODS = ["exact", "closed-form", "adjoint", "sampled", "paper", "direct"] as const;
export type SensitivityMethod = (typeof SENSITIVITY_METHODS)[number];

export const BilevelConfigSchema = z.object({
  sensitivity: z
    .enum(SENSITIVITY_METHODS)
    .default("exact")
    .describe(
      "How dφ/dθ is obtained: exact (Theorem 1 in matrix form + IFT), closed-form, adjoint (outer gradient only), " +
        "sampled (Theorem 1 from in-sim rollouts with control variates), paper (the sampled estimator as printed: " +
        "no control variates, one undiscounted trajectory), direct (score-function differentiation of the simulation)",
    ),
  realGradient: z
    .enum(["exact", "sampled"])
    .default("exact")
    .describe(
      "Real-world gradient: exact (real MDP known; evaluation only) or sampled (REINFORCE from real rollouts)",
    ),
  realTrajectories: z
    .number()
    .int()
    .positive()
    .default(10)
    .describe("Real trajectories per iteration (sampled)"),
  realHorizon: z.number().int().positive().default(50).describe("Steps per real trajectory (sampled)"),
  simSteps: z.number().int().positive().default(1000).describe("In-sim transitions per sampled sensitivity"),
  ...AscentSchema,
  iterations: z.number().int().nonnegative().default(100).describe("Outer iterations"),
  objective: z
    .enum(["soft", "hard"])
    .default("soft")
    .describe("Real objective: soft (entropy-regularised with the problem's τ) or hard (plain return)"),
  adapt: z
    .enum(["all", "transitions", "rewards"])
    .default("all")
    .describe("Which simulator parameters adapt: all, transition logits only, rewards only"),
  baselineDecay: z
    .number()
    .min(0)
    .max(1)
    .default(0.1)
    .describe("REINFORCE state baseline: b ← (1 − c) b + c · (mean real return-to-go), c = this"),
});
export type BilevelConfig = z.infer<typeof BilevelConfigSchema>;

/** One outer iteration's record (iteration 0 is the starting θ, before any update). */
export interface IterationRecord {
  iteration: number;
  /** Normalised real returns of the current in-sim policy (DESIGN §5). */
  soft: number;
  hard: number;
  /** Real J under the chosen objective. */
  realJ: number;
  /** Real transitions used so far. */
  realTransitions: number;
  theta: Float64Array;
  gradNorm: number;
  innerIterations: number;
  innerResidual: number;
}

export type MetricsCallback = (step: number, metrics: Record<string, number>) => void;

export interface OuterGradientResult {
  grad: Float64Array;
  /** (S·A)×nθ when the method forms it. */
  dPhiDTheta?: Float64Array;
}

/** (dφ/dθ)ᵀ v with the chosen sensitivity method. */
export function outerGradient(
  method: SensitivityMethod,
  inp: SensitivityInput,
  v: ArrayLike<number>,
  nth: number,
  rng: Rng | null,
  simSteps: number,
): OuterGradientResult {
  if (method === "adjoint") return { grad: adjointOuterGradient(inp, v) };
  let J: Float64Array;
  if (method === "exact") J = iftSensitivity(inp);
  else if (method === "closed-form") J = closedFormSensitivity(inp);
  else {
    if (!rng) throw new Error(`sensitivity '${method}' needs a random generator`);
    if (method === "paper") {
      // As printed: one plain trajectory from μ, W accumulated over all of it, no control variates.
      J = sampledTheorem1(inp, sampleTrajectories(inp.sim, inp.pi, 1, simSteps, rng), {
        controlVariates: false,
      });
    } else {
      const stream = sampleDiscountedStream(inp.sim, inp.pi, simSteps, rng);
      J = method === "sampled" ? sampledTheorem1(inp, stream) : directSensitivity(inp, stream);
    }
  }
  return { grad: jacobianTransposeTimes(J, v, nth), dPhiDTheta: J };
}

export interface BilevelRun {
  records: IterationRecord[];
  theta: Float64Array;
}

/**
 * Run Algorithm 1 from θ₀. `rng` drives every random draw (in-sim rollouts, real rollouts) through
 * two independent streams split from it, so changing one budget never shifts the other's draws.
 */
export function runBilevel(
  problem: TabularProblem,
  theta0: ArrayLike<number>,
  config: BilevelConfig,
  rng: Rng,
  onMetrics?: MetricsCallback,
  extraGradient?: ExtraGradient,
): BilevelRun {
  const { S, A, temperature: tau } = problem;
  const nth = theta0.length;
  // A tied family (tabular-family.ts) lives on the subspace where tied rows are equal.
  const theta = tieRows(Float64Array.from(theta0), problem);
  const mask = thetaMask(S, A, config.adapt);
  const simRng = rng.split();
  const realRng = rng.split();
  const realSystem = new TabularRealSystem(problem.real);
  const norm01: Normalizer = normalizer(problem);
  const tauObj = objectiveTemperature(config.objective, tau);
  const records: IterationRecord[] = [];
  let baseline: Float64Array | null = null;
  let phi: Float64Array | undefined;
  const step = makeAscent(config.optimizer, config.stepSize, config.stepDecay, theta);
  for (let it = 0; ; it++) {
    const sim = problemSimulator(problem, theta);
    const sol = softPolicyIteration(sim, tau, { initPhi: phi });
    phi = sol.phi;
    const scores = norm01.scores(sol.pi, sol.logPi);
    const record: IterationRecord = {
      iteration: it,
      soft: scores.soft,
      hard: scores.hard,
      realJ: config.objective === "soft" ? scores.softJ : scores.hardJ,
      realTransitions: realSystem.transitionsUsed,
      theta: Float64Array.from(theta),
      gradNorm: Number.NaN,
      innerIterations: sol.iterations,
      innerResidual: sol.residual,
    };
    records.push(record);
    if (it === config.iterations) {
      emit(onMetrics, record);
      break;
    }
    // Real gradient v = ∂J_real/∂φ.
    let v: Float64Array;
    if (config.realGradient === "exact") {
      // The real policy was just evaluated for the scores: reuse it (same objective, same policy).
      v = softmaxPolicyGradient(
        problem.real,
        sol.pi,
        config.objective === "soft" ? scores.softEval : scores.hardEval,
      );
    } else {
      if (baseline === null) baseline = Float64Array.from(evaluatePolicy(sim, sol.pi, sol.logPi, tauObj).V);
      const batch = realSystem.rollout(sol.pi, config.realTrajectories, config.realHorizon, realRng);
      const est = reinforceGradient(batch, S, A, problem.gamma, sol.pi, sol.logPi, tauObj, baseline);
      v = est.v;
      const c = config.baselineDecay;
      for (let s = 0; s < S; s++)
        if (est.visits[s] > 0) baseline[s] = (1 - c) * baseline[s] + c * est.meanReturn[s];
    }
    const inp: SensitivityInput = { sim, pi: sol.pi, logPi: sol.logPi, tau, evaluation: sol.evaluation };
    const { grad } = outerGradient(config.sensitivity, inp, v, nth, simRng, config.simSteps);
    if (extraGradient) {
      const extra = extraGradient(theta);
      for (let i = 0; i < nth; i++) grad[i] += extra[i];
    }
    for (let i = 0; i < nth; i++) grad[i] *= mask[i];
    tieRows(grad, problem);
    record.gradNorm = norm(grad);
    record.realTransitions = realSystem.transitionsUsed;
    emit(onMetrics, record);
    step(grad, it);
  }
  return { records, theta };
}

function emit(cb: MetricsCallback | undefined, r: IterationRecord) {
  if (!cb) return;
  cb(r.iteration, {
    "real/softNormalized": r.soft,
    "real/hardNormalized": r.hard,
    "real/J": r.realJ,
    "real/transitions": r.realTransitions,
    "outer/gradNorm": r.gradNorm,
    "inner/iterations": r.innerIterations,
    "inner/residual": r.innerResidual,
  });
}
