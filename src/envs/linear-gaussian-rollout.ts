/**
 * Real-world side of a linear-Gaussian problem: a "real" system whose parameters the learner never reads,
 * only samples, and which counts every transition it hands out (the expensive, irreplaceable resource).
 */
import type { Rng } from "../math/rng.ts";
import type { LinearGaussianPolicy } from "../policies/linear-gaussian.ts";
import {
  cholesky,
  gaussianDraw,
  type LinearGaussianParams,
  type LinearGaussianSystem,
  noiseModel,
  reward,
  step,
} from "./linear-gaussian.ts";

/** N trajectories of H steps, flat: states[(i·H + t)·n + k], actions[(i·H + t)·m + k], rewards[i·H + t]. */
export interface LinearBatch {
  N: number;
  H: number;
  states: Float64Array;
  actions: Float64Array;
  rewards: Float64Array;
}

/** Roll out a policy on the system with parameters p (simulator or real). */
export function rolloutLinear(
  sys: LinearGaussianSystem,
  p: LinearGaussianParams,
  policy: LinearGaussianPolicy,
  N: number,
  H: number,
  rng: Rng,
): LinearBatch {
  const { n, m } = sys;
  const noise = noiseModel(sys);
  const L0 = cholesky(sys.initialCov, n);
  const states = new Float64Array(N * H * n);
  const actions = new Float64Array(N * H * m);
  const rewards = new Float64Array(N * H);
  let s = new Float64Array(n);
  let next = new Float64Array(n);
  const a = new Float64Array(m);
  for (let i = 0; i < N; i++) {
    gaussianDraw(L0, n, rng, s);
    for (let t = 0; t < H; t++) {
      const idx = i * H + t;
      states.set(s, idx * n);
      policy.sample(s, rng, a);
      actions.set(a, idx * m);
      rewards[idx] = reward(sys, p, s, a);
      step(sys, noise, p, s, a, rng, next);
      const tmp = s;
      s = next;
      next = tmp;
    }
  }
  return { N, H, states, actions, rewards };
}

/** The real system: hidden parameters, counted transitions. */
export class LinearGaussianRealSystem {
  private readonly sys: LinearGaussianSystem;
  private readonly params: LinearGaussianParams;
  transitionsUsed = 0;

  constructor(sys: LinearGaussianSystem, params: LinearGaussianParams) {
    this.sys = sys;
    this.params = params;
  }

  rollout(policy: LinearGaussianPolicy, N: number, H: number, rng: Rng): LinearBatch {
    const b = rolloutLinear(this.sys, this.params, policy, N, H, rng);
    this.transitionsUsed += N * H;
    return b;
  }
}
