/**
 * A planar two-link arm reaching for a target (after Gymnasium Reacher: links of 0.1, target in reach,
 * reward −‖fingertip − target‖ − 0.1‖u‖², 50 steps, no gravity).
 *
 * Links are uniform rods (mass m_i, length l_i, centre at l_i/2, I_i = m_i l_i²/12). Manipulator equation
 *
 *   M(q) q̈ + C(q, q̇) q̇ = τ − d q̇,   τ = maxTorque · gain · u,  u ∈ [−1, 1]²
 *   M₁₁ = I₁ + m₁l₁²/4 + I₂ + m₂(l₁² + l₂²/4 + l₁l₂ cos q₂),  M₁₂ = I₂ + m₂(l₂²/4 + ½ l₁l₂ cos q₂),
 *   M₂₂ = I₂ + m₂l₂²/4,  h = ½ m₂l₁l₂ sin q₂,  C q̇ = (−h(2q̇₁q̇₂ + q̇₂²), h q̇₁²)
 *
 * integrated by semi-implicit Euler with the damping taken implicitly (unconditionally stable for any
 * d ≥ 0, and exactly semi-implicit Euler when d = 0):
 *
 *   (M(q) + dt·d·I) q̇′ = M(q) q̇ + dt (τ − C(q, q̇) q̇),   q′ = q + dt q̇′.
 *
 * State (q₁, q₂, q̇₁, q̇₂, target_x, target_y); observation (cos q₁, cos q₂, sin q₁, sin q₂, q̇₁, q̇₂,
 * target_x, target_y, fingertip_x − target_x, fingertip_y − target_y). The reward is computed on the
 * pre-step state (as Gymnasium Reacher-v4) so that it is a function R(s, a). Reset (Gymnasium's ranges):
 * q_i ~ U(−0.1, 0.1), q̇_i ~ U(−0.005, 0.005), then the target uniform in the disc of radius l₁ + l₂ (by
 * rejection from the square). Defaults m = 1 kg, d = 0.05 N·m·s, maxTorque = 0.5 N·m: from rest a unit action on
 * the shoulder turns the arm by about π in 35 steps (terminal speed maxTorque/d = 10 rad/s).
 */
import type { Rng } from "../../math/rng.ts";
import { box, type ControlEnv, clipAction, type EnvParams, type StepResult } from "./env.ts";

export const REACHER_DEFAULTS: EnvParams = Object.freeze({
  m1: 1,
  m2: 1,
  l1: 0.1,
  l2: 0.1,
  damping: 0.05,
  gain: 1,
  maxTorque: 0.5,
  dt: 0.02,
});

/** Mass matrix entries (M₁₁, M₁₂, M₂₂) at joint angle q₂, written into out[0..2]. */
export function reacherMass(p: EnvParams, q2: number, out: Float64Array): void {
  const { m1, m2, l1, l2 } = p;
  const i2 = (m2 * l2 * l2) / 12;
  const c2 = Math.cos(q2);
  out[0] = (m1 * l1 * l1) / 3 + i2 + m2 * (l1 * l1 + (l2 * l2) / 4 + l1 * l2 * c2);
  out[1] = i2 + m2 * ((l2 * l2) / 4 + 0.5 * l1 * l2 * c2);
  out[2] = i2 + (m2 * l2 * l2) / 4;
}

/** Kinetic energy ½ q̇ᵀ M(q) q̇ of a state (scratch: 3 entries). */
export function reacherKineticEnergy(p: EnvParams, s: ArrayLike<number>, scratch: Float64Array): number {
  reacherMass(p, s[1], scratch);
  const v1 = s[2];
  const v2 = s[3];
  return 0.5 * (scratch[0] * v1 * v1 + 2 * scratch[1] * v1 * v2 + scratch[2] * v2 * v2);
}

/** Fingertip position (x, y) into out[0..1]. */
export function reacherFingertip(p: EnvParams, q1: number, q2: number, out: Float64Array): void {
  out[0] = p.l1 * Math.cos(q1) + p.l2 * Math.cos(q1 + q2);
  out[1] = p.l1 * Math.sin(q1) + p.l2 * Math.sin(q1 + q2);
}

/** Reward on the state s under the clipped action (u₁, u₂) (link lengths from p). */
export function reacherReward(p: EnvParams, s: ArrayLike<number>, u1: number, u2: number): number {
  const q1 = s[0];
  const q12 = s[0] + s[1];
  const dx = p.l1 * Math.cos(q1) + p.l2 * Math.cos(q12) - s[4];
  const dy = p.l1 * Math.sin(q1) + p.l2 * Math.sin(q12) - s[5];
  return -Math.sqrt(dx * dx + dy * dy) - 0.1 * (u1 * u1 + u2 * u2);
}

/**
 * One step of the arm under the clipped action (u₁, u₂), written into `out` (may alias `s`); `m` is a
 * 3-entry scratch that receives M(q) of the pre-step state. Shared with the parametric model.
 */
export function reacherStep(
  p: EnvParams,
  s: ArrayLike<number>,
  u1: number,
  u2: number,
  m: Float64Array,
  out: Float64Array,
): void {
  const q1 = s[0];
  const q2 = s[1];
  const v1 = s[2];
  const v2 = s[3];
  const dt = p.dt;
  reacherMass(p, q2, m);
  const h = 0.5 * p.m2 * p.l1 * p.l2 * Math.sin(q2);
  const k = p.maxTorque * p.gain;
  const b1 = m[0] * v1 + m[1] * v2 + dt * (k * u1 + h * (2 * v1 * v2 + v2 * v2));
  const b2 = m[1] * v1 + m[2] * v2 + dt * (k * u2 - h * v1 * v1);
  const dd = dt * p.damping;
  const a11 = m[0] + dd;
  const a22 = m[2] + dd;
  const a12 = m[1];
  const det = a11 * a22 - a12 * a12;
  const w1 = (a22 * b1 - a12 * b2) / det;
  const w2 = (a11 * b2 - a12 * b1) / det;
  out[0] = q1 + dt * w1;
  out[1] = q2 + dt * w2;
  out[2] = w1;
  out[3] = w2;
  out[4] = s[4];
  out[5] = s[5];
}

const INF = Number.POSITIVE_INFINITY;

export class ReacherEnv implements ControlEnv {
  readonly id = "reacher";
  readonly description =
    "Planar two-link arm (links 0.1, no gravity) reaching a random target: reward −‖tip − target‖ − 0.1‖u‖²";
  readonly stateSize = 6;
  readonly observationSpace = box(
    [-1, -1, -1, -1, -INF, -INF, -INF, -INF, -INF, -INF],
    [1, 1, 1, 1, INF, INF, INF, INF, INF, INF],
  );
  readonly actionSpace = box([-1, -1], [1, 1]);
  readonly maxSteps = 50;
  readonly defaultParams = REACHER_DEFAULTS;
  readonly paramRoles = Object.freeze({ masses: ["m1", "m2"], gain: "gain", damping: ["damping"] });
  private readonly u = new Float64Array(2);
  private readonly m = new Float64Array(3);
  private readonly tip = new Float64Array(2);

  reset(params: EnvParams, state: Float64Array, rng: Rng): void {
    state[0] = 0.2 * rng.uniform() - 0.1;
    state[1] = 0.2 * rng.uniform() - 0.1;
    state[2] = 0.01 * rng.uniform() - 0.005;
    state[3] = 0.01 * rng.uniform() - 0.005;
    const r = params.l1 + params.l2;
    for (;;) {
      const x = r * (2 * rng.uniform() - 1);
      const y = r * (2 * rng.uniform() - 1);
      if (x * x + y * y < r * r) {
        state[4] = x;
        state[5] = y;
        return;
      }
    }
  }

  observe(params: EnvParams, state: Float64Array, obs: Float64Array, _rng: Rng): void {
    obs[0] = Math.cos(state[0]);
    obs[1] = Math.cos(state[1]);
    obs[2] = Math.sin(state[0]);
    obs[3] = Math.sin(state[1]);
    obs[4] = state[2];
    obs[5] = state[3];
    obs[6] = state[4];
    obs[7] = state[5];
    reacherFingertip(params, state[0], state[1], this.tip);
    obs[8] = this.tip[0] - state[4];
    obs[9] = this.tip[1] - state[5];
  }

  step(params: EnvParams, state: Float64Array, action: Float64Array, _rng: Rng, out: StepResult): void {
    const u = clipAction(this.actionSpace, action, this.u);
    out.reward = reacherReward(params, state, u[0], u[1]);
    out.terminated = false;
    reacherStep(params, state, u[0], u[1], this.m, state);
  }
}

export function reacher(): ReacherEnv {
  return new ReacherEnv();
}
