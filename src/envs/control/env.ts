/**
 * The control-environment contract (DESIGN §2): Gymnasium-shaped (reset → observation; step →
 * observation, reward, terminated, truncated) in a functional form. Everything an episode carries lives in
 * a plain `Float64Array` state; the simulator's physical parameters are an explicit argument of every
 * call, so an outer method can change them between (or within) episodes and nothing derived is cached.
 *
 * A "real" system in this product is a simulator plus a gap (gaps.ts): the same contract, different
 * parameters or extra state (latency, friction terms) that the learner never sees.
 */
import { InputError } from "../../common/errors.ts";
import type { Rng } from "../../math/rng.ts";

/** A box of `low[i] ≤ x[i] ≤ high[i]` (±Infinity where unbounded). */
export interface Box {
  readonly low: Float64Array;
  readonly high: Float64Array;
}

/** Physical parameters by name (masses, lengths, damping, gravity, actuator gain, timestep, ...). */
export type EnvParams = Readonly<Record<string, number>>;

/** Names of the parameters that play a physical role (see `ControlEnv.paramRoles`). */
export interface ParamRoles {
  /** Every mass of the system (a mass gap multiplies all of them). */
  readonly masses: readonly string[];
  /** The actuator gain multiplying the (clipped) action. */
  readonly gain: string;
  /** Viscous damping / friction coefficients (a damping gap adds to each). */
  readonly damping: readonly string[];
  /** Coefficient of the SGFT pendulum friction term e(s₁, s₂) (gaps.ts), where the env has one. */
  readonly sgftFriction?: string;
}

/** What one `step` reports besides the new state (written into a caller-owned object: no allocation). */
export interface StepResult {
  reward: number;
  /** The episode ended inside the task (fell over, reached the goal). */
  terminated: boolean;
}

export interface ControlEnv {
  /** Task name as listed by `sim2real envs`. */
  readonly id: string;
  readonly description: string;
  /** Length of the internal state vector (may exceed the observation: latency buffers, time step count). */
  readonly stateSize: number;
  readonly observationSpace: Box;
  /** Actions are clipped to this box inside `step`: a policy can never push the system outside it. */
  readonly actionSpace: Box;
  /** Episode length after which an episode is truncated (Gymnasium's TimeLimit). */
  readonly maxSteps: number;
  /** The simulator's nominal parameters; `step` reads only what it needs from the record it is given. */
  readonly defaultParams: EnvParams;
  /**
   * Optional: which parameters are masses, actuator gain, damping (read by the gaps in gaps.ts that act on
   * "all masses", "the actuator", "joint damping"). Envs without it accept only the gaps that add state.
   */
  readonly paramRoles?: ParamRoles;
  /** Writes an initial state (drawn with rng) into `state`. */
  reset(params: EnvParams, state: Float64Array, rng: Rng): void;
  /** Writes the observation of `state` into `obs` (rng for observation noise; deterministic envs ignore it). */
  observe(params: EnvParams, state: Float64Array, obs: Float64Array, rng: Rng): void;
  /**
   * Advances `state` in place under `action` (clipped to `actionSpace` first; `action` itself is not
   * modified) and writes reward and termination into `out`.
   */
  step(params: EnvParams, state: Float64Array, action: Float64Array, rng: Rng, out: StepResult): void;
}

/** Clip `action` into `box`, writing into `out` (may alias `action`). */
export function clipAction(box: Box, action: ArrayLike<number>, out: Float64Array): Float64Array {
  for (let i = 0; i < box.low.length; i++) {
    const a = action[i];
    // NaN goes to the lower bound rather than into the physics.
    out[i] = a > box.high[i] ? box.high[i] : a >= box.low[i] ? a : box.low[i];
  }
  return out;
}

export function box(low: ArrayLike<number>, high: ArrayLike<number>): Box {
  if (low.length !== high.length) throw new RangeError("box: low and high differ in length");
  return { low: Float64Array.from(low), high: Float64Array.from(high) };
}

/** Observation length of an env. */
export function obsSize(env: Pick<ControlEnv, "observationSpace">): number {
  return env.observationSpace.low.length;
}

/** Action length of an env. */
export function actionSize(env: Pick<ControlEnv, "actionSpace">): number {
  return env.actionSpace.low.length;
}

/**
 * A complete parameter record for `env`: its defaults overridden by `overrides`. Unknown names and
 * non-finite values are rejected (InputError naming the field), so a typo never turns into NaN physics.
 */
export function resolveParams(env: ControlEnv, overrides: Readonly<Record<string, number>> = {}): EnvParams {
  const out: Record<string, number> = { ...env.defaultParams };
  for (const [k, v] of Object.entries(overrides)) {
    if (!(k in env.defaultParams))
      throw new InputError(
        `unknown parameter '${k}' for ${env.id}; known: ${Object.keys(env.defaultParams).join(", ")}`,
        `params.${k}`,
      );
    if (typeof v !== "number" || !Number.isFinite(v))
      throw new InputError(`parameter '${k}' must be a finite number, got ${v}`, `params.${k}`);
    out[k] = v;
  }
  return Object.freeze(out);
}
