/**
 * Fixed observation normalisation as an env: the learner sees (obs − mean) / std, with statistics computed
 * once (SGFT Appendix C: from random-action data in simulation) and then frozen, so the simulator and the
 * "real" system present the same scale to a policy, its V_sim and its dynamics model. Dynamics, rewards
 * and termination are the base env's; only `observe` and the observation box change.
 */
import { InputError } from "../../common/errors.ts";
import { box, type ControlEnv } from "./env.ts";

export interface ObservationStats {
  mean: readonly number[];
  std: readonly number[];
}

export function normalisedObservations(base: ControlEnv, stats: ObservationStats): ControlEnv {
  const k = base.observationSpace.low.length;
  const { mean, std } = stats;
  if (mean.length !== k || std.length !== k)
    throw new InputError(
      `observation statistics: expected ${k} means and stds for ${base.id}, got ${mean.length} and ${std.length}`,
      "observationNormalisation",
    );
  for (let i = 0; i < k; i++)
    if (!(Number.isFinite(mean[i]) && std[i] > 0 && Number.isFinite(std[i])))
      throw new InputError(
        `observation statistics: entry ${i} needs a finite mean and a positive std, got ${mean[i]} and ${std[i]}`,
        "observationNormalisation",
      );
  const lo = base.observationSpace.low;
  const hi = base.observationSpace.high;
  return {
    id: `${base.id}+norm`,
    description: `${base.description} [observations normalised]`,
    stateSize: base.stateSize,
    // ±Infinity bounds stay infinite: (±∞ − m)/s.
    observationSpace: box(
      Array.from(lo, (v, i) => (v - mean[i]) / std[i]),
      Array.from(hi, (v, i) => (v - mean[i]) / std[i]),
    ),
    actionSpace: base.actionSpace,
    maxSteps: base.maxSteps,
    defaultParams: base.defaultParams,
    paramRoles: base.paramRoles,
    reset: (params, state, rng) => base.reset(params, state, rng),
    observe: (params, state, obs, rng) => {
      base.observe(params, state, obs, rng);
      for (let i = 0; i < k; i++) obs[i] = (obs[i] - mean[i]) / std[i];
    },
    step: (params, state, action, rng, out) => base.step(params, state, action, rng, out),
  };
}
