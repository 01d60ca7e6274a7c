/**
 * Sim-to-real gaps: a gap is a function ControlEnv → ControlEnv that returns a *different* system with
 * the same contract — the "real" world of an experiment is `applyGaps(simulator, gaps)`.
 *
 * Two kinds:
 * - parameter gaps (`massScale`, `damping`, `actionScale`, `sgftFriction`) transform the parameter record
 *   given to every call before handing it to the wrapped env, so they act on top of whatever parameters a
 *   caller passes (an outer method that changes θ still faces the gap). They need `env.paramRoles`.
 *   `defaultParams` stays the wrapped env's (the record callers pass, not the transformed one);
 * - state gaps (`latency`, `obsNoise`) add state or randomness: `latency(k)` appends k·actionSize entries
 *   (the FIFO of pending actions) after the wrapped env's state; `obsNoise` draws from the rng passed to
 *   `observe`.
 *
 * Composition: `applyGaps(env, [A, B])` = B(A(env)) — the first gap in the list wraps the env directly,
 * later gaps wrap the result. Hence (i) B's parameter transform runs first, then A's; (ii) state layout:
 * [env state, A's extra state, B's extra state]; (iii) the env id lists the gaps in order:
 * "pendulum+mass:2+latency:1". The dynamics of the gaps provided here commute (parameter transforms are
 * products and sums — mass×a then mass×b is mass×ab, damping adds torques that masses do not scale —
 * latency acts on actions, noise on observations), so order changes the state layout and the id, not the
 * observed trajectories; repeating a gap stacks it (latency:1 twice is latency:2).
 *
 * Wrappers keep scratch buffers (not re-entrant across threads; one env per worker, as everywhere).
 */
import { InputError } from "../../common/errors.ts";
import type { Rng } from "../../math/rng.ts";
import { type ControlEnv, clipAction, type EnvParams, type ParamRoles, type StepResult } from "./env.ts";
import { sgftFrictionAccel } from "./pendulum.ts";

/** A named, composable gap. `label` is the canonical `name:magnitude` (registry.ts syntax). */
export type Gap = ((env: ControlEnv) => ControlEnv) & { readonly label: string };

export function makeGap(label: string, wrap: (env: ControlEnv) => ControlEnv): Gap {
  return Object.assign((env: ControlEnv) => wrap(env), { label });
}

/** `applyGaps(env, [A, B])` = B(A(env)): gaps apply in list order, the first one innermost. */
export function applyGaps(env: ControlEnv, gaps: readonly Gap[]): ControlEnv {
  return gaps.reduce((e, g) => g(e), env);
}

function rolesOf(env: ControlEnv, label: string): ParamRoles {
  if (!env.paramRoles)
    throw new InputError(`gap '${label}' needs an env with parameter roles; ${env.id} has none`, "gap");
  return env.paramRoles;
}

/**
 * A parameter gap: `transform` edits a copy of each parameter record (`roles` say which names to touch).
 * The copy lives in one scratch record refreshed on every call (no allocation per step).
 */
function paramGap(
  label: string,
  describe: string,
  transform: (p: Record<string, number>, roles: ParamRoles) => void,
  check?: (env: ControlEnv, roles: ParamRoles) => void,
): Gap {
  return makeGap(label, (base) => {
    const roles = rolesOf(base, label);
    check?.(base, roles);
    const keys = Object.keys(base.defaultParams);
    const scratch: Record<string, number> = { ...base.defaultParams };
    const map = (p: EnvParams): EnvParams => {
      for (let i = 0; i < keys.length; i++) scratch[keys[i]] = p[keys[i]];
      transform(scratch, roles);
      return scratch;
    };
    return {
      id: `${base.id}+${label}`,
      description: `${base.description} [gap: ${describe}]`,
      stateSize: base.stateSize,
      observationSpace: base.observationSpace,
      actionSpace: base.actionSpace,
      maxSteps: base.maxSteps,
      defaultParams: base.defaultParams,
      paramRoles: base.paramRoles,
      reset: (params, state, rng) => base.reset(map(params), state, rng),
      observe: (params, state, obs, rng) => base.observe(map(params), state, obs, rng),
      step: (params, state, action, rng, out) => base.step(map(params), state, action, rng, out),
    };
  });
}

function positive(name: string, v: number): void {
  if (!Number.isFinite(v) || v <= 0)
    throw new InputError(`${name} must be a positive number, got ${v}`, "gap");
}
function nonNegative(name: string, v: number): void {
  if (!Number.isFinite(v) || v < 0)
    throw new InputError(`${name} must be a non-negative number, got ${v}`, "gap");
}

/** Every mass × k (k > 0). */
export function massScale(k: number): Gap {
  positive("mass scale", k);
  return paramGap(`mass:${k}`, `all masses ×${k}`, (p, r) => {
    for (const name of r.masses) p[name] *= k;
  });
}

/**
 * Unmodelled viscous damping/friction: c ≥ 0 added to every damping coefficient of the env (a torque
 * −c·q̇ at each joint; on the cart-pole also a force −c·ẋ on the cart).
 */
export function damping(c: number): Gap {
  nonNegative("damping", c);
  return paramGap(`damping:${c}`, `extra viscous damping ${c}`, (p, r) => {
    for (const name of r.damping) p[name] += c;
  });
}

/** Actuator gain × k (k > 0): the real motor delivers k times the commanded torque/force. */
export function actionScale(k: number): Gap {
  positive("action scale", k);
  return paramGap(`action-scale:${k}`, `actuator gain ×${k}`, (p, r) => {
    p[r.gain] *= k;
  });
}

/**
 * The SGFT paper's pendulum friction e(s₁, s₂) with coefficient c ≥ 0 added to θ̈ (see
 * `sgftFrictionAccel` in pendulum.ts for the form and why). Only for envs that have the term (pendulum).
 */
export function sgftFriction(c: number): Gap {
  nonNegative("sgft-friction", c);
  return paramGap(
    `sgft-friction:${c}`,
    `SGFT friction e(s₁,s₂) = −${c}·[(1 + sin²s₁)s₂ + ½tanh(s₂/0.1)]`,
    (p, r) => {
      p[r.sgftFriction as string] += c;
    },
    (env, r) => {
      if (!r.sgftFriction)
        throw new InputError(
          `gap 'sgft-friction' applies only to the pendulum (an env with an SGFT friction term), not ${env.id}`,
          "gap",
        );
    },
  );
}

/** Re-export for documentation/tests: the friction term itself. */
export { sgftFrictionAccel };

/**
 * k-step action latency (k ≥ 0 integer): the action applied at step t is the one commanded at t − k
 * (zeros for the first k steps of an episode). Extra state: the k pending (clipped) actions, oldest first.
 * The wrapped env's reward sees the applied action.
 */
export function latency(k: number): Gap {
  if (!Number.isSafeInteger(k) || k < 0)
    throw new InputError(`latency must be a non-negative integer number of steps, got ${k}`, "gap");
  return makeGap(`latency:${k}`, (base) => {
    const S = base.stateSize;
    const m = base.actionSpace.low.length;
    const inner = new Float64Array(S);
    const cmd = new Float64Array(m);
    const applied = new Float64Array(m);
    const load = (state: Float64Array) => {
      for (let i = 0; i < S; i++) inner[i] = state[i];
    };
    const store = (state: Float64Array) => {
      for (let i = 0; i < S; i++) state[i] = inner[i];
    };
    return {
      id: `${base.id}+latency:${k}`,
      description: `${base.description} [gap: ${k}-step action latency]`,
      stateSize: S + k * m,
      observationSpace: base.observationSpace,
      actionSpace: base.actionSpace,
      maxSteps: base.maxSteps,
      defaultParams: base.defaultParams,
      paramRoles: base.paramRoles,
      reset(params: EnvParams, state: Float64Array, rng: Rng) {
        base.reset(params, inner, rng);
        store(state);
        for (let i = S; i < S + k * m; i++) state[i] = 0;
      },
      observe(params: EnvParams, state: Float64Array, obs: Float64Array, rng: Rng) {
        load(state);
        base.observe(params, inner, obs, rng);
      },
      step(params: EnvParams, state: Float64Array, action: Float64Array, rng: Rng, out: StepResult) {
        clipAction(base.actionSpace, action, cmd);
        if (k === 0) {
          for (let j = 0; j < m; j++) applied[j] = cmd[j];
        } else {
          for (let j = 0; j < m; j++) applied[j] = state[S + j];
          for (let i = S; i < S + (k - 1) * m; i++) state[i] = state[i + m];
          for (let j = 0; j < m; j++) state[S + (k - 1) * m + j] = cmd[j];
        }
        load(state);
        base.step(params, inner, applied, rng, out);
        store(state);
      },
    };
  });
}

/** Additive Gaussian observation noise N(0, σ²) on every observation entry (σ ≥ 0), from observe's rng. */
export function obsNoise(sigma: number): Gap {
  nonNegative("obs-noise", sigma);
  return makeGap(`obs-noise:${sigma}`, (base) => {
    const n = base.observationSpace.low.length;
    return {
      id: `${base.id}+obs-noise:${sigma}`,
      description: `${base.description} [gap: observation noise σ = ${sigma}]`,
      stateSize: base.stateSize,
      observationSpace: base.observationSpace,
      actionSpace: base.actionSpace,
      maxSteps: base.maxSteps,
      defaultParams: base.defaultParams,
      paramRoles: base.paramRoles,
      reset: (params, state, rng) => base.reset(params, state, rng),
      observe(params, state, obs, rng) {
        base.observe(params, state, obs, rng);
        for (let i = 0; i < n; i++) obs[i] += sigma * rng.normal();
      },
      step: (params, state, action, rng, out) => base.step(params, state, action, rng, out),
    };
  });
}
