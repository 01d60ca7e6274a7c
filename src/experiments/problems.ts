/** Built-in tabular problems. */

import type { LinearGaussianProblem } from "../envs/linear-gaussian.ts";
import type { TabularProblem } from "../envs/tabular.ts";
import { parseTabularProblem } from "../envs/tabular-problem.ts";

const paperP = [
  [
    [0.9, 0.08, 0.02],
    [0.15, 0.8, 0.05],
  ],
  [
    [0.1, 0.85, 0.05],
    [0.25, 0.05, 0.7],
  ],
  [
    [0.3, 0.05, 0.65],
    [0.1, 0.6, 0.3],
  ],
];
const paperR = [
  [0.5, 0.0],
  [0.5, 0.0],
  [3.0, 1.5],
];

/**
 * The bi-level paper's discrete example (Section 5): states 0, 1, 2; actions 0 = stay, 1 = move;
 * γ = 0.9, τ = 0.5, uniform start; the simulator starts accurate (θ^f = log P, θ^R = r).
 */
export function paperDiscreteProblem(): TabularProblem {
  return parseTabularProblem(
    {
      gamma: 0.9,
      temperature: 0.5,
      initialDistribution: [1 / 3, 1 / 3, 1 / 3],
      real: { transitions: paperP, rewards: paperR },
      simulator: { transitionLogits: paperP.map((r) => r.map((p) => p.map(Math.log))), rewards: paperR },
    },
    "paper-discrete",
  );
}

/**
 * The bi-level paper's continuous example (§5): s⁺ = θ_s s + θ_a a + ε, σ = 0.2, reward
 * exp(−λ(θ_q s² + θ_r a²)) with λ = 5, γ = 0.9, s₀ ~ N(0, 4), policy a ~ N(−K s, 0.3²), horizon 400.
 * Real θ = (1, 1, 1, 1); the simulator starts accurate; θ_a, θ_q, θ_r ≥ 1e−3.
 */
export function paperContinuousProblem(): LinearGaussianProblem {
  const real = { A: Float64Array.of(1), B: Float64Array.of(1), Q: Float64Array.of(1), R: Float64Array.of(1) };
  return {
    n: 1,
    m: 1,
    gamma: 0.9,
    lambda: 5,
    horizon: 400,
    noiseCov: Float64Array.of(0.2 ** 2),
    policyCov: Float64Array.of(0.3 ** 2),
    initialCov: Float64Array.of(4),
    real,
    simulator: { A: Float64Array.of(1), B: Float64Array.of(1), Q: Float64Array.of(1), R: Float64Array.of(1) },
    lower: Float64Array.of(Number.NEGATIVE_INFINITY, 1e-3, 1e-3, 1e-3),
  };
}

/**
 * A 2-D variant that runs through the same n-dimensional code: a noisy double integrator (position,
 * velocity; force input), dt = 0.1, γ = 0.95, λ = 2, reward exp(−λ(x² + 0.1 v² + 0.1 u²)),
 * s₀ ~ N(0, diag(1, 0.25)), policy std 0.5, process noise std 0.01. LQR on the accurate simulator
 * reaches 0.958 of the real optimum.
 */
export function doubleIntegratorProblem(): LinearGaussianProblem {
  const dt = 0.1;
  const params = () => ({
    A: Float64Array.of(1, dt, 0, 1),
    B: Float64Array.of((dt * dt) / 2, dt),
    Q: Float64Array.of(1, 0, 0, 0.1),
    R: Float64Array.of(0.1),
  });
  return {
    n: 2,
    m: 1,
    gamma: 0.95,
    lambda: 2,
    horizon: 400,
    noiseCov: Float64Array.of(1e-4, 0, 0, 1e-4),
    policyCov: Float64Array.of(0.25),
    initialCov: Float64Array.of(1, 0, 0, 0.25),
    real: params(),
    simulator: params(),
    // A and B free; diag Q and R ≥ 1e−3.
    lower: Float64Array.of(...Array(6).fill(Number.NEGATIVE_INFINITY), 1e-3, 1e-3, 1e-3),
  };
}

/**
 * The discrete example with a smaller simulator family: states 0 and 1 are aggregated in the simulator's
 * dynamics (rows (0, a) and (1, a) share their transition logits), while the real MDP treats them very
 * differently (from 0, "stay" stays at 0 w.p. 0.9; from 1 it moves to 1 w.p. 0.85). Rewards stay free.
 */
export function aggregatedStatesProblem(): TabularProblem {
  const p = paperDiscreteProblem();
  return { ...p, rowGroups: Int32Array.of(0, 1, 0, 1, 2, 3) };
}
