/** Shared test fixtures: the paper's discrete problem and seeded random tabular problems. */

import type { TabularProblem } from "../src/envs/tabular.ts";
import { parseTabularProblem } from "../src/envs/tabular-problem.ts";
import { Rng } from "../src/math/rng.ts";

export { paperDiscreteProblem } from "../src/experiments/problems.ts";

/** A random tabular problem (real transitions from normalised exponentials, arbitrary logits). */
export function randomProblem(S: number, A: number, seed: number, gamma = 0.9, tau = 0.7): TabularProblem {
  const rng = Rng.fromSeed(seed);
  const row = () => {
    const x = Array.from({ length: S }, () => Math.exp(2 * rng.normal()));
    const z = x.reduce((a, b) => a + b, 0);
    const p = x.map((v) => v / z);
    p[S - 1] = 1 - p.slice(0, S - 1).reduce((a, b) => a + b, 0);
    return p;
  };
  const mu = Array.from({ length: S }, () => rng.uniform() + 0.1);
  const zm = mu.reduce((a, b) => a + b, 0);
  return parseTabularProblem({
    gamma,
    temperature: tau,
    initialDistribution: mu.map((m) => m / zm),
    real: {
      transitions: Array.from({ length: S }, () => Array.from({ length: A }, row)),
      rewards: Array.from({ length: S }, () => Array.from({ length: A }, () => 3 * rng.uniform() - 1)),
    },
    simulator: {
      transitionLogits: Array.from({ length: S }, () =>
        Array.from({ length: A }, () => Array.from({ length: S }, () => rng.normal())),
      ),
      rewards: Array.from({ length: S }, () => Array.from({ length: A }, () => 3 * rng.uniform() - 1)),
    },
  });
}

/** θ_real + N(0, I) with its own seed. */
export function perturbed(theta: ArrayLike<number>, seed: number, scale = 1): Float64Array {
  const rng = Rng.fromSeed(seed);
  return Float64Array.from(theta, (t) => t + scale * rng.normal());
}

/**
 * Unbiasedness check: the largest |z| of the mean of K independent estimates against a reference,
 * entry by entry (z = (mean − ref)/(sd/√K)). Entries with no spread must match to 1e-9.
 */
export function maxZ(estimates: ArrayLike<number>[], ref: ArrayLike<number>): number {
  const K = estimates.length;
  let worst = 0;
  for (let i = 0; i < ref.length; i++) {
    let m = 0;
    for (const e of estimates) m += e[i] / K;
    let v = 0;
    for (const e of estimates) v += (e[i] - m) ** 2 / (K - 1);
    const se = Math.sqrt(v / K);
    if (se < 1e-12) {
      if (Math.abs(m - ref[i]) > 1e-9) return Number.POSITIVE_INFINITY;
      continue;
    }
    worst = Math.max(worst, Math.abs(m - ref[i]) / se);
  }
  return worst;
}
