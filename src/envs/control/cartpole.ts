/**
 * Cart-pole balancing with Gymnasium CartPole-v1 dynamics and a continuous force.
 *
 * State = observation (x, ẋ, ϑ, ϑ̇) (ϑ = 0 upright); action u ∈ [−1, 1], force F = forceMag·gain·u.
 * Gymnasium's equations (Florian 2007 / Barto 1983 form), with optional viscous friction
 * (cartFriction b_c on the cart, N·s/m; poleDamping b_p at the pivot, N·m·s/rad; both default 0):
 *
 *   M = m_c + m_p,  F′ = F − b_c ẋ,  temp = (F′ + m_p l ϑ̇² sin ϑ) / M
 *   ϑ̈ = (g sin ϑ − cos ϑ · temp − b_p ϑ̇ / (m_p l)) / (l (4/3 − m_p cos² ϑ / M))
 *   ẍ = temp − m_p l ϑ̈ cos ϑ / M
 *   x′ = x + dt ẋ, ẋ′ = ẋ + dt ẍ, ϑ′ = ϑ + dt ϑ̇, ϑ̇′ = ϑ̇ + dt ϑ̈          (explicit Euler, Gymnasium's "euler")
 *
 * l is the half-pole length (Gymnasium's `length` = 0.5). Reward +1 every step (including the one that
 * ends the episode, as Gymnasium); terminated when |x| > 2.4 or |ϑ| > 12° after the step. Reset: all four
 * variables U(−0.05, 0.05) in the order x, ẋ, ϑ, ϑ̇. 500 steps.
 */
import type { Rng } from "../../math/rng.ts";
import { box, type ControlEnv, clipAction, type EnvParams, type StepResult } from "./env.ts";

export const CARTPOLE_DEFAULTS: EnvParams = Object.freeze({
  gravity: 9.8,
  massCart: 1,
  massPole: 0.1,
  length: 0.5,
  forceMag: 10,
  gain: 1,
  dt: 0.02,
  cartFriction: 0,
  poleDamping: 0,
});

export const CARTPOLE_X_THRESHOLD = 2.4;
export const CARTPOLE_THETA_THRESHOLD = (12 * 2 * Math.PI) / 360;

/** Gymnasium's CartPole observation box (twice the termination limits; velocities unbounded), shared with
 * the MuJoCo cart-pole. */
export const CARTPOLE_OBSERVATION_SPACE = box(
  [
    -2 * CARTPOLE_X_THRESHOLD,
    Number.NEGATIVE_INFINITY,
    -2 * CARTPOLE_THETA_THRESHOLD,
    Number.NEGATIVE_INFINITY,
  ],
  [
    2 * CARTPOLE_X_THRESHOLD,
    Number.POSITIVE_INFINITY,
    2 * CARTPOLE_THETA_THRESHOLD,
    Number.POSITIVE_INFINITY,
  ],
);

/** Which parameters the gaps act on (both cart-poles use these names). */
export const CARTPOLE_PARAM_ROLES = Object.freeze({
  masses: ["massCart", "massPole"],
  gain: "gain",
  damping: ["cartFriction", "poleDamping"],
});

/**
 * One Euler step of the cart-pole under a force command u (already clipped), written into `out`
 * (may alias `s`). Shared by the env and its parametric model so the two agree bit for bit.
 */
export function cartpoleStep(p: EnvParams, s: ArrayLike<number>, u: number, out: Float64Array): void {
  const x = s[0];
  const xd = s[1];
  const th = s[2];
  const thd = s[3];
  const mp = p.massPole;
  const l = p.length;
  const total = p.massCart + mp;
  const pml = mp * l;
  const force = p.forceMag * p.gain * u - p.cartFriction * xd;
  const c = Math.cos(th);
  const sn = Math.sin(th);
  const temp = (force + pml * thd * thd * sn) / total;
  const thacc =
    (p.gravity * sn - c * temp - (p.poleDamping * thd) / pml) / (l * (4 / 3 - (mp * c * c) / total));
  const xacc = temp - (pml * thacc * c) / total;
  const dt = p.dt;
  out[0] = x + dt * xd;
  out[1] = xd + dt * xacc;
  out[2] = th + dt * thd;
  out[3] = thd + dt * thacc;
}

export class CartPoleEnv implements ControlEnv {
  readonly id = "cartpole";
  readonly description =
    "CartPole-v1 dynamics with a continuous force u·forceMag: +1 per step while |x| ≤ 2.4 and |ϑ| ≤ 12°";
  readonly stateSize = 4;
  readonly observationSpace = CARTPOLE_OBSERVATION_SPACE;
  readonly actionSpace = box([-1], [1]);
  readonly maxSteps = 500;
  readonly defaultParams = CARTPOLE_DEFAULTS;
  readonly paramRoles = CARTPOLE_PARAM_ROLES;
  private readonly u = new Float64Array(1);

  reset(_params: EnvParams, state: Float64Array, rng: Rng): void {
    for (let i = 0; i < 4; i++) state[i] = 0.1 * rng.uniform() - 0.05;
  }

  observe(_params: EnvParams, state: Float64Array, obs: Float64Array, _rng: Rng): void {
    for (let i = 0; i < 4; i++) obs[i] = state[i];
  }

  step(params: EnvParams, state: Float64Array, action: Float64Array, _rng: Rng, out: StepResult): void {
    const u = clipAction(this.actionSpace, action, this.u)[0];
    cartpoleStep(params, state, u, state);
    out.reward = 1;
    out.terminated = cartpoleTerminated(state);
  }
}

/** Gymnasium's termination test on a state. */
export function cartpoleTerminated(s: ArrayLike<number>): boolean {
  return cartpoleOutOfBounds(s[0], s[2]);
}

/** Gymnasium's termination: the cart beyond ±2.4 or the pole beyond ±12° (also the MuJoCo cart-pole's). */
export function cartpoleOutOfBounds(x: number, theta: number): boolean {
  return (
    x < -CARTPOLE_X_THRESHOLD ||
    x > CARTPOLE_X_THRESHOLD ||
    theta < -CARTPOLE_THETA_THRESHOLD ||
    theta > CARTPOLE_THETA_THRESHOLD
  );
}

export function cartpole(): CartPoleEnv {
  return new CartPoleEnv();
}
