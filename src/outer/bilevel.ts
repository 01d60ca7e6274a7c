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
import {
  type RealTransitionLog,
  sampleDiscountedStream,
  sampleTrajectories,
  TabularRealSystem,
} from "../envs/tabular-rollout.ts";
import { softPolicyIteration } from "../inner/soft-policy-iteration.ts";
import { norm } from "../math/linalg.ts";
import { Rng } from "../math/rng.ts";
import { directSensitivity } from "../sensitivity/direct.ts";
import {
  adjointOuterGradient,
  closedFormSensitivity,
  iftSensitivity,
  jacobianTransposeTimes,
  type SensitivityInput,
} from "../sensitivity/tabular-exact.ts";
import { sampledTheorem1 } from "../sensitivity/tabular-sampled.ts";
import { AscentSchema, type AscentState, type AscentStep, makeAscent } from "./ascent.ts";
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

/** Everything the loop carries from one outer iteration to the next: a checkpoint (taken between
 * iterations) from which `BilevelRunner.restore` continues bit for bit. */
export interface BilevelCheckpoint {
  /** The next iteration to run. */
  iteration: number;
  theta: Float64Array;
  /** The inner solver's warm start (it changes the last bits of the inner solution). */
  phi: Float64Array | null;
  baseline: Float64Array | null;
  ascent: AscentState;
  simRng: number[];
  realRng: number[];
  realTransitions: number;
}

export interface BilevelOptions {
  onMetrics?: MetricsCallback;
  extraGradient?: ExtraGradient;
  /** Real transitions are committed here before any update uses them, and replayed from it on resume. */
  realLog?: RealTransitionLog;
}

/**
 * Algorithm 1 one outer iteration at a time (`step()`), so a caller can checkpoint between iterations,
 * stop on a signal and resume. `rng` drives every random draw (in-sim rollouts, real rollouts) through two
 * independent streams split from it, so changing one budget never shifts the other's draws.
 */
export class BilevelRunner {
  readonly records: IterationRecord[] = [];
  readonly theta: Float64Array;
  private it = 0;
  private done = false;
  private phi: Float64Array | undefined;
  private baseline: Float64Array | null = null;
  private readonly mask: Float64Array;
  private readonly simRng: Rng;
  private readonly realRng: Rng;
  private readonly realSystem: TabularRealSystem;
  private readonly norm01: Normalizer;
  private readonly ascent: AscentStep;

  constructor(
    private readonly problem: TabularProblem,
    theta0: ArrayLike<number>,
    private readonly config: BilevelConfig,
    rng: Rng,
    private readonly options: BilevelOptions = {},
  ) {
    // A tied family (tabular-family.ts) lives on the subspace where tied rows are equal.
    this.theta = tieRows(Float64Array.from(theta0), problem);
    this.mask = thetaMask(problem.S, problem.A, config.adapt);
    this.simRng = rng.split();
    this.realRng = rng.split();
    this.realSystem = new TabularRealSystem(problem.real, options.realLog);
    this.norm01 = normalizer(problem);
    this.ascent = makeAscent(config.optimizer, config.stepSize, config.stepDecay, this.theta);
  }

  /** Continue a run from a checkpoint (same problem and config as the run that took it). */
  static restore(
    problem: TabularProblem,
    config: BilevelConfig,
    ckpt: BilevelCheckpoint,
    options: BilevelOptions = {},
  ): BilevelRunner {
    // The seed is irrelevant: both streams are overwritten from the checkpoint.
    const r = new BilevelRunner(problem, ckpt.theta, config, Rng.fromSeed(0), options);
    r.theta.set(ckpt.theta);
    r.it = ckpt.iteration;
    r.phi = ckpt.phi === null ? undefined : Float64Array.from(ckpt.phi);
    r.baseline = ckpt.baseline === null ? null : Float64Array.from(ckpt.baseline);
    r.ascent.restore(ckpt.ascent);
    r.simRng.restore(ckpt.simRng);
    r.realRng.restore(ckpt.realRng);
    r.realSystem.transitionsUsed = ckpt.realTransitions;
    r.done = ckpt.iteration > config.iterations;
    return r;
  }

  /** The next iteration to run. */
  get iteration(): number {
    return this.it;
  }

  get finished(): boolean {
    return this.done;
  }

  checkpoint(): BilevelCheckpoint {
    return {
      iteration: this.it,
      theta: Float64Array.from(this.theta),
      phi: this.phi ? Float64Array.from(this.phi) : null,
      baseline: this.baseline ? Float64Array.from(this.baseline) : null,
      ascent: this.ascent.state(),
      simRng: this.simRng.state(),
      realRng: this.realRng.state(),
      realTransitions: this.realSystem.transitionsUsed,
    };
  }

  /** Run one outer iteration (iteration 0 records the starting θ); false once the run is complete. */
  step(): boolean {
    if (this.done) return false;
    const { problem, config, theta } = this;
    const { S, A, temperature: tau } = problem;
    const nth = theta.length;
    const it = this.it;
    const sim = problemSimulator(problem, theta);
    const sol = softPolicyIteration(sim, tau, { initPhi: this.phi });
    this.phi = sol.phi;
    const scores = this.norm01.scores(sol.pi, sol.logPi);
    const record: IterationRecord = {
      iteration: it,
      soft: scores.soft,
      hard: scores.hard,
      realJ: config.objective === "soft" ? scores.softJ : scores.hardJ,
      realTransitions: this.realSystem.transitionsUsed,
      theta: Float64Array.from(theta),
      gradNorm: Number.NaN,
      innerIterations: sol.iterations,
      innerResidual: sol.residual,
    };
    this.records.push(record);
    this.it++;
    if (it === config.iterations) {
      emit(this.options.onMetrics, record);
      this.done = true;
      return false;
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
      const tauObj = objectiveTemperature(config.objective, tau);
      if (this.baseline === null)
        this.baseline = Float64Array.from(evaluatePolicy(sim, sol.pi, sol.logPi, tauObj).V);
      const batch = this.realSystem.rollout(
        sol.pi,
        config.realTrajectories,
        config.realHorizon,
        this.realRng,
        it,
      );
      const est = reinforceGradient(batch, S, A, problem.gamma, sol.pi, sol.logPi, tauObj, this.baseline);
      v = est.v;
      const c = config.baselineDecay;
      for (let s = 0; s < S; s++)
        if (est.visits[s] > 0) this.baseline[s] = (1 - c) * this.baseline[s] + c * est.meanReturn[s];
    }
    const inp: SensitivityInput = { sim, pi: sol.pi, logPi: sol.logPi, tau, evaluation: sol.evaluation };
    const { grad } = outerGradient(config.sensitivity, inp, v, nth, this.simRng, config.simSteps);
    if (this.options.extraGradient) {
      const extra = this.options.extraGradient(theta);
      for (let i = 0; i < nth; i++) grad[i] += extra[i];
    }
    for (let i = 0; i < nth; i++) grad[i] *= this.mask[i];
    tieRows(grad, problem);
    record.gradNorm = norm(grad);
    record.realTransitions = this.realSystem.transitionsUsed;
    emit(this.options.onMetrics, record);
    this.ascent(grad, it);
    return true;
  }
}

/** Run Algorithm 1 from θ₀ to the end (see `BilevelRunner`). */
export function runBilevel(
  problem: TabularProblem,
  theta0: ArrayLike<number>,
  config: BilevelConfig,
  rng: Rng,
  onMetrics?: MetricsCallback,
  extraGradient?: ExtraGradient,
): BilevelRun {
  const runner = new BilevelRunner(problem, theta0, config, rng, { onMetrics, extraGradient });
  while (runner.step());
  return { records: runner.records, theta: runner.theta };
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
    ...Object.fromEntries(Array.from(r.theta, (v, i) => [`theta/${i}`, v])),
  });
}
