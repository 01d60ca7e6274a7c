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
import type { RealTransitionLog } from "./real-log.ts";

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
  /** Called after every step with its flat index, s, a, r and s′ (before anything uses the batch). */
  onStep?: (idx: number, s: Float64Array, a: Float64Array, r: number, s2: Float64Array) => void,
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
      onStep?.(idx, s, a, rewards[idx], next);
      const tmp = s;
      s = next;
      next = tmp;
    }
  }
  return { N, H, states, actions, rewards };
}

/** The real system: hidden parameters, counted transitions; with a log, each transition (s, a, r, s′) is
 * committed to it as it happens, before the batch is handed out. */
export class LinearGaussianRealSystem {
  private readonly sys: LinearGaussianSystem;
  private readonly params: LinearGaussianParams;
  private readonly log?: RealTransitionLog;
  private batches = 0;
  transitionsUsed = 0;

  constructor(sys: LinearGaussianSystem, params: LinearGaussianParams, log?: RealTransitionLog) {
    this.sys = sys;
    this.params = params;
    this.log = log;
  }

  rollout(policy: LinearGaussianPolicy, N: number, H: number, rng: Rng): LinearBatch {
    const { n, m } = this.sys;
    const log = this.log;
    const batch = this.batches++;
    const row = new Float64Array(2 * n + m + 1);
    const b = rolloutLinear(
      this.sys,
      this.params,
      policy,
      N,
      H,
      rng,
      log &&
        ((idx, s, a, r, s2) => {
          row.set(s, 0);
          row.set(a, n);
          row[n + m] = r;
          row.set(s2, n + m + 1);
          log.commit(batch, idx, row, rng.state());
        }),
    );
    this.transitionsUsed += N * H;
    return b;
  }
}
