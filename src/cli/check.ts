/** `sim2real check`: the exact IFT sensitivity against finite differences of the inner solution. */

import { InputError } from "../common/errors.ts";
import { type LinearGaussianProblem, problemParams, thetaFromParams } from "../envs/linear-gaussian.ts";
import { loadAnyProblem } from "../envs/linear-gaussian-problem.ts";
import { problemSimulator } from "../envs/tabular.ts";
import { maximizeExpectedReturn } from "../inner/linear-gaussian-exact.ts";
import { discountedLqr } from "../inner/lqr.ts";
import { softPolicyIteration } from "../inner/soft-policy-iteration.ts";
import { relativeError } from "../math/linalg.ts";
import { Rng } from "../math/rng.ts";
import { exactRealGradient } from "../outer/real-gradient.ts";
import { fdInnerSensitivity, fdJacobian } from "../sensitivity/finite-difference.ts";
import {
  exactSolverSensitivity,
  lqrPolicyGradientSensitivity,
  lqrRiccatiSensitivity,
} from "../sensitivity/linear-gaussian.ts";
import {
  adjointOuterGradient,
  closedFormSensitivity,
  iftSensitivity,
  jacobianTransposeTimes,
} from "../sensitivity/tabular-exact.ts";

export interface CheckOptions {
  problem: string;
  random: number;
  seed: number;
  step: number;
  json?: boolean;
}

export interface CheckRow {
  point: string;
  iftVsFd: number;
  closedFormVsIft: number;
  adjointVsIft: number;
}

/** Thresholds of the product's own acceptance (README). */
export const CHECK_LIMITS = { iftVsFd: 1e-7, closedFormVsIft: 1e-10, adjointVsIft: 1e-10 };

export function checkCommand(o: CheckOptions): void {
  const any = loadAnyProblem(o.problem);
  if (any.kind === "linear-gaussian") {
    checkLinear(any.problem, o);
    return;
  }
  const problem = any.problem;
  const rng = Rng.fromSeed(o.seed);
  const points: { label: string; theta: Float64Array }[] = [{ label: "problem θ", theta: problem.theta0 }];
  for (let i = 0; i < o.random; i++)
    points.push({
      label: `random θ #${i + 1}`,
      theta: Float64Array.from(problem.theta0, (t) => t + rng.normal()),
    });
  const rows: CheckRow[] = points.map(({ label, theta }) => {
    const sim = problemSimulator(problem, theta);
    const sol = softPolicyIteration(sim, problem.temperature, { tol: 1e-15 });
    const inp = { sim, pi: sol.pi, logPi: sol.logPi, tau: problem.temperature, evaluation: sol.evaluation };
    const ift = iftSensitivity(inp);
    const fd = fdInnerSensitivity(problem, problem.temperature, theta, o.step);
    const v = exactRealGradient(problem.real, sol.pi, sol.logPi, problem.temperature);
    return {
      point: label,
      iftVsFd: relativeError(ift, fd),
      closedFormVsIft: relativeError(closedFormSensitivity(inp), ift),
      adjointVsIft: relativeError(adjointOuterGradient(inp, v), jacobianTransposeTimes(ift, v, theta.length)),
    };
  });
  const pass = rows.every(
    (r) =>
      r.iftVsFd <= CHECK_LIMITS.iftVsFd &&
      r.closedFormVsIft <= CHECK_LIMITS.closedFormVsIft &&
      r.adjointVsIft <= CHECK_LIMITS.adjointVsIft,
  );
  if (o.json) process.stdout.write(`${JSON.stringify({ rows, limits: CHECK_LIMITS, pass })}\n`);
  else {
    const e = (x: number) => x.toExponential(2).padStart(10);
    process.stdout.write(
      `${"point".padEnd(14)} ${"IFT vs FD".padStart(10)} ${"closed-form".padStart(11)} ${"adjoint".padStart(10)}\n`,
    );
    for (const r of rows)
      process.stdout.write(
        `${r.point.padEnd(14)} ${e(r.iftVsFd)} ${e(r.closedFormVsIft).padStart(11)} ${e(r.adjointVsIft)}\n`,
      );
    process.stdout.write(
      `relative errors; limits ${CHECK_LIMITS.iftVsFd} (IFT vs central differences, step ${o.step}), ${CHECK_LIMITS.closedFormVsIft} (closed form and adjoint vs IFT): ${pass ? "ok" : "FAIL"}\n`,
    );
  }
  if (!pass) process.exitCode = 1;
}

/** Limits for linear-Gaussian problems (issue 3): dK/dθ vs finite differences, and the two LQR routes. */
export const LINEAR_CHECK_LIMITS = { vsFd: 1e-6, lqrRoutes: 1e-8 };

/**
 * Linear-Gaussian problems: dK/dθ of both inner solvers against central differences of the full solves, and
 * the two LQR routes against each other, at the file's simulator θ and at random θ (θ_sim + 0.1·N(0, I),
 * lower bounds applied).
 */
function checkLinear(problem: LinearGaussianProblem, o: CheckOptions): void {
  const { n, m, gamma } = problem;
  const rng = Rng.fromSeed(o.seed);
  const theta0 = thetaFromParams(n, m, problem.simulator);
  const points: { label: string; theta: Float64Array }[] = [{ label: "problem θ", theta: theta0 }];
  for (let i = 0; i < o.random; i++)
    points.push({
      label: `random θ #${i + 1}`,
      theta: Float64Array.from(theta0, (t, k) => Math.max(problem.lower[k], t + 0.1 * rng.normal())),
    });
  const rows = points.map(({ label, theta }) => {
    const P = (t: ArrayLike<number>) => problemParams(problem, t);
    let lqr: ReturnType<typeof discountedLqr>;
    try {
      lqr = discountedLqr(n, m, gamma, P(theta));
    } catch (e) {
      throw new InputError(`${label}: ${(e as Error).message}`, "simulator");
    }
    const r1 = lqrRiccatiSensitivity(problem, P(theta), lqr);
    const r2 = lqrPolicyGradientSensitivity(problem, P(theta), lqr.K);
    const fdl = fdJacobian((t) => discountedLqr(n, m, gamma, P(t)).K, theta, o.step);
    const ex = maximizeExpectedReturn(problem, P(theta));
    const dK = exactSolverSensitivity(problem, P(theta), ex.K);
    const fde = fdJacobian(
      (t) => maximizeExpectedReturn(problem, P(t), { initK: ex.K, search: "local" }).K,
      theta,
      o.step,
    );
    return {
      point: label,
      exactVsFd: relativeError(dK, fde),
      lqrVsFd: relativeError(r1, fdl),
      lqrRoutes: relativeError(r2, r1),
    };
  });
  const pass = rows.every(
    (r) =>
      r.exactVsFd <= LINEAR_CHECK_LIMITS.vsFd &&
      r.lqrVsFd <= LINEAR_CHECK_LIMITS.vsFd &&
      r.lqrRoutes <= LINEAR_CHECK_LIMITS.lqrRoutes,
  );
  if (o.json) process.stdout.write(`${JSON.stringify({ rows, limits: LINEAR_CHECK_LIMITS, pass })}\n`);
  else {
    const e = (x: number) => x.toExponential(2).padStart(12);
    process.stdout.write(
      `${"point".padEnd(14)} ${"exact vs FD".padStart(12)} ${"LQR vs FD".padStart(12)} ${"LQR routes".padStart(12)}\n`,
    );
    for (const r of rows)
      process.stdout.write(`${r.point.padEnd(14)} ${e(r.exactVsFd)} ${e(r.lqrVsFd)} ${e(r.lqrRoutes)}\n`);
    process.stdout.write(
      `relative errors of dK/dθ; limits ${LINEAR_CHECK_LIMITS.vsFd} (vs central differences of the full solves, step ${o.step}), ${LINEAR_CHECK_LIMITS.lqrRoutes} (Riccati fixed point vs IFT of the quadratic policy gradient): ${pass ? "ok" : "FAIL"}\n`,
    );
  }
  if (!pass) process.exitCode = 1;
}
