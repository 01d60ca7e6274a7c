/**
 * Pendulum swing-up with Gymnasium Pendulum-v1 conventions.
 *
 * State (θ, θ̇), θ = 0 upright, unbounded (not wrapped); observation (cos θ, sin θ, θ̇); action a torque
 * u ∈ [−2, 2]. A uniform rod of mass m and length l pivoted at one end (I = m l²/3, gravity acting at l/2):
 *
 *   θ̈ = 3g/(2l) sin θ + 3/(m l²) (gain·u − damping·θ̇) + e(θ, θ̇)
 *   θ̇′ = clip(θ̇ + θ̈ dt, ±maxSpeed),   θ′ = θ + θ̇′ dt          (semi-implicit Euler, as Gymnasium)
 *   r = −(angleNormalize(θ)² + 0.1 θ̇² + 0.001 u²)               (pre-step state, clipped command u)
 *
 * u is clipped to the action box and to ±maxTorque. `damping` (default 0) is a viscous joint torque,
 * `gain` (default 1) the actuator gain, `sgftFriction` (default 0) the coefficient c of the SGFT paper's
 * unmodelled term e (see `sgftFrictionAccel`; it is an acceleration, added to θ̈ as in the paper).
 * With all three at their defaults the step is Gymnasium's exactly. Reset: θ ~ U(−π, π), θ̇ ~ U(−1, 1)
 * (in that order from the rng). 200 steps, never terminates.
 *
 * Energy: with damping = sgftFriction = 0, u = 0 the equation of motion is I θ̈ = m g (l/2) sin θ, which
 * conserves E = ½ (m l²/3) θ̇² + m g (l/2) cos θ (centre of mass at height (l/2) cos θ).
 */
import type { Rng } from "../../math/rng.ts";
import { box, type ControlEnv, clipAction, type EnvParams, type StepResult } from "./env.ts";

export const PENDULUM_DEFAULTS: EnvParams = Object.freeze({
  g: 10,
  m: 1,
  l: 1,
  dt: 0.05,
  maxSpeed: 8,
  maxTorque: 2,
  damping: 0,
  gain: 1,
  sgftFriction: 0,
});

/** Velocity scale of the smoothed dry-friction part of e (rad/s). */
export const SGFT_FRICTION_V0 = 0.1;

/**
 * The SGFT pendulum's unmodelled term e(s₁, s₂) (sgft-paper §5, "complex frictional or damping effects",
 * after Wang et al. 2022, *simple pendulum under variable damping*). The paper gives no closed form; we use
 * an angle-dependent viscous damping plus smoothed dry (Coulomb) friction, scaled by c ≥ 0:
 *
 *   e(s₁, s₂) = −c · [(1 + sin² s₁) · s₂ + ½ · tanh(s₂ / v₀)],   v₀ = 0.1 rad/s,
 *
 * an angular acceleration (rad/s²) added to θ̈, exactly where the paper adds it. It always opposes the
 * motion (s₂ · e ≤ 0), is smooth, and is not in the simulator's model class (damping·θ̇ is linear).
 */
export function sgftFrictionAccel(c: number, s1: number, s2: number): number {
  if (c === 0) return 0;
  const sn = Math.sin(s1);
  return -c * ((1 + sn * sn) * s2 + 0.5 * Math.tanh(s2 / SGFT_FRICTION_V0));
}

/** Gymnasium's angle_normalize: x mod 2π into [−π, π). */
export function angleNormalize(x: number): number {
  const y = (x + Math.PI) % (2 * Math.PI);
  return (y < 0 ? y + 2 * Math.PI : y) - Math.PI;
}

/** The torque command after the box and ±maxTorque clips (NaN → −maxTorque via clipAction). */
export function pendulumTorque(maxTorque: number, u: number): number {
  return u > maxTorque ? maxTorque : u < -maxTorque ? -maxTorque : u;
}

/** Reward of (θ, θ̇) under the clipped command u. */
export function pendulumReward(th: number, thd: number, u: number): number {
  const a = angleNormalize(th);
  return -(a * a + 0.1 * thd * thd + 0.001 * u * u);
}

/** θ̈ before the speed clip (the pendulum's equation of motion). */
export function pendulumAccel(p: EnvParams, th: number, thd: number, u: number): number {
  const { g, m, l } = p;
  return (
    ((3 * g) / (2 * l)) * Math.sin(th) +
    (3 / (m * l * l)) * (p.gain * u - p.damping * thd) +
    sgftFrictionAccel(p.sgftFriction, th, thd)
  );
}

export class PendulumEnv implements ControlEnv {
  readonly id = "pendulum";
  readonly description =
    "Pendulum-v1 swing-up (Gymnasium conventions): torque-limited rod pendulum, reward −(θ² + 0.1θ̇² + 0.001u²)";
  readonly stateSize = 2;
  readonly observationSpace = box([-1, -1, -8], [1, 1, 8]);
  readonly actionSpace = box([-2], [2]);
  readonly maxSteps = 200;
  readonly defaultParams = PENDULUM_DEFAULTS;
  readonly paramRoles = Object.freeze({
    masses: ["m"],
    gain: "gain",
    damping: ["damping"],
    sgftFriction: "sgftFriction",
  });
  private readonly u = new Float64Array(1);

  reset(_params: EnvParams, state: Float64Array, rng: Rng): void {
    state[0] = Math.PI * (2 * rng.uniform() - 1);
    state[1] = 2 * rng.uniform() - 1;
  }

  observe(_params: EnvParams, state: Float64Array, obs: Float64Array, _rng: Rng): void {
    obs[0] = Math.cos(state[0]);
    obs[1] = Math.sin(state[0]);
    obs[2] = state[1];
  }

  step(params: EnvParams, state: Float64Array, action: Float64Array, _rng: Rng, out: StepResult): void {
    const u = pendulumTorque(params.maxTorque, clipAction(this.actionSpace, action, this.u)[0]);
    const th = state[0];
    const thd = state[1];
    out.reward = pendulumReward(th, thd, u);
    out.terminated = false;
    const dt = params.dt;
    const vmax = params.maxSpeed;
    let v = thd + pendulumAccel(params, th, thd, u) * dt;
    v = v > vmax ? vmax : v < -vmax ? -vmax : v;
    state[0] = th + v * dt;
    state[1] = v;
  }
}

export function pendulum(): PendulumEnv {
  return new PendulumEnv();
}
