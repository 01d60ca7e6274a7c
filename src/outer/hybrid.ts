/**
 * Hybrid outer method (issue 5): system identification first (a fixed number of real transitions), then
 * bi-level adaptation from the fitted θ with the sampled real gradient. The identification gets the
 * simulator close cheaply where the model class is right (DESIGN §4.8); the bi-level phase then corrects what
 * model accuracy cannot (surrogate inner solver, misspecification). Optionally the outer gradient gets
 *   + w · ∇_θ log L(data) / N_data
 * through the `extraGradient` hook: the likelihood term of the bi-level paper's (5), which keeps θ close to
 * the recorded data among simulators whose policies are equally good. The data are the identification
 * phase's transitions (the bi-level phase's real rollouts stay inside runBilevel).
 * Scale of w: per transition the term's curvature is N(s,a)-weighted softmax covariances (tabular, ≤ 1) or
 * E[x xᵀ]/σ² with x = [s; a] (linear-Gaussian: ≈ 14 at paper-continuous after identification, far more if
 * the data hold exploding early trajectories), and plain ascent needs w·α·curvature < 2 to stay stable.
 *
 * One MethodRun: the bi-level phase's points continue both the iteration and the real-transition counts.
 */
import { z } from "zod";
import type { LinearGaussianProblem } from "../envs/linear-gaussian.ts";
import type { TabularProblem } from "../envs/tabular.ts";
import type { Rng } from "../math/rng.ts";
import { BilevelConfigSchema, runBilevel } from "./bilevel.ts";
import { LinearBilevelConfigSchema, realOptimum, runLinearBilevel } from "./bilevel-linear-gaussian.ts";
import {
  linearPairCount,
  logLikelihoodGradLinear,
  logLikelihoodGradTabular,
  runSysIdLinear,
  runSysIdTabular,
  SysIdConfigSchema,
} from "./system-identification.ts";
import type { EvalCallback, EvalPoint, ExtraGradient, MethodRun } from "./trace.ts";

/** The identification phase's settings; its budget, objective and inner solver come from the hybrid. */
const HybridSysIdSchema = SysIdConfigSchema.omit({ budget: true, objective: true, inner: true });

const hybridCommon = {
  sysidTransitions: z
    .number()
    .int()
    .nonnegative()
    .default(200)
    .describe("Real transitions spent on system identification before the bi-level phase"),
  sysid: HybridSysIdSchema.default(HybridSysIdSchema.parse({})).describe(
    "System-identification settings (batch shape, exploration, priors, reward known/fitted)",
  ),
  likelihoodWeight: z
    .number()
    .nonnegative()
    .default(0)
    .describe(
      "w of the likelihood term w·∇_θ log L(data)/N_data added to the outer gradient (the paper's (5)); 0 = off",
    ),
};

const TabularBilevelPart = BilevelConfigSchema.omit({ realGradient: true });
export const HybridTabularConfigSchema = z.object({
  ...hybridCommon,
  bilevel: TabularBilevelPart.default(TabularBilevelPart.parse({})).describe(
    "Bi-level phase settings (real gradient always sampled: the phase's real transitions are counted)",
  ),
});
export type HybridTabularConfig = z.infer<typeof HybridTabularConfigSchema>;

const LinearBilevelPart = LinearBilevelConfigSchema.omit({ realGradient: true });
export const HybridLinearConfigSchema = z.object({
  ...hybridCommon,
  bilevel: LinearBilevelPart.default(LinearBilevelPart.parse({})).describe(
    "Bi-level phase settings (real gradient always sampled); its inner solver also serves the identification phase",
  ),
});
export type HybridLinearConfig = z.infer<typeof HybridLinearConfigSchema>;

export interface HybridRun extends MethodRun {
  /** Index in `points` of the first bi-level-phase point. */
  bilevelStart: number;
}

/** g ↦ (w/N)·g, or no hook when the term is off or there are no data. */
function likelihoodHook(w: number, nData: number, grad: (theta: Float64Array) => Float64Array) {
  if (!(w > 0) || nData === 0) return undefined;
  const c = w / nData;
  const hook: ExtraGradient = (theta) => grad(theta).map((g) => c * g);
  return hook;
}

/**
 * Bi-level records → EvalPoints after the identification phase. Record i is the policy at θ_i; runBilevel
 * counts into record i the batch drawn *at* iteration i (to move to θ_{i+1}), so the data behind θ_i are
 * record i − 1's count. Record 0 (θ_0 = the fit) repeats the identification phase's last point and is dropped.
 */
function appendBilevel(
  points: EvalPoint[],
  records: readonly { realTransitions: number; theta: Float64Array }[],
  score: (i: number) => number,
  onEval?: EvalCallback,
): void {
  const last = points[points.length - 1];
  for (let i = 1; i < records.length; i++) {
    const p: EvalPoint = {
      iteration: last.iteration + i,
      realTransitions: last.realTransitions + records[i - 1].realTransitions,
      normalized: score(i),
      theta: Float64Array.from(records[i].theta),
    };
    points.push(p);
    onEval?.(p);
  }
}

/** Tabular hybrid. Identification-phase points are reported as they come, bi-level ones when that phase ends. */
export function runHybridTabular(
  problem: TabularProblem,
  config: HybridTabularConfig,
  rng: Rng,
  onEval?: EvalCallback,
): HybridRun {
  const { S, A } = problem;
  const sysRng = rng.split();
  const biRng = rng.split();
  const sysCfg = SysIdConfigSchema.parse({
    ...config.sysid,
    budget: config.sysidTransitions,
    objective: config.bilevel.objective,
  });
  const sys = runSysIdTabular(problem, sysCfg, sysRng, onEval);
  const counts = sys.data.counts;
  const nData = counts.reduce((a, b) => a + b, 0);
  const extra = likelihoodHook(config.likelihoodWeight, nData, (th) =>
    logLikelihoodGradTabular(counts, th, S, A),
  );
  const bi = runBilevel(
    problem,
    sys.theta,
    { ...config.bilevel, realGradient: "sampled" },
    biRng,
    undefined,
    extra,
  );
  const points = [...sys.points];
  const bilevelStart = points.length;
  const soft = config.bilevel.objective === "soft";
  appendBilevel(points, bi.records, (i) => (soft ? bi.records[i].soft : bi.records[i].hard), onEval);
  return { points, theta: bi.theta, bilevelStart };
}

/** Linear-Gaussian hybrid (the bi-level phase's inner solver is also the identification phase's). */
export function runHybridLinear(
  problem: LinearGaussianProblem,
  config: HybridLinearConfig,
  rng: Rng,
  onEval?: EvalCallback,
  optimum = realOptimum(problem),
): HybridRun {
  const sysRng = rng.split();
  const biRng = rng.split();
  const sysCfg = SysIdConfigSchema.parse({
    ...config.sysid,
    budget: config.sysidTransitions,
    inner: config.bilevel.inner,
  });
  const sys = runSysIdLinear(problem, sysCfg, sysRng, onEval, optimum);
  const batches = sys.batches;
  const extra = likelihoodHook(config.likelihoodWeight, linearPairCount(batches), (th) =>
    logLikelihoodGradLinear(problem, batches, th),
  );
  const bi = runLinearBilevel(
    problem,
    sys.theta,
    { ...config.bilevel, realGradient: "sampled" },
    biRng,
    undefined,
    optimum,
    extra,
  );
  const points = [...sys.points];
  const bilevelStart = points.length;
  appendBilevel(points, bi.records, (i) => bi.records[i].normalized, onEval);
  return { points, theta: bi.theta, bilevelStart };
}
