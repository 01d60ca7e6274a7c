/**
 * What the SGFT variants (sgft-paper.md) share: the frozen simulator value V_sim, a learned model p̂ of
 * the real dynamics, and a stochastic policy prior (the actor carried over from simulation).
 *
 * All functions are batched over n rows (row-major Float64Arrays) and write into caller-owned buffers.
 * Observations and actions are in env units (actions inside the env's action box).
 */
import type { Rng } from "../math/rng.ts";

/** V_sim(s): the value function learned in simulation, frozen during fine-tuning (the potential of eq. (1)). */
export type ValueFn = (obs: Float64Array, n: number, out: Float64Array) => void;

/**
 * A learned one-step model of the real system (delta dynamics, src/sgft/dynamics-model.ts):
 * for each row, the predicted next observation, the reward r(s, a, s′) and the probability that the
 * episode continues (1 − P[terminated]).
 */
export interface LearnedModel {
  readonly obsSize: number;
  readonly actionSize: number;
  predict(
    obs: Float64Array,
    actions: Float64Array,
    n: number,
    nextObs: Float64Array,
    reward: Float64Array,
    cont: Float64Array,
  ): void;
}

/** A stochastic policy: n actions (env units, inside the action box) drawn with `rng`. */
export type SampleFn = (obs: Float64Array, n: number, out: Float64Array, rng: Rng) => void;
