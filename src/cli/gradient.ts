/**
 * `sim2real gradient`: one bi-level gradient at the problem's simulator θ, for a tabular problem file
 * (softmax policy, dφ/dθ) or a linear-Gaussian one (gain K, dK/dθ). The file's `kind` picks the family.
 */

import { InputError } from "../common/errors.ts";
import { expectedReturn } from "../critics/linear-gaussian.ts";
import { evaluatePolicy, softmaxPolicyGradient } from "../critics/tabular.ts";
import { type LinearGaussianProblem, thetaBlocks, thetaFromParams } from "../envs/linear-gaussian.ts";
import { loadAnyProblem } from "../envs/linear-gaussian-problem.ts";
import { LinearGaussianRealSystem } from "../envs/linear-gaussian-rollout.ts";
import { problemSimulator, type TabularProblem } from "../envs/tabular.ts";
import { TabularRealSystem } from "../envs/tabular-rollout.ts";
import { InnerSolveError } from "../inner/lqr.ts";
import { softPolicyIteration } from "../inner/soft-policy-iteration.ts";
import { Rng } from "../math/rng.ts";
import { outerGradient, type SensitivityMethod } from "../outer/bilevel.ts";
import {
  type InnerResult,
  innerSolve,
  type LinearInnerSolver,
  realOptimum,
} from "../outer/bilevel-linear-gaussian.ts";
import { reinforceGradientK } from "../outer/linear-real-gradient.ts";
import { normalizer } from "../outer/normalized-return.ts";
import { type Objective, objectiveTemperature, reinforceGradient } from "../outer/real-gradient.ts";
import { LinearGaussianPolicy } from "../policies/linear-gaussian.ts";

type LqrSensitivity = "riccati" | "policy-gradient";

/** Commander's options. Options of one family only are `undefined` unless given (defaults below). */
export interface GradientOptions {
  problem: string;
  objective?: Objective;
  method?: SensitivityMethod;
  inner?: LinearInnerSolver;
  lqrSensitivity?: LqrSensitivity;
  realGradient: "exact" | "sampled";
  simSteps?: number;
  realTrajectories?: number;
  realHorizon?: number;
  seed: number;
  json?: boolean;
}

export const TABULAR_GRADIENT_DEFAULTS = {
  objective: "soft",
  method: "exact",
  simSteps: 1000,
  realTrajectories: 10,
  realHorizon: 50,
} as const;

export const LINEAR_GRADIENT_DEFAULTS = {
  inner: "lqr",
  lqrSensitivity: "riccati",
  realTrajectories: 100,
  realHorizon: 40,
} as const;

/** θ layout of linear-Gaussian problems (envs/linear-gaussian.ts), spelled out in the JSON output. */
export const LINEAR_THETA_LAYOUT = "vec A (row-major), vec B (row-major), diag Q, diag R";

const TABULAR_ONLY = [
  ["method", "--method"],
  ["objective", "--objective"],
  ["simSteps", "--sim-steps"],
] as const;
const LINEAR_ONLY = [
  ["inner", "--inner"],
  ["lqrSensitivity", "--lqr-sensitivity"],
] as const;

const rows = (a: ArrayLike<number>, cols: number): number[][] =>
  Array.from({ length: a.length / cols }, (_, i) => Array.from(a).slice(i * cols, (i + 1) * cols));

export function gradientCommand(o: GradientOptions): void {
  const loaded = loadAnyProblem(o.problem);
  if (loaded.kind === "linear-gaussian") {
    linearGradientCommand(loaded.problem, o);
    return;
  }
  for (const [key, flag] of LINEAR_ONLY)
    if (o[key] !== undefined)
      throw new InputError(
        `${flag} applies only to linear-Gaussian problem files; ${o.problem} is a tabular problem`,
        key,
      );
  tabularGradientCommand(loaded.problem, o);
}

function tabularGradientCommand(problem: TabularProblem, opts: GradientOptions): void {
  const o = {
    ...opts,
    objective: opts.objective ?? TABULAR_GRADIENT_DEFAULTS.objective,
    method: opts.method ?? TABULAR_GRADIENT_DEFAULTS.method,
    simSteps: opts.simSteps ?? TABULAR_GRADIENT_DEFAULTS.simSteps,
    realTrajectories: opts.realTrajectories ?? TABULAR_GRADIENT_DEFAULTS.realTrajectories,
    realHorizon: opts.realHorizon ?? TABULAR_GRADIENT_DEFAULTS.realHorizon,
  };
  const { S, A, temperature: tau } = problem;
  const theta = problem.theta0;
  const nth = theta.length;
  const rng = Rng.fromSeed(o.seed);
  const simRng = rng.split();
  const realRng = rng.split();
  const sim = problemSimulator(problem, theta);
  const sol = softPolicyIteration(sim, tau);
  const tauObj = objectiveTemperature(o.objective, tau);
  const real = new TabularRealSystem(problem.real);
  const scores = normalizer(problem).scores(sol.pi, sol.logPi);
  let v: Float64Array;
  if (o.realGradient === "exact")
    v = softmaxPolicyGradient(
      problem.real,
      sol.pi,
      o.objective === "soft" ? scores.softEval : scores.hardEval,
    );
  else {
    const baseline = evaluatePolicy(sim, sol.pi, sol.logPi, tauObj).V;
    const batch = real.rollout(sol.pi, o.realTrajectories, o.realHorizon, realRng);
    v = reinforceGradient(batch, S, A, problem.gamma, sol.pi, sol.logPi, tauObj, baseline).v;
  }
  const { grad, dPhiDTheta } = outerGradient(
    o.method,
    { sim, pi: sol.pi, logPi: sol.logPi, tau, evaluation: sol.evaluation },
    v,
    nth,
    simRng,
    o.simSteps,
  );
  const out = {
    method: o.method,
    objective: o.objective,
    realGradient: o.realGradient,
    phi: rows(sol.phi, A),
    policy: rows(sol.pi, A),
    ...(dPhiDTheta ? { dPhiDTheta: rows(dPhiDTheta, nth) } : {}),
    realReturn: o.objective === "soft" ? scores.softJ : scores.hardJ,
    normalizedReturn: o.objective === "soft" ? scores.soft : scores.hard,
    outerGradient: Array.from(grad),
    inner: { iterations: sol.iterations, residual: sol.residual },
    realTransitions: real.transitionsUsed,
  };
  if (o.json) {
    process.stdout.write(`${JSON.stringify(out)}\n`);
    return;
  }
  const f = (x: number) => x.toFixed(6);
  const lines = [
    `problem ${o.problem}: ${S} states × ${A} actions, γ = ${problem.gamma}, τ = ${tau}, nθ = ${nth}`,
    `inner solve: ${sol.iterations} soft policy iterations, residual ${sol.residual.toExponential(2)}`,
    "policy π(a|s):",
    ...out.policy.map((r, s) => `  s=${s}: ${r.map(f).join("  ")}`),
    `real ${o.objective} return J = ${f(out.realReturn)}, normalised ${f(out.normalizedReturn)}`,
    `outer gradient (${o.method} sensitivity, ${o.realGradient} real gradient), ‖g‖ = ${Math.hypot(...grad).toExponential(3)}:`,
    `  θ^f: ${Array.from(grad.slice(0, S * A * S), f).join(" ")}`,
    `  θ^R: ${Array.from(grad.slice(S * A * S), f).join(" ")}`,
    `real transitions used: ${real.transitionsUsed}`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}

/** The `gradient --json` object for a linear-Gaussian problem file (documented in the README). */
export interface LinearGradientJson {
  kind: "linear-gaussian";
  /** Solver, dK/dθ route (`implicit`: IFT of ∇_K J_sim = 0 for the exact solver) and its residual. */
  inner: { solver: LinearInnerSolver; sensitivity: LqrSensitivity | "implicit"; residual: number };
  realGradientMethod: "exact" | "sampled";
  /** The in-sim gain, m×n. */
  K: number[][];
  /** (m·n)×nθ, rows in vec K (row-major) order. */
  dKdTheta: number[][];
  thetaLayout: typeof LINEAR_THETA_LAYOUT;
  theta: number[];
  /** J_real(K), exact (closed form on the real parameters). */
  realReturn: number;
  /** J_real(K) / J_real(K*_real). */
  normalizedReturn: number;
  realOptimum: { K: number[][]; J: number };
  /** (dK/dθ)ᵀ ∂J_real/∂K, nθ. */
  outerGradient: number[];
  /** ∂J_real/∂K (exact or REINFORCE), vec K row-major. */
  realGradient: number[];
  realTransitions: number;
}

function linearGradientCommand(problem: LinearGaussianProblem, opts: GradientOptions): void {
  const path = opts.problem;
  for (const [key, flag] of TABULAR_ONLY)
    if (opts[key] !== undefined)
      throw new InputError(
        `${flag} applies only to tabular problem files; ${path} is a linear-Gaussian problem (see --inner, --lqr-sensitivity)`,
        key,
      );
  const inner = opts.inner ?? LINEAR_GRADIENT_DEFAULTS.inner;
  if (opts.lqrSensitivity !== undefined && inner !== "lqr")
    throw new InputError(
      `--lqr-sensitivity applies only with --inner lqr, not --inner ${inner}`,
      "lqrSensitivity",
    );
  const lqrSensitivity = opts.lqrSensitivity ?? LINEAR_GRADIENT_DEFAULTS.lqrSensitivity;
  const realTrajectories = opts.realTrajectories ?? LINEAR_GRADIENT_DEFAULTS.realTrajectories;
  const realHorizon = opts.realHorizon ?? LINEAR_GRADIENT_DEFAULTS.realHorizon;
  const sampled = opts.realGradient === "sampled";
  if (sampled && (realTrajectories < 1 || realHorizon < 1))
    throw new InputError("a sampled real gradient needs --real-trajectories >= 1 and --real-horizon >= 1");

  const { n, m, gamma } = problem;
  const theta = thetaFromParams(n, m, problem.simulator);
  const nth = theta.length;
  let sol: InnerResult;
  try {
    sol = innerSolve(problem, theta, { inner, lqrSensitivity });
  } catch (err) {
    // An unstabilisable simulator is a property of the file, not a bug.
    if (err instanceof InnerSolveError)
      throw new InputError(
        `${path}: the in-sim problem has no solution at the simulator's θ: ${err.message}`,
      );
    throw err;
  }
  const optimum = realOptimum(problem);
  const realEval = expectedReturn(problem, problem.real, sol.K, { derivatives: sampled ? "value" : "gradK" });
  const realSystem = new LinearGaussianRealSystem(problem, problem.real);
  let v: Float64Array;
  if (!sampled) v = realEval.gradK;
  else {
    const policy = new LinearGaussianPolicy(sol.K, problem.policyCov, n, m);
    // Same stream as runLinearBilevel's real rollouts for this seed.
    const realRng = Rng.fromSeed(opts.seed).split();
    v = reinforceGradientK(
      realSystem.rollout(policy, realTrajectories, realHorizon, realRng),
      policy,
      gamma,
    ).grad;
  }
  // (dK/dθ)ᵀ v
  const grad = new Float64Array(nth);
  for (let e = 0; e < n * m; e++) for (let i = 0; i < nth; i++) grad[i] += sol.dKdTheta[e * nth + i] * v[e];

  const out: LinearGradientJson = {
    kind: "linear-gaussian",
    inner: {
      solver: inner,
      sensitivity: inner === "lqr" ? lqrSensitivity : "implicit",
      residual: sol.residual,
    },
    realGradientMethod: opts.realGradient,
    K: rows(sol.K, n),
    dKdTheta: rows(sol.dKdTheta, nth),
    thetaLayout: LINEAR_THETA_LAYOUT,
    theta: Array.from(theta),
    realReturn: realEval.J,
    normalizedReturn: realEval.J / optimum.J,
    realOptimum: { K: rows(optimum.K, n), J: optimum.J },
    outerGradient: Array.from(grad),
    realGradient: Array.from(v),
    realTransitions: realSystem.transitionsUsed,
  };
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(out)}\n`);
    return;
  }
  const f = (x: number) => x.toFixed(6);
  const blk = thetaBlocks(n, m);
  const block = (name: string, [a, b]: readonly [number, number]) =>
    `  ${name}: ${Array.from(grad.subarray(a, b), f).join(" ")}`;
  const solver = inner === "lqr" ? `LQR (${lqrSensitivity} dK/dθ)` : "exact maximiser (implicit dK/dθ)";
  const lines = [
    `problem ${path}: linear-Gaussian, n = ${n}, m = ${m}, γ = ${gamma}, λ = ${problem.lambda}, horizon ${problem.horizon}, nθ = ${nth}`,
    `inner solve: ${solver}, residual ${sol.residual.toExponential(2)}`,
    "gain K:",
    ...out.K.map((r) => `  ${r.map(f).join("  ")}`),
    `real return J = ${f(out.realReturn)}, normalised ${f(out.normalizedReturn)} (J* = ${f(optimum.J)})`,
    `outer gradient (${opts.realGradient} real gradient), ‖g‖ = ${Math.hypot(...grad).toExponential(3)}; θ = ${LINEAR_THETA_LAYOUT}:`,
    block("A", blk.A),
    block("B", blk.B),
    block("diag Q", blk.Q),
    block("diag R", blk.R),
    `real transitions used: ${realSystem.transitionsUsed}`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}
