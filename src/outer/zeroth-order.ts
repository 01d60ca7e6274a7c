/**
 * Zeroth-order search over the simulator parameters θ on real returns only (issue 5): the baseline that
 * needs no sensitivity dφ/dθ and no model gradient. The map θ ↦ (in-sim optimal policy) ↦ real return is
 * treated as a black box:
 *   tabular: θ ↦ soft-PI policy of the simulator ↦ Ĵ_real (soft or hard objective);
 *   linear-Gaussian: θ ↦ in-sim gain K (exact maximiser or LQR) ↦ Ĵ_real.
 * Ĵ is the mean discounted return of `evalTrajectories` real rollouts of `evalHorizon` steps each.
 *
 * Methods (ascent, gains of Spall 1998: a_k = a/(k + 1 + A)^α, c_k = c/(k + 1)^γ):
 * - spsa: Rademacher Δ, ĝ_i = (Ĵ(θ⁺) − Ĵ(θ⁻)) / (θ⁺_i − θ⁻_i), θ^± = θ ± c_kΔ (2 evaluations per step);
 * - coordinate: Kiefer–Wolfowitz finite differences along one coordinate per iteration, cycling through
 *   θ (Gauss–Seidel FDSA); the gain index k is the sweep number ⌊iteration/dim θ⌋, so one sweep is one
 *   classical FDSA step at the same cost per iteration as SPSA.
 * Common random numbers: the real rollouts of θ⁺ and θ⁻ replay one random stream (split once per
 * iteration, cloned for each side), so the difference keeps the θ-effect and loses most of the noise.
 * That is legitimate on a sim-to-sim "real" system whose noise can be replayed, not on hardware.
 *
 * Defaults (a = 0.2, c = 0.4, Ĵ from 1 × 40 real steps: 250 SPSA iterations in the default 20,000
 * transitions) were tuned on paper-discrete seeds 10–49 and also suit paper-continuous: many cheap noisy
 * iterations beat fewer precise ones, and c is large because with CRN the noise of Ĵ(θ⁺) − Ĵ(θ⁻) grows
 * more slowly with c than the signal does.
 *
 * Bounds: θ^± and θ after each step are clipped to `lower` (linear problems); the difference quotient
 * divides by the actual θ⁺_i − θ⁻_i (≥ c_k|Δ_i|), which keeps the estimate unbiased to first order.
 */

import { z } from "zod";
import { expectedReturnValue } from "../critics/linear-gaussian.ts";
import { type LinearGaussianProblem, problemParams } from "../envs/linear-gaussian.ts";
import { LinearGaussianRealSystem } from "../envs/linear-gaussian-rollout.ts";
import { problemSimulator, type TabularProblem } from "../envs/tabular.ts";
import { TabularRealSystem, type Transitions } from "../envs/tabular-rollout.ts";
import { maximizeExpectedReturn } from "../inner/linear-gaussian-exact.ts";
import { discountedLqr, InnerSolveError } from "../inner/lqr.ts";
import { softPolicyIteration } from "../inner/soft-policy-iteration.ts";
import { Rng } from "../math/rng.ts";
import { LinearGaussianPolicy } from "../policies/linear-gaussian.ts";
import { projectLower } from "./ascent.ts";
import { LINEAR_INNER_SOLVERS, realOptimum } from "./bilevel-linear-gaussian.ts";
import { normalizer } from "./normalized-return.ts";
import { objectiveTemperature } from "./real-gradient.ts";
import type { EvalCallback, EvalPoint, MethodRun } from "./trace.ts";

export const ZerothOrderConfigSchema = z.object({
  method: z
    .enum(["spsa", "coordinate"])
    .default("spsa")
    .describe(
      "spsa (simultaneous perturbation, Rademacher Δ) or coordinate (finite differences along one coordinate per iteration, cycling)",
    ),
  budget: z
    .number()
    .int()
    .positive()
    .default(20_000)
    .describe("Real transitions the search may consume; it stops before an iteration would exceed it"),
  evalTrajectories: z
    .number()
    .int()
    .positive()
    .default(1)
    .describe("Real trajectories per return estimate Ĵ"),
  evalHorizon: z
    .number()
    .int()
    .positive()
    .default(40)
    .describe("Steps per real trajectory (the γ^H tail is dropped: 1.5% at γ = 0.9, H = 40)"),
  a: z.number().positive().default(0.2).describe("Step gain a of a_k = a/(k + 1 + A)^alpha"),
  c: z.number().positive().default(0.4).describe("Perturbation gain c of c_k = c/(k + 1)^gamma"),
  A: z
    .number()
    .nonnegative()
    .optional()
    .describe("Stability constant A of a_k; default 10% of the iterations (sweeps) the budget allows"),
  alpha: z.number().positive().default(0.602).describe("Step-gain decay exponent (Spall's practical value)"),
  gamma: z
    .number()
    .nonnegative()
    .default(0.101)
    .describe("Perturbation-gain decay exponent (Spall's practical value)"),
  maxStep: z
    .number()
    .positive()
    .default(1)
    .describe("Largest change of any θ entry in one step (clipping guards against rare huge estimates)"),
  commonRandomNumbers: z
    .boolean()
    .default(true)
    .describe("Replay one random stream for the real rollouts of θ⁺ and θ⁻ (false: independent streams)"),
  objective: z
    .enum(["soft", "hard"])
    .default("soft")
    .describe(
      "Tabular real objective: soft (entropy-regularised with the problem's τ) or hard (plain return)",
    ),
  inner: z
    .enum(LINEAR_INNER_SOLVERS)
    .default("lqr")
    .describe("Linear-Gaussian in-sim solver: exact (maximise the simulator's return over K) or lqr"),
});
export type ZerothOrderConfig = z.infer<typeof ZerothOrderConfigSchema>;

/** Rademacher vector: ±1 with probability ½ each. */
export function rademacher(n: number, rng: Rng): Float64Array {
  return Float64Array.from({ length: n }, () => (rng.uniform() < 0.5 ? -1 : 1));
}

/** θ^± = clip(θ ± c_kΔ) to the lower bounds. */
export function perturbationPoints(
  theta: Float64Array,
  delta: Float64Array,
  ck: number,
  lower?: ArrayLike<number>,
): { plus: Float64Array; minus: Float64Array } {
  const at = (sign: number) => {
    const p = Float64Array.from(theta, (t, i) => t + sign * ck * delta[i]);
    projectLower(p, lower);
    return p;
  };
  return { plus: at(1), minus: at(-1) };
}

/** ĝ_i = (f⁺ − f⁻)/(θ⁺_i − θ⁻_i) where Δ_i ≠ 0, else 0 (so Δ = e_i gives the coordinate difference). */
export function differenceQuotient(
  fPlus: number,
  fMinus: number,
  plus: Float64Array,
  minus: Float64Array,
  delta: Float64Array,
): Float64Array {
  return Float64Array.from(delta, (d, i) => (d === 0 ? 0 : (fPlus - fMinus) / (plus[i] - minus[i])));
}

/** Simultaneous-perturbation gradient estimate of f at θ along Δ (f called on θ⁺, then θ⁻). */
export function simultaneousPerturbationGradient(
  f: (theta: Float64Array) => number,
  theta: Float64Array,
  delta: Float64Array,
  ck: number,
  lower?: ArrayLike<number>,
): Float64Array {
  const { plus, minus } = perturbationPoints(theta, delta, ck, lower);
  const fp = f(plus);
  return differenceQuotient(fp, f(minus), plus, minus, delta);
}

/**
 * Random streams for the real rollouts of θ⁺ and θ⁻ in one iteration: two clones of one fresh stream
 * (common random numbers) or two independent streams. `rng` advances the same way in both cases.
 */
export function pairedStreams(rng: Rng, common: boolean): [Rng, Rng] {
  const stream = rng.split();
  const other = rng.split();
  return common ? [Rng.fromState(stream.state()), Rng.fromState(stream.state())] : [stream, other];
}

/** Mean discounted return of a batch of tabular trajectories, r − τ log π(a|s) per step (τ = 0: plain). */
export function tabularBatchReturn(
  batch: Transitions,
  A: number,
  logPi: Float64Array,
  tauObjective: number,
): number {
  let total = 0;
  let trajectories = 0;
  for (let k = 0; k < batch.length; k++) {
    if (batch.start[k]) trajectories++;
    const ent = tauObjective === 0 ? 0 : tauObjective * logPi[batch.s[k] * A + batch.a[k]];
    total += batch.discount[k] * (batch.r[k] - ent);
  }
  return total / Math.max(trajectories, 1);
}

/** Ĵ of a linear-Gaussian policy: (1/N) Σ_i Σ_t γ^t r_{i,t} from real rollouts. */
export function linearRealReturn(
  real: LinearGaussianRealSystem,
  problem: LinearGaussianProblem,
  K: Float64Array,
  N: number,
  H: number,
  rng: Rng,
): number {
  const batch = real.rollout(new LinearGaussianPolicy(K, problem.policyCov, problem.n, problem.m), N, H, rng);
  let total = 0;
  for (let i = 0; i < N; i++) {
    let disc = 1;
    for (let t = 0; t < H; t++) {
      total += disc * batch.rewards[i * H + t];
      disc *= problem.gamma;
    }
  }
  return total / N;
}

/** The family-specific half of a zeroth-order search. */
interface BlackBox<P> {
  /** In-sim optimal policy of the simulator at θ (may throw InnerSolveError where none exists). */
  policy(theta: Float64Array, warm: P | null): P;
  /** Ĵ_real of a policy from real rollouts drawn with `rng` (consumes real transitions). */
  estimate(policy: P, rng: Rng): number;
  /** Normalised real return of a policy on the known real system (consumes nothing). */
  normalized(policy: P): number;
  /** Real transitions consumed so far. */
  used(): number;
  lower?: ArrayLike<number>;
}

/** Shrink a perturbation or step this many times by ½ before giving up on a θ with no inner solution. */
const MAX_HALVINGS = 40;

function runSearch<P>(
  box: BlackBox<P>,
  theta0: ArrayLike<number>,
  config: ZerothOrderConfig,
  rng: Rng,
  onEval?: EvalCallback,
): MethodRun {
  const theta = Float64Array.from(theta0);
  projectLower(theta, box.lower);
  const dim = theta.length;
  const perturbRng = rng.split();
  const realRng = rng.split();
  const perEstimate = config.evalTrajectories * config.evalHorizon;
  const perIteration = 2 * perEstimate;
  const iterations = Math.floor(config.budget / perIteration);
  const gainSteps = config.method === "spsa" ? iterations : Math.ceil(iterations / dim);
  const stability = config.A ?? 0.1 * gainSteps;
  const points: EvalPoint[] = [];
  let policy = box.policy(theta, null);
  const record = (iteration: number) => {
    const p: EvalPoint = {
      iteration,
      realTransitions: box.used(),
      normalized: box.normalized(policy),
      theta: Float64Array.from(theta),
    };
    points.push(p);
    onEval?.(p);
  };
  record(0);
  for (let it = 0; box.used() + perIteration <= config.budget; it++) {
    const k = config.method === "spsa" ? it : Math.floor(it / dim);
    const ak = config.a / (k + 1 + stability) ** config.alpha;
    let ck = config.c / (k + 1) ** config.gamma;
    let delta: Float64Array;
    if (config.method === "spsa") delta = rademacher(dim, perturbRng);
    else {
      delta = new Float64Array(dim);
      delta[it % dim] = 1;
    }
    // Solve both inner problems before drawing real data, halving c_k where a side has no solution.
    let pts = perturbationPoints(theta, delta, ck, box.lower);
    let sides: [P, P] | null = null;
    for (let h = 0; sides === null; h++) {
      try {
        sides = [box.policy(pts.plus, policy), box.policy(pts.minus, policy)];
      } catch (e) {
        if (!(e instanceof InnerSolveError) || h >= MAX_HALVINGS) throw e;
        ck *= 0.5;
        pts = perturbationPoints(theta, delta, ck, box.lower);
      }
    }
    const [rPlus, rMinus] = pairedStreams(realRng, config.commonRandomNumbers);
    const fPlus = box.estimate(sides[0], rPlus);
    const fMinus = box.estimate(sides[1], rMinus);
    const grad = differenceQuotient(fPlus, fMinus, pts.plus, pts.minus, delta);
    const prev = Float64Array.from(theta);
    const step = grad.map((g) => Math.max(-config.maxStep, Math.min(config.maxStep, ak * g)));
    for (let h = 0; ; h++) {
      const f2 = 0.5 ** h;
      for (let i = 0; i < dim; i++) theta[i] = prev[i] + f2 * step[i];
      projectLower(theta, box.lower);
      try {
        policy = box.policy(theta, policy);
        break;
      } catch (e) {
        if (!(e instanceof InnerSolveError) || h >= MAX_HALVINGS) throw e;
      }
    }
    record(it + 1);
  }
  return { points, theta };
}

/** The tabular policy of a θ: soft-PI solution (probabilities, log-probabilities, logits for warm starts). */
interface TabularPolicyOfTheta {
  pi: Float64Array;
  logPi: Float64Array;
  phi: Float64Array;
}

/**
 * Zeroth-order search on a tabular problem: θ ↦ soft-PI policy of the simulator ↦ real return (the
 * configured objective), from θ₀. `rng` is split into independent streams for the perturbations and
 * the real rollouts.
 */
export function runZerothOrderTabular(
  problem: TabularProblem,
  theta0: ArrayLike<number>,
  config: ZerothOrderConfig,
  rng: Rng,
  onEval?: EvalCallback,
): MethodRun {
  const tau = problem.temperature;
  const tauObj = objectiveTemperature(config.objective, tau);
  const real = new TabularRealSystem(problem.real);
  const norm01 = normalizer(problem);
  const box: BlackBox<TabularPolicyOfTheta> = {
    policy(theta, warm) {
      const sol = softPolicyIteration(problemSimulator(problem, theta), tau, { initPhi: warm?.phi });
      return { pi: sol.pi, logPi: sol.logPi, phi: sol.phi };
    },
    estimate(p, r) {
      const batch = real.rollout(p.pi, config.evalTrajectories, config.evalHorizon, r);
      return tabularBatchReturn(batch, problem.A, p.logPi, tauObj);
    },
    normalized(p) {
      const s = norm01.scores(p.pi, p.logPi);
      return config.objective === "soft" ? s.soft : s.hard;
    },
    used: () => real.transitionsUsed,
  };
  return runSearch(box, theta0, config, rng, onEval);
}

/** The in-sim gain at θ: exact maximiser of the simulator's return (warm-started) or discounted LQR. */
export function linearInnerGain(
  problem: LinearGaussianProblem,
  theta: ArrayLike<number>,
  inner: ZerothOrderConfig["inner"],
  initK?: ArrayLike<number>,
): Float64Array {
  const p = problemParams(problem, theta);
  if (inner === "exact") return maximizeExpectedReturn(problem, p, { initK }).K;
  return discountedLqr(problem.n, problem.m, problem.gamma, p).K;
}

/**
 * Zeroth-order search on a linear-Gaussian problem: θ ↦ in-sim gain K (config.inner) ↦ real return, from
 * θ₀, with θ kept above `problem.lower`. Evaluation: J_real(K)/J_real(K*_real).
 */
export function runZerothOrderLinear(
  problem: LinearGaussianProblem,
  theta0: ArrayLike<number>,
  config: ZerothOrderConfig,
  rng: Rng,
  onEval?: EvalCallback,
  optimum = realOptimum(problem),
): MethodRun {
  const real = new LinearGaussianRealSystem(problem, problem.real);
  const box: BlackBox<Float64Array> = {
    policy: (theta, warm) => linearInnerGain(problem, theta, config.inner, warm ?? undefined),
    estimate: (K, r) => linearRealReturn(real, problem, K, config.evalTrajectories, config.evalHorizon, r),
    normalized: (K) => expectedReturnValue(problem, problem.real, K) / optimum.J,
    used: () => real.transitionsUsed,
    lower: problem.lower,
  };
  return runSearch(box, theta0, config, rng, onEval);
}
