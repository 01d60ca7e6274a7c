/**
 * Named, versioned linear-Gaussian experiments (the bi-level paper's continuous example and a 2-D
 * variant): a problem, seeded trials from a random θ, one trial per inner solver and seed (both solvers
 * start from the same θ for a given seed), and a bi-level configuration. One zod schema, defaults documented.
 */
import { z } from "zod";
import { InputError } from "../common/errors.ts";
import { type LinearGaussianProblem, thetaFromParams } from "../envs/linear-gaussian.ts";
import type { RealTransitionLog } from "../envs/real-log.ts";
import { Rng } from "../math/rng.ts";
import type { MetricsCallback } from "../outer/bilevel.ts";
import {
  LINEAR_INNER_SOLVERS,
  LinearBilevelConfigSchema,
  type LinearInnerSolver,
  type LinearIterationRecord,
  realOptimum,
  runLinearBilevel,
} from "../outer/bilevel-linear-gaussian.ts";
import { doubleIntegratorProblem, paperContinuousProblem } from "./problems.ts";
import { experimentFields, type NamedExperiment, resolveSpec } from "./resolve.ts";

export const LinearExperimentSchema = z.object({
  ...experimentFields,
  trials: experimentFields.trials.describe("Independent trials per inner solver"),
  inners: z
    .array(z.enum(LINEAR_INNER_SOLVERS))
    .min(1)
    .default(["exact", "lqr"])
    .describe("Inner solvers to run (each gets the same trials)"),
  initFrom: z
    .enum(["uniform", "real", "simulator"])
    .default("uniform")
    .describe(
      "Initial θ: uniform on [initLow, initHigh]^nθ, or the real / simulator θ plus N(0, initNoise²)",
    ),
  initLow: z.number().default(0).describe("Lower end of the uniform initial θ"),
  initHigh: z.number().default(1).describe("Upper end of the uniform initial θ"),
  initNoise: z
    .number()
    .nonnegative()
    .default(0)
    .describe("Std of the Gaussian noise added to the real/simulator θ"),
  bilevel: LinearBilevelConfigSchema.omit({ inner: true }).default(
    LinearBilevelConfigSchema.omit({ inner: true }).parse({}),
  ),
});
export type LinearExperiment = z.infer<typeof LinearExperimentSchema>;

export const LINEAR_EXPERIMENTS: Record<
  string,
  NamedExperiment<typeof LinearExperimentSchema, LinearGaussianProblem>
> = {
  "paper-continuous": {
    description:
      "Bi-level paper §5 continuous example (scalar linear-Gaussian, exponential reward), exact and LQR inner solvers, exact real gradient, step 0.1, 5 trials from θ ~ U(0, 1)⁴",
    problem: paperContinuousProblem,
    spec: { experiment: "paper-continuous" },
  },
  "paper-continuous-sampled": {
    description:
      "Same with REINFORCE real gradients from 100 × 40 real steps per iteration (cross-fitted baseline), step 0.1 decaying as 1/(1 + t/20)",
    problem: paperContinuousProblem,
    spec: { experiment: "paper-continuous-sampled", bilevel: { realGradient: "sampled", stepDecay: 20 } },
  },
  "double-integrator": {
    description:
      "2-D noisy double integrator (n = 2, m = 1) through the same n-dimensional code: LQR on the accurate simulator reaches 0.958; 3 trials from θ_real + N(0, 0.05²), exact real gradient, Adam 0.02",
    problem: doubleIntegratorProblem,
    spec: {
      experiment: "double-integrator",
      trials: 3,
      initFrom: "real",
      initNoise: 0.05,
      bilevel: { iterations: 100, optimizer: "adam", stepSize: 0.02, exactSearch: "first" },
    },
  },
};

export function linearExperimentNames(): string[] {
  return Object.keys(LINEAR_EXPERIMENTS);
}

export function resolveLinearExperiment(
  name: string,
  overrides: {
    trials?: number;
    seed?: number;
    inners?: LinearInnerSolver[];
    bilevel?: Record<string, unknown>;
  } = {},
  /** A config file's contents (between the named spec and the overrides). */
  file?: unknown,
): { spec: LinearExperiment; problem: LinearGaussianProblem } {
  const named = LINEAR_EXPERIMENTS[name];
  if (!named) throw new InputError(`unknown experiment '${name}'`, "experiment");
  return {
    spec: resolveSpec(LinearExperimentSchema, name, named.spec, overrides, file),
    problem: named.problem(),
  };
}

export interface LinearTrialResult {
  seed: number;
  inner: LinearInnerSolver;
  theta0: Float64Array;
  records: LinearIterationRecord[];
}

export interface LinearTrialSummary {
  seed: number;
  inner: LinearInnerSolver;
  final: { normalized: number; theta: number[]; K: number[] };
  itersTo: { "0.99": number | null; "0.999": number | null };
  realTransitions: number;
}

/** θ₀ of trial k (the same for every inner solver). */
export function initialTheta(
  spec: LinearExperiment,
  problem: LinearGaussianProblem,
  k: number,
): Float64Array {
  const init = Rng.fromSeed(spec.seed + k).split();
  const { n, m } = problem;
  if (spec.initFrom === "uniform") {
    const th = thetaFromParams(n, m, problem.real);
    return th.map(() => spec.initLow + (spec.initHigh - spec.initLow) * init.uniform());
  }
  const centre = thetaFromParams(n, m, spec.initFrom === "real" ? problem.real : problem.simulator);
  const th = centre.map((c) => c + spec.initNoise * init.normal());
  for (let i = 0; i < th.length; i++) th[i] = Math.max(th[i], problem.lower[i]);
  return th;
}

export function runLinearTrial(
  spec: LinearExperiment,
  problem: LinearGaussianProblem,
  inner: LinearInnerSolver,
  k: number,
  optimum: { K: Float64Array; J: number },
  onMetrics?: MetricsCallback,
  realLog?: RealTransitionLog,
): LinearTrialResult {
  const seed = spec.seed + k;
  const theta0 = initialTheta(spec, problem, k);
  // The root generator's first split made θ₀; the run takes the following streams.
  const rng = Rng.fromSeed(seed);
  rng.split();
  const run = runLinearBilevel(
    problem,
    theta0,
    { ...spec.bilevel, inner },
    rng,
    onMetrics,
    optimum,
    undefined,
    realLog,
  );
  return { seed, inner, theta0, records: run.records };
}

export function summarizeLinearTrial(t: LinearTrialResult): LinearTrialSummary {
  const first = (thr: number) => t.records.find((r) => r.normalized >= thr)?.iteration ?? null;
  const last = t.records[t.records.length - 1];
  return {
    seed: t.seed,
    inner: t.inner,
    final: { normalized: last.normalized, theta: Array.from(last.theta), K: Array.from(last.K) },
    itersTo: { "0.99": first(0.99), "0.999": first(0.999) },
    realTransitions: last.realTransitions,
  };
}

export { realOptimum };
