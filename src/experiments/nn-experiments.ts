/**
 * Named experiments of the general (neural-network) bi-level engine: the bi-level paper's continuous
 * example with an MLP policy and an MLP critic, as the paper ran it (§5, Figure 3 right), through
 * the general engine — actor-critic inner solver, sampled Theorem 1, Krylov IFT solve.
 * One zod schema, defaults documented, versioned.
 */
import { z } from "zod";
import { InputError } from "../common/errors.ts";
import {
  cholesky,
  gaussianDraw,
  type LinearGaussianProblem,
  thetaFromParams,
} from "../envs/linear-gaussian.ts";
import { linearGaussianModel } from "../envs/parametric-model.ts";
import { Rng } from "../math/rng.ts";
import type { MetricsCallback } from "../outer/bilevel.ts";
import {
  GeneralBilevelConfigSchema,
  type GeneralIterationRecord,
  ModelRealSystem,
  rolloutModel,
  runGeneralBilevel,
} from "../outer/bilevel-general.ts";
import { realOptimum } from "../outer/bilevel-linear-gaussian.ts";
import { GaussianMlpPolicy } from "../policies/mlp-policies.ts";
import { paperContinuousProblem } from "./problems.ts";
import { experimentFields, type NamedExperiment, resolveSpec } from "./resolve.ts";

export const NnExperimentSchema = z.object({
  ...experimentFields,
  hidden: z
    .array(z.number().int().positive())
    .default([32, 32])
    .describe("Hidden widths of the policy mean MLP"),
  activation: z
    .enum(["tanh", "relu", "softplus"])
    .default("tanh")
    .describe("Hidden activation of the policy"),
  outputGain: z
    .number()
    .positive()
    .default(0.1)
    .describe("Initial scale of the policy's last layer (small: the first policy acts near a = 0)"),
  initLow: z.number().default(0).describe("Lower end of the uniform initial θ"),
  initHigh: z.number().default(1).describe("Upper end of the uniform initial θ"),
  evalTrajectories: z
    .number()
    .int()
    .positive()
    .default(4000)
    .describe("Monte-Carlo trajectories of the real-return evaluation (evaluation only, not counted)"),
  evalHorizon: z.number().int().positive().default(60).describe("Steps per evaluation trajectory"),
  evalSeed: z
    .number()
    .int()
    .default(12345)
    .describe("Evaluation seed: the same draws at every iteration (common random numbers)"),
  bilevel: GeneralBilevelConfigSchema.prefault({}),
});
export type NnExperiment = z.infer<typeof NnExperimentSchema>;

export const NN_EXPERIMENTS: Record<
  string,
  NamedExperiment<typeof NnExperimentSchema, LinearGaussianProblem>
> = {
  "paper-continuous-nn": {
    description:
      "Bi-level paper §5 continuous example with a 2×32 tanh MLP policy (fixed std 0.3) and a 2×32 MLP critic through the general engine: actor-critic inner solver, sampled Theorem 1 with Krylov IFT, REINFORCE real gradients from 200 × 40 real steps, adam-norm 0.05; 5 trials from θ ~ U(0, 1)⁴",
    problem: paperContinuousProblem,
    spec: {
      experiment: "paper-continuous-nn",
      bilevel: {
        inner: { temperature: 0, gamma: 0.9, actorLr: 0.01, maxIterations: 100 },
        sensitivity: { samples: 4000, damping: 1, maxIterations: 50 },
        realTrajectories: 200,
        realHorizon: 40,
        optimizer: "adam-norm",
        stepSize: 0.05,
      },
    },
  },
};

export function nnExperimentNames(): string[] {
  return Object.keys(NN_EXPERIMENTS);
}

export function resolveNnExperiment(
  name: string,
  overrides: { trials?: number; seed?: number; bilevel?: Record<string, unknown> } = {},
  /** A config file's contents (between the named spec and the overrides). */
  file?: unknown,
): { spec: NnExperiment; problem: LinearGaussianProblem } {
  const named = NN_EXPERIMENTS[name];
  if (!named) throw new InputError(`unknown experiment '${name}'`, "experiment");
  return {
    spec: resolveSpec(NnExperimentSchema, name, named.spec, overrides, file),
    problem: named.problem(),
  };
}

export interface NnTrialResult {
  seed: number;
  theta0: Float64Array;
  records: GeneralIterationRecord[];
  nParams: number;
}

export interface NnTrialSummary {
  seed: number;
  final: { normalized: number; theta: number[] };
  best: number;
  itersTo: { "0.95": number | null; "0.98": number | null };
  realTransitions: number;
  seconds: number;
}

/**
 * One trial. The normaliser is the best *linear* policy's real return J* (the same as paper-continuous),
 * so an MLP policy can exceed 1.
 */
export function runNnTrial(
  spec: NnExperiment,
  problem: LinearGaussianProblem,
  k: number,
  onMetrics?: MetricsCallback,
): NnTrialResult {
  const seed = spec.seed + k;
  const { n, m } = problem;
  const model = linearGaussianModel(problem);
  const thetaReal = thetaFromParams(n, m, problem.real);
  const L0 = cholesky(problem.initialCov, n);
  const initialState = (r: Rng) => gaussianDraw(L0, n, r);
  if (problem.policyCov.some((v, i) => i % (m + 1) !== 0 && v !== 0))
    throw new InputError("paper-continuous-nn needs a diagonal policy covariance", "policyCov");
  const logStd = Array.from({ length: m }, (_, i) => 0.5 * Math.log(problem.policyCov[i * (m + 1)]));
  const acts = spec.hidden.map(() => spec.activation);
  const policy = new GaussianMlpPolicy(
    { sizes: [n, ...spec.hidden, m], activations: [...acts, "linear"] },
    { logStd },
  );
  const Jstar = realOptimum(problem).J;
  const evaluate = (phi: Float64Array): number => {
    const N = spec.evalTrajectories;
    const H = spec.evalHorizon;
    const b = rolloutModel(model, thetaReal, initialState, policy, phi, N, H, Rng.fromSeed(spec.evalSeed));
    let J = 0;
    for (let i = 0; i < N; i++) {
      let disc = 1;
      for (let t = 0; t < H; t++) {
        J += disc * b.rewards[i * H + t];
        disc *= problem.gamma;
      }
    }
    return J / N / Jstar;
  };
  const root = Rng.fromSeed(seed);
  const init = root.split();
  const theta0 = thetaReal.map(() => spec.initLow + (spec.initHigh - spec.initLow) * init.uniform());
  const phi0 = policy.init(root.split(), { outputGain: spec.outputGain });
  const run = runGeneralBilevel(
    {
      model,
      policy,
      initialState,
      real: new ModelRealSystem(model, thetaReal, initialState),
      lower: problem.lower,
      evaluate,
    },
    theta0,
    phi0,
    spec.bilevel,
    root,
    onMetrics,
  );
  return { seed, theta0, records: run.records, nParams: policy.nParams };
}

export function summarizeNnTrial(t: NnTrialResult): NnTrialSummary {
  const evaluated = t.records.filter((r) => !Number.isNaN(r.normalized));
  const first = (thr: number) => evaluated.find((r) => r.normalized >= thr)?.iteration ?? null;
  const last = t.records[t.records.length - 1];
  return {
    seed: t.seed,
    final: { normalized: last.normalized, theta: Array.from(last.theta) },
    best: Math.max(...evaluated.map((r) => r.normalized)),
    itersTo: { "0.95": first(0.95), "0.98": first(0.98) },
    realTransitions: last.realTransitions,
    seconds: t.records.reduce((s, r) => s + r.seconds, 0),
  };
}
