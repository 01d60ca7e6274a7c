/** `sim2real gradient`: one bi-level gradient at the problem's simulator θ. */

import { evaluatePolicy, softmaxPolicyGradient } from "../critics/tabular.ts";
import { problemSimulator } from "../envs/tabular.ts";
import { loadTabularProblem } from "../envs/tabular-problem.ts";
import { TabularRealSystem } from "../envs/tabular-rollout.ts";
import { softPolicyIteration } from "../inner/soft-policy-iteration.ts";
import { Rng } from "../math/rng.ts";
import { outerGradient, type SensitivityMethod } from "../outer/bilevel.ts";
import { normalizer } from "../outer/normalized-return.ts";
import { type Objective, objectiveTemperature, reinforceGradient } from "../outer/real-gradient.ts";

export interface GradientOptions {
  problem: string;
  objective: Objective;
  method: SensitivityMethod;
  realGradient: "exact" | "sampled";
  simSteps: number;
  realTrajectories: number;
  realHorizon: number;
  seed: number;
  json?: boolean;
}

const rows = (a: ArrayLike<number>, cols: number): number[][] =>
  Array.from({ length: a.length / cols }, (_, i) => Array.from(a).slice(i * cols, (i + 1) * cols));

export function gradientCommand(o: GradientOptions): void {
  const problem = loadTabularProblem(o.problem);
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
