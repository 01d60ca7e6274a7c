/**
 * Deterministic evaluation of a controller on a (possibly gapped) env, the one `sim2real eval`, the
 * closing evaluation of `sim2real train` and scripts/zero-shot.ts use:
 *
 *   K episodes = one episode in each copy of VecEnv(env, {}, K, Rng.fromSeed(seed)), scored by
 *   rl-common.ts `evaluateEpisodes` (mean and population std of the undiscounted returns).
 *
 * so anyone can recompute a printed number from the checkpoint with those two calls. For tasks with a
 * success test (make-env.ts `taskSuccess`, mj-puck) the share of episodes whose last state succeeds is
 * reported too; it is read from the simulator state by a pass-through wrapper that changes no dynamics,
 * reward or random draw.
 */
import type { ControlEnv, EnvParams, StepResult } from "../envs/control/env.ts";
import { VecEnv } from "../envs/control/vec-env.ts";
import { type ActFn, evaluateEpisodes } from "../inner/rl-common.ts";
import { Rng } from "../math/rng.ts";
import type { PolicyEvaluation } from "./checkpoint-file.ts";

/** Defaults of `sim2real eval` (and of the closing evaluation stored by `train`). */
export const EVAL_DEFAULTS = Object.freeze({ episodes: 20, seed: 0 });

/**
 * `env` with every step passed through unchanged, recording for each state buffer (= each VecEnv copy)
 * whether the first episode's last state passes `success`. An episode ends, as in VecEnv, on termination
 * or after env.maxSteps steps.
 */
function successProbe(
  env: ControlEnv,
  success: (state: Float64Array) => boolean,
): { env: ControlEnv; outcomes: Map<Float64Array, boolean> } {
  const steps = new Map<Float64Array, number>();
  const outcomes = new Map<Float64Array, boolean>();
  const probe: ControlEnv = {
    id: env.id,
    description: env.description,
    stateSize: env.stateSize,
    observationSpace: env.observationSpace,
    actionSpace: env.actionSpace,
    maxSteps: env.maxSteps,
    defaultParams: env.defaultParams,
    paramRoles: env.paramRoles,
    reset(params: EnvParams, state: Float64Array, rng: Rng) {
      steps.set(state, 0);
      env.reset(params, state, rng);
    },
    observe: (params, state, obs, rng) => env.observe(params, state, obs, rng),
    step(params: EnvParams, state: Float64Array, action: Float64Array, rng: Rng, out: StepResult) {
      env.step(params, state, action, rng, out);
      const t = (steps.get(state) ?? 0) + 1;
      steps.set(state, t);
      if (!outcomes.has(state) && (out.terminated || t >= env.maxSteps)) outcomes.set(state, success(state));
    },
  };
  return { env: probe, outcomes };
}

/**
 * Evaluate `act` (deterministic) for `episodes` episodes on `env` from `seed` (see the module comment).
 * `success` (optional) is the task's test on an episode's last state.
 */
export function evaluatePolicy(
  env: ControlEnv,
  act: ActFn,
  episodes: number = EVAL_DEFAULTS.episodes,
  seed: number = EVAL_DEFAULTS.seed,
  success?: (state: Float64Array) => boolean,
): PolicyEvaluation {
  const probe = success === undefined ? null : successProbe(env, success);
  const vec = new VecEnv(probe?.env ?? env, {}, episodes, Rng.fromSeed(seed));
  const res = evaluateEpisodes(vec, act);
  const out: PolicyEvaluation = {
    episodes,
    seed,
    mean: res.mean,
    std: res.std,
    length: res.length,
    returns: res.returns,
  };
  if (probe !== null) {
    let ok = 0;
    for (const s of vec.states) if (probe.outcomes.get(s)) ok++;
    out.successRate = ok / episodes;
  }
  return out;
}
