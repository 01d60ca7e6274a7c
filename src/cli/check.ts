/** `sim2real check`: the exact IFT sensitivity against finite differences of the inner solution. */

import { problemSimulator } from "../envs/tabular.ts";
import { loadTabularProblem } from "../envs/tabular-problem.ts";
import { softPolicyIteration } from "../inner/soft-policy-iteration.ts";
import { relativeError } from "../math/linalg.ts";
import { Rng } from "../math/rng.ts";
import { exactRealGradient } from "../outer/real-gradient.ts";
import { fdInnerSensitivity } from "../sensitivity/finite-difference.ts";
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
  const problem = loadTabularProblem(o.problem);
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
