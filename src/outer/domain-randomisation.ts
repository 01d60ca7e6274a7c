/**
 * Domain randomisation (issue 5): one in-sim policy optimised for the *average* return over a
 * distribution of simulators θ_i = θ_centre + σ·N(0, I), i = 1..M, then deployed as is. It consumes no
 * real transitions: the run is a single EvalPoint at realTransitions 0.
 *
 * - tabular: π = softmax φ with φ = argmax (1/M) Σ_i J_{τ,θ_i}(softmax φ), the entropy-regularised return
 *   averaged over the sampled MDPs. This is not soft PI on the averaged MDP (a mixture of MDPs has no
 *   soft Bellman equation of its own); it is maximised by L-BFGS ascent on the exact averaged policy
 *   gradient (softmaxPolicyGradient of each MDP) from the soft-PI policy of θ_centre, to ‖∇‖ ≤ tolerance.
 * - linear-Gaussian, inner "exact": K = argmax (1/M) Σ_i J_{θ_i}(K) with the closed-form
 *   exponential-reward return; damped Newton on the average (∇_K, ∇²_KK of each θ_i) from the better of
 *   the exact in-sim optimum at θ_centre and K = 0. Samples below `problem.lower` are redrawn (a truncated
 *   Gaussian), never clipped, so no probability mass piles up on the bound.
 * - linear-Gaussian, inner "lqr": discounted LQR on the mean of the sampled parameters (certainty
 *   equivalence): the cheap practitioner's variant, which averages the model rather than the return.
 */
import { z } from "zod";
import { expectedReturn, expectedReturnValue } from "../critics/linear-gaussian.ts";
import { evaluatePolicy, softmaxPolicyGradient } from "../critics/tabular.ts";
import { type LinearGaussianProblem, problemParams, thetaFromParams } from "../envs/linear-gaussian.ts";
import { problemSimulator, type TabularMDP, type TabularProblem } from "../envs/tabular.ts";
import { maximizeExpectedReturn, newtonDirection } from "../inner/linear-gaussian-exact.ts";
import { discountedLqr } from "../inner/lqr.ts";
import { softPolicyIteration } from "../inner/soft-policy-iteration.ts";
import { dot, norm } from "../math/linalg.ts";
import type { Rng } from "../math/rng.ts";
import { centreRows } from "../math/softmax.ts";
import { softmaxPolicy } from "../policies/tabular-softmax.ts";
import { LINEAR_INNER_SOLVERS, realOptimum } from "./bilevel-linear-gaussian.ts";
import { normalizer } from "./normalized-return.ts";
import type { EvalPoint, MethodRun } from "./trace.ts";

export const DomainRandomisationConfigSchema = z.object({
  samples: z.number().int().positive().default(20).describe("Number M of sampled simulators θ_i"),
  sigma: z
    .number()
    .nonnegative()
    .default(0.5)
    .describe("Standard deviation σ of θ_i = θ_centre + σ·N(0, I) (every θ entry)"),
  centre: z
    .array(z.number())
    .optional()
    .describe("θ_centre; default the problem's starting simulator parameters"),
  tolerance: z
    .number()
    .positive()
    .default(1e-10)
    .describe("Stop the policy optimisation when the averaged objective's gradient norm is ≤ this"),
  maxIterations: z.number().int().positive().default(2000).describe("Iteration cap of the policy optimiser"),
  objective: z
    .enum(["soft", "hard"])
    .default("soft")
    .describe(
      "Tabular evaluation: soft- or hard-normalised real return (the in-sim objective is always soft)",
    ),
  inner: z
    .enum(LINEAR_INNER_SOLVERS)
    .default("exact")
    .describe(
      "Linear-Gaussian: exact (maximise the averaged exponential-reward return over K) or lqr (LQR on the mean sampled parameters)",
    ),
});
export type DomainRandomisationConfig = z.infer<typeof DomainRandomisationConfigSchema>;

/** M draws θ_centre + σ·N(0, I); an entry below its lower bound is redrawn (up to 1000 times, then clipped). */
export function sampleThetas(
  centre: ArrayLike<number>,
  sigma: number,
  M: number,
  rng: Rng,
  lower?: ArrayLike<number>,
): Float64Array[] {
  const out: Float64Array[] = [];
  for (let k = 0; k < M; k++) {
    const th = new Float64Array(centre.length);
    for (let i = 0; i < th.length; i++) {
      const lo = lower ? lower[i] : Number.NEGATIVE_INFINITY;
      let v = centre[i] + sigma * rng.normal();
      for (let tries = 0; v < lo && tries < 1000; tries++) v = centre[i] + sigma * rng.normal();
      th[i] = Math.max(v, lo);
    }
    out.push(th);
  }
  return out;
}

/** (1/M) Σ_i J_{τ,i}(softmax φ) and its exact gradient in φ. */
export function averagedTabularObjective(
  mdps: readonly TabularMDP[],
  tau: number,
  phi: ArrayLike<number>,
): { J: number; grad: Float64Array } {
  const { S, A } = mdps[0];
  const { pi, logPi } = softmaxPolicy(phi, S, A);
  const grad = new Float64Array(S * A);
  let J = 0;
  for (const mdp of mdps) {
    const ev = evaluatePolicy(mdp, pi, logPi, tau);
    J += ev.J / mdps.length;
    const g = softmaxPolicyGradient(mdp, pi, ev);
    for (let i = 0; i < g.length; i++) grad[i] += g[i] / mdps.length;
  }
  return { J, grad };
}

export interface AscentResult {
  x: Float64Array;
  J: number;
  gradNorm: number;
  iterations: number;
}

/**
 * L-BFGS ascent (memory 10) with backtracking. Near the optimum the change in J drops below rounding, so a
 * step is also accepted when J stays within rounding and the gradient shrinks.
 */
export function lbfgsAscent(
  fg: (x: Float64Array) => { J: number; grad: Float64Array },
  x0: ArrayLike<number>,
  tol: number,
  maxIterations: number,
): AscentResult {
  const memory = 10;
  let x = Float64Array.from(x0);
  let cur = fg(x);
  let gn = norm(cur.grad);
  const ss: Float64Array[] = [];
  const ys: Float64Array[] = [];
  let it = 0;
  for (; it < maxIterations && gn > tol; it++) {
    // Two-loop recursion on the minimisation of −J: d = H·∇J.
    const q = Float64Array.from(cur.grad);
    const alphas: number[] = [];
    for (let k = ss.length - 1; k >= 0; k--) {
      const a = dot(ss[k], q) / dot(ys[k], ss[k]);
      alphas[k] = a;
      for (let i = 0; i < q.length; i++) q[i] -= a * ys[k][i];
    }
    const h0 =
      ss.length > 0 ? dot(ss.at(-1)!, ys.at(-1)!) / dot(ys.at(-1)!, ys.at(-1)!) : 1 / Math.max(1, gn);
    for (let i = 0; i < q.length; i++) q[i] *= h0;
    for (let k = 0; k < ss.length; k++) {
      const b = dot(ys[k], q) / dot(ys[k], ss[k]);
      for (let i = 0; i < q.length; i++) q[i] += ss[k][i] * (alphas[k] - b);
    }
    let dir = q;
    let slope = dot(cur.grad, dir);
    if (!(slope > 0)) {
      // Not an ascent direction: restart from steepest ascent.
      ss.length = 0;
      ys.length = 0;
      dir = Float64Array.from(cur.grad, (g) => g / Math.max(1, gn));
      slope = dot(cur.grad, dir);
    }
    const slack = 1e-13 * Math.max(1, Math.abs(cur.J));
    let step = 1;
    let next: { J: number; grad: Float64Array } | null = null;
    let xt = x;
    for (let ls = 0; ls < 60; ls++) {
      xt = Float64Array.from(x, (v, i) => v + step * dir[i]);
      const t = fg(xt);
      if (t.J >= cur.J + 1e-4 * step * slope || (t.J >= cur.J - slack && norm(t.grad) < gn)) {
        next = t;
        break;
      }
      step *= 0.5;
    }
    if (next === null) {
      if (ss.length === 0) break; // no progress possible even along the gradient
      ss.length = 0;
      ys.length = 0;
      continue;
    }
    const s = Float64Array.from(xt, (v, i) => v - x[i]);
    // y of the minimisation of −J: −(∇J_new − ∇J).
    const y = Float64Array.from(next.grad, (g, i) => cur.grad[i] - g);
    if (dot(s, y) > 1e-16 * norm(s) * norm(y)) {
      ss.push(s);
      ys.push(y);
      if (ss.length > memory) {
        ss.shift();
        ys.shift();
      }
    }
    x = xt;
    cur = next;
    gn = norm(cur.grad);
  }
  return { x, J: cur.J, gradNorm: gn, iterations: it };
}

export interface TabularDomainRandomisationRun extends MethodRun {
  /** The deployed policy π(a|s), index s·A + a, and its centred logits. */
  pi: Float64Array;
  phi: Float64Array;
  /** The sampled simulators θ_i. */
  thetas: Float64Array[];
  /** Averaged objective at φ, its gradient norm, and the optimiser's iterations. */
  averageJ: number;
  gradNorm: number;
  iterations: number;
}

export function runDomainRandomisationTabular(
  problem: TabularProblem,
  config: DomainRandomisationConfig,
  rng: Rng,
): TabularDomainRandomisationRun {
  const { S, A, temperature: tau } = problem;
  const centre = Float64Array.from(config.centre ?? problem.theta0);
  const thetas = sampleThetas(centre, config.sigma, config.samples, rng);
  const mdps = thetas.map((th) => problemSimulator(problem, th));
  const start = softPolicyIteration(problemSimulator(problem, centre), tau).phi;
  const res = lbfgsAscent(
    (phi) => averagedTabularObjective(mdps, tau, phi),
    start,
    config.tolerance,
    config.maxIterations,
  );
  const phi = centreRows(res.x, A);
  const { pi, logPi } = softmaxPolicy(phi, S, A);
  const scores = normalizer(problem).scores(pi, logPi);
  const point: EvalPoint = {
    iteration: 0,
    realTransitions: 0,
    normalized: config.objective === "soft" ? scores.soft : scores.hard,
    theta: Float64Array.from(centre),
  };
  return {
    points: [point],
    theta: centre,
    pi,
    phi,
    thetas,
    averageJ: res.J,
    gradNorm: res.gradNorm,
    iterations: res.iterations,
  };
}

export interface LinearDomainRandomisationRun extends MethodRun {
  /** The deployed gain (a ~ N(−K s, Σ_a)). */
  K: Float64Array;
  thetas: Float64Array[];
  /** Averaged return at K and its gradient norm (NaN for "lqr"), and Newton iterations. */
  averageJ: number;
  gradNorm: number;
  iterations: number;
}

/** (1/M) Σ_i J_{θ_i}(K) with ∇_K and ∇²_KK. */
export function averagedLinearObjective(
  problem: LinearGaussianProblem,
  thetas: readonly Float64Array[],
  K: ArrayLike<number>,
): { J: number; grad: Float64Array; hess: Float64Array } {
  const d = K.length;
  const grad = new Float64Array(d);
  const hess = new Float64Array(d * d);
  let J = 0;
  for (const th of thetas) {
    const r = expectedReturn(problem, problemParams(problem, th), K, { derivatives: "hessK" });
    J += r.J / thetas.length;
    for (let i = 0; i < d; i++) grad[i] += r.gradK[i] / thetas.length;
    for (let i = 0; i < d * d; i++) hess[i] += r.hessKK[i] / thetas.length;
  }
  return { J, grad, hess };
}

const averagedValue = (
  problem: LinearGaussianProblem,
  thetas: readonly Float64Array[],
  K: ArrayLike<number>,
) =>
  thetas.reduce((s, th) => s + expectedReturnValue(problem, problemParams(problem, th), K), 0) /
  thetas.length;

/** Damped Newton ascent on the averaged return (gradient steps where the Hessian is not negative
 * definite), Armijo backtracking with the same rounding-level acceptance as `lbfgsAscent`. */
function newtonAverage(
  problem: LinearGaussianProblem,
  thetas: readonly Float64Array[],
  K0: ArrayLike<number>,
  tol: number,
  maxIterations: number,
): AscentResult {
  const d = K0.length;
  let K = Float64Array.from(K0);
  let cur = averagedLinearObjective(problem, thetas, K);
  let gn = norm(cur.grad);
  let it = 0;
  for (; it < maxIterations && gn > tol; it++) {
    let dir = newtonDirection(cur.hess, cur.grad, d) ?? Float64Array.from(cur.grad);
    let slope = dot(cur.grad, dir);
    if (!(slope > 0)) {
      dir = Float64Array.from(cur.grad);
      slope = gn * gn;
    }
    const slack = 1e-13 * Math.max(1, Math.abs(cur.J));
    let step = 1;
    let accepted = false;
    for (let ls = 0; ls < 60 && !accepted; ls++) {
      const Kt = Float64Array.from(K, (v, i) => v + step * dir[i]);
      const Jt = averagedValue(problem, thetas, Kt);
      if (Jt >= cur.J + 1e-4 * step * slope) accepted = true;
      else if (Jt >= cur.J - slack) {
        const t = averagedLinearObjective(problem, thetas, Kt);
        accepted = norm(t.grad) < gn;
      }
      if (accepted) K = Kt;
      else step *= 0.5;
    }
    if (!accepted) break;
    cur = averagedLinearObjective(problem, thetas, K);
    gn = norm(cur.grad);
  }
  return { x: K, J: cur.J, gradNorm: gn, iterations: it };
}

export function runDomainRandomisationLinear(
  problem: LinearGaussianProblem,
  config: DomainRandomisationConfig,
  rng: Rng,
  optimum = realOptimum(problem),
): LinearDomainRandomisationRun {
  const { n, m } = problem;
  const centre = Float64Array.from(config.centre ?? thetaFromParams(n, m, problem.simulator));
  const thetas = sampleThetas(centre, config.sigma, config.samples, rng, problem.lower);
  let K: Float64Array;
  let averageJ: number;
  let gradNorm = Number.NaN;
  let iterations = 0;
  if (config.inner === "lqr") {
    const mean = new Float64Array(centre.length);
    for (const th of thetas) for (let i = 0; i < mean.length; i++) mean[i] += th[i] / thetas.length;
    K = discountedLqr(n, m, problem.gamma, problemParams(problem, mean)).K;
    averageJ = averagedValue(problem, thetas, K);
  } else {
    const exact = maximizeExpectedReturn(problem, problemParams(problem, centre)).K;
    const zero = new Float64Array(n * m);
    const K0 = averagedValue(problem, thetas, exact) >= averagedValue(problem, thetas, zero) ? exact : zero;
    const res = newtonAverage(problem, thetas, K0, config.tolerance, config.maxIterations);
    K = res.x;
    averageJ = res.J;
    gradNorm = res.gradNorm;
    iterations = res.iterations;
  }
  const point: EvalPoint = {
    iteration: 0,
    realTransitions: 0,
    normalized: expectedReturnValue(problem, problem.real, K) / optimum.J,
    theta: Float64Array.from(centre),
  };
  return { points: [point], theta: centre, K, thetas, averageJ, gradNorm, iterations };
}
