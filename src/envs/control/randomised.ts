/**
 * Domain randomisation as an env (the classical zero-shot baseline, Tobin et al. 2017; SGFT paper §6
 * baselines): every episode draws the named physical parameters uniformly from their ranges at `reset`,
 * and the whole episode runs with them. The draws live in the state (appended after the base env's
 * entries), not in the wrapper: the env stays a pure function of (params, state, action, rng), and a
 * VecEnv's copies each carry their own draw.
 *
 * The base env only ever reads and writes its first `stateSize` entries (the ControlEnv contract), so the
 * longer state is passed to it unchanged.
 */
import { InputError } from "../../common/errors.ts";
import type { ControlEnv, EnvParams } from "./env.ts";

/** Parameter name → [low, high] of its uniform draw. */
export type ParamRanges = Readonly<Record<string, readonly [number, number]>>;

export function domainRandomised(base: ControlEnv, ranges: ParamRanges): ControlEnv {
  const names = Object.keys(ranges);
  if (names.length === 0)
    throw new InputError("domain randomisation needs at least one parameter range", "ranges");
  for (const k of names) {
    if (!(k in base.defaultParams))
      throw new InputError(
        `ranges.${k}: ${base.id} has no parameter '${k}'; it has ${Object.keys(base.defaultParams).join(", ")}`,
        `ranges.${k}`,
      );
    const [lo, hi] = ranges[k];
    if (!(Number.isFinite(lo) && Number.isFinite(hi) && lo <= hi))
      throw new InputError(
        `ranges.${k}: expected finite [low, high] with low ≤ high, got [${lo}, ${hi}]`,
        `ranges.${k}`,
      );
  }
  const off = base.stateSize;
  const keys = Object.keys(base.defaultParams);
  // One scratch record refreshed on every call (no allocation per step).
  const scratch: Record<string, number> = { ...base.defaultParams };
  const withDraw = (p: EnvParams, state: Float64Array): EnvParams => {
    for (let i = 0; i < keys.length; i++) scratch[keys[i]] = p[keys[i]];
    for (let j = 0; j < names.length; j++) scratch[names[j]] = state[off + j];
    return scratch;
  };
  const label = names.map((k) => `${k}~U[${ranges[k][0]}, ${ranges[k][1]}]`).join(", ");
  return {
    id: `${base.id}+dr`,
    description: `${base.description} [domain randomisation: ${label}]`,
    stateSize: off + names.length,
    observationSpace: base.observationSpace,
    actionSpace: base.actionSpace,
    maxSteps: base.maxSteps,
    defaultParams: base.defaultParams,
    paramRoles: base.paramRoles,
    reset: (params, state, rng) => {
      // The draw comes first, so the base env's initial state uses the same stream after it.
      for (let j = 0; j < names.length; j++) {
        const [lo, hi] = ranges[names[j]];
        state[off + j] = lo + (hi - lo) * rng.uniform();
      }
      base.reset(withDraw(params, state), state, rng);
    },
    observe: (params, state, obs, rng) => base.observe(withDraw(params, state), state, obs, rng),
    step: (params, state, action, rng, out) => base.step(withDraw(params, state), state, action, rng, out),
  };
}
