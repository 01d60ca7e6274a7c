/**
 * Named, versioned tabular experiments: a problem, a number of seeded trials starting from
 * θ = θ_start + noise·N(0, I), and a bi-level configuration. One zod schema, defaults documented.
 */
import { z } from "zod";
import { InputError } from "../common/errors.ts";
import { type TabularProblem, thetaFromMDP } from "../envs/tabular.ts";
import { Rng } from "../math/rng.ts";
import { BilevelConfigSchema, type IterationRecord } from "../outer/bilevel.ts";
import { paperDiscreteProblem } from "./problems.ts";
import { experimentFields, type NamedExperiment, resolveSpec } from "./resolve.ts";

export const TabularExperimentSchema = z.object({
  ...experimentFields,
  initFrom: z
    .enum(["real", "simulator"])
    .default("real")
    .describe("Centre of the initial θ: the real MDP (θ^f = log P, θ^R = r) or the problem's simulator"),
  initNoise: z
    .number()
    .nonnegative()
    .default(1)
    .describe("Standard deviation of the N(0, I) noise added to θ"),
  itersToObjective: z
    .enum(["soft", "hard"])
    .default("soft")
    .describe("Which normalised return summary.itersTo is counted on"),
  bilevel: BilevelConfigSchema.default(BilevelConfigSchema.parse({})),
});
export type TabularExperiment = z.infer<typeof TabularExperimentSchema>;

export const TABULAR_EXPERIMENTS: Record<
  string,
  NamedExperiment<typeof TabularExperimentSchema, TabularProblem>
> = {
  "paper-discrete": {
    description:
      "Bi-level paper §5 discrete MDP, exact ingredients (Theorem 1 + IFT, exact real gradient), step 0.1, 5 trials from θ_real + N(0, I)",
    problem: paperDiscreteProblem,
    spec: { experiment: "paper-discrete", bilevel: { iterations: 150 } },
  },
  "paper-discrete-sampled": {
    description:
      "Same, with sampled Theorem 1 (1 in-sim stream × 1000 steps, control variates) and REINFORCE real gradient (10 × 50 real steps per iteration), step 0.1 decaying as 1/(1 + t/100)",
    problem: paperDiscreteProblem,
    spec: {
      experiment: "paper-discrete-sampled",
      bilevel: {
        sensitivity: "sampled",
        realGradient: "sampled",
        iterations: 2000,
        stepDecay: 100,
      },
    },
  },
  "paper-discrete-sampled-hard": {
    description:
      "paper-discrete-sampled judged by the plain (hard) real return while the in-sim solver stays entropy-regularised",
    problem: paperDiscreteProblem,
    spec: {
      experiment: "paper-discrete-sampled-hard",
      itersToObjective: "hard",
      bilevel: {
        sensitivity: "sampled",
        realGradient: "sampled",
        iterations: 2000,
        stepDecay: 100,
        objective: "hard",
      },
    },
  },
};

export function experimentNames(): string[] {
  return Object.keys(TABULAR_EXPERIMENTS);
}

/** Resolve a named experiment with overrides (validated once, here). */
export function resolveExperiment(
  name: string,
  overrides: { trials?: number; seed?: number; bilevel?: Record<string, unknown> } = {},
  /** A config file's contents (between the named spec and the overrides). */
  file?: unknown,
): { spec: TabularExperiment; problem: TabularProblem } {
  const named = TABULAR_EXPERIMENTS[name];
  if (!named)
    throw new InputError(
      `unknown experiment '${name}'; known: ${experimentNames().join(", ")}`,
      "experiment",
    );
  return {
    spec: resolveSpec(TabularExperimentSchema, name, named.spec, overrides, file),
    problem: named.problem(),
  };
}

export interface TrialResult {
  seed: number;
  theta0: Float64Array;
  records: IterationRecord[];
}

export interface TrialSummary {
  seed: number;
  final: { soft: number; hard: number };
  itersTo: { "0.95": number | null; "0.99": number | null };
  realTransitions: number;
  /** The simulator θ the trial ends with (DESIGN §5 layout). */
  finalTheta: number[];
}

/** Trial k's generator (seed + k) and starting θ = θ_start + noise · N(0, I) from its first split; the run
 * takes the generator's following streams. */
export function trialStart(
  spec: TabularExperiment,
  problem: TabularProblem,
  k: number,
): { seed: number; rng: Rng; theta0: Float64Array } {
  const seed = spec.seed + k;
  const rng = Rng.fromSeed(seed);
  const init = rng.split();
  const centre = spec.initFrom === "real" ? thetaFromMDP(problem.real) : problem.theta0;
  return { seed, rng, theta0: Float64Array.from(centre, (c) => c + spec.initNoise * init.normal()) };
}

export function summarizeTrial(spec: TabularExperiment, t: TrialResult): TrialSummary {
  const key = spec.itersToObjective;
  const first = (thr: number) => t.records.find((r) => r[key] >= thr)?.iteration ?? null;
  const last = t.records[t.records.length - 1];
  return {
    seed: t.seed,
    final: { soft: last.soft, hard: last.hard },
    itersTo: { "0.95": first(0.95), "0.99": first(0.99) },
    realTransitions: last.realTransitions,
    finalTheta: Array.from(last.theta),
  };
}
