/**
 * The SGFT objective (sgft-paper.md §4.1): rewards reshaped with the simulator's value function as a
 * potential, r̃(s, a, s′) = r + γ V_sim(s′) − V_sim(s) (Ng et al. 1999), summed over short H-step segments
 * only. Telescoping gives eq. (1):
 *
 *   Σ_{t<H} γ^t r̃_t = Σ_{t<H} γ^t r_t + γ^H V_sim(s_H) − V_sim(s_0),
 *
 * so the H-step search bootstraps long-horizon returns from V_sim alone, never from real data.
 *
 * Episode ends: a terminated episode enters an absorbing state whose potential is 0 (that keeps PBRS
 * policy-invariant over the infinite horizon, Ng et al. Thm 1), so r̃ = r − V_sim(s) there; a time-limit
 * truncation is not an end of the task and uses V_sim of the observation reached (VecEnv's `finalObs`).
 */
import type { VecEnvLike, VecStep } from "../inner/rl-common.ts";
import type { ValueFn } from "./types.ts";

/** r̃ = r + γ·(1 − terminated)·V_sim(s′) − V_sim(s). */
export function shapedReward(
  reward: number,
  vObs: number,
  vNext: number,
  gamma: number,
  terminated: boolean,
): number {
  return reward + (terminated ? 0 : gamma * vNext) - vObs;
}

/**
 * Eq. (1) for one trajectory segment: γ^H V_sim(s_H) + Σ_{t<H} γ^t r_t − V_sim(s_0), with `rewards` the H
 * rewards r_0 … r_{H−1} and `values` the H + 1 potentials V_sim(s_0) … V_sim(s_H). A segment cut short by
 * termination passes the absorbing state's potential 0 as its last value.
 */
export function segmentObjective(
  rewards: ArrayLike<number>,
  values: ArrayLike<number>,
  gamma: number,
): number {
  const H = rewards.length;
  if (values.length !== H + 1)
    throw new RangeError(`segmentObjective: need ${H + 1} values, got ${values.length}`);
  let sum = 0;
  let disc = 1;
  for (let t = 0; t < H; t++) {
    sum += disc * rewards[t];
    disc *= gamma;
  }
  return sum + disc * values[H] - values[0];
}

/** Σ_{t<H} γ^t r̃_t of a segment, relabelled step by step (what the learner sums). */
export function relabelledSegmentReturn(
  rewards: ArrayLike<number>,
  values: ArrayLike<number>,
  gamma: number,
): number {
  const H = rewards.length;
  if (values.length !== H + 1)
    throw new RangeError(`relabelledSegmentReturn: need ${H + 1} values, got ${values.length}`);
  let sum = 0;
  let disc = 1;
  for (let t = 0; t < H; t++) {
    sum += disc * shapedReward(rewards[t], values[t], values[t + 1], gamma, false);
    disc *= gamma;
  }
  return sum;
}

/**
 * A vectorised env whose rewards are relabelled with a frozen potential (PBRS-SAC, the shaping-only
 * baseline): everything else passes through unchanged. `reset` and `step` keep a copy of the observation
 * each sub-env acts on, so r̃ uses V_sim of the state the action was taken in, and of `finalObs` after it.
 */
export class ShapedVecEnv implements VecEnvLike {
  readonly n: number;
  readonly obsSize: number;
  readonly actionSize: number;
  private readonly prev: Float64Array;
  private readonly vPrev: Float64Array;
  private readonly vNext: Float64Array;
  private readonly reward: Float64Array;
  private readonly out: VecStep;

  constructor(
    private readonly inner: VecEnvLike,
    private readonly value: ValueFn,
    private readonly gamma: number,
  ) {
    this.n = inner.n;
    this.obsSize = inner.obsSize;
    this.actionSize = inner.actionSize;
    this.prev = new Float64Array(this.n * this.obsSize);
    this.vPrev = new Float64Array(this.n);
    this.vNext = new Float64Array(this.n);
    this.reward = new Float64Array(this.n);
    const none = new Float64Array(0);
    this.out = {
      obs: none,
      reward: this.reward,
      terminated: new Uint8Array(0),
      truncated: new Uint8Array(0),
      finalObs: none,
    };
  }

  reset(): Float64Array {
    const obs = this.inner.reset();
    this.prev.set(obs);
    return obs;
  }

  step(actions: Float64Array): VecStep {
    const res = this.inner.step(actions);
    this.value(this.prev, this.n, this.vPrev);
    this.value(res.finalObs, this.n, this.vNext);
    for (let i = 0; i < this.n; i++)
      this.reward[i] = shapedReward(
        res.reward[i],
        this.vPrev[i],
        this.vNext[i],
        this.gamma,
        res.terminated[i] === 1,
      );
    this.prev.set(res.obs);
    // one result object, refreshed in place (no allocation per step, like VecEnv's)
    const out = this.out;
    out.obs = res.obs;
    out.terminated = res.terminated;
    out.truncated = res.truncated;
    out.finalObs = res.finalObs;
    return out;
  }
}
