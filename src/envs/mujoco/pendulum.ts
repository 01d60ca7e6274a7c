/**
 * `mj-pendulum`: the classic swing-up (control/pendulum.ts conventions) simulated by MuJoCo.
 *
 * Model: a uniform rod of mass m and length l = 1 m on a hinge about +y at the origin, θ = 0 upright
 * (centre of mass at (l/2 sin θ, 0, l/2 cos θ)); principal inertia m·(l²/12, l²/12, 10⁻⁶) at the centre,
 * so about the pivot I = m l²/3 and, with a motor of gain k on the hinge and viscous damping b,
 *
 *   I θ̈ = m g (l/2) sin θ + k·u − b θ̇,        E = ½ I θ̇² + m g (l/2) cos θ conserved when b = u = 0.
 *
 * Integrator RK4, timestep 0.01 s, frameSkip 5 (the control period is 0.05 s, Gymnasium's dt).
 * Action u ∈ [−2, 2] (also clipped to ±maxTorque); reward of the pre-step state and the clipped command,
 * −(angleNormalize(θ)² + 0.1 θ̇² + 0.001 u²), as the classic env. Unlike the classic env the velocity is not
 * clipped (no maxSpeed: it is not physics); the observation (cos θ, sin θ, θ̇) has θ̇ unbounded. Reset:
 * θ ~ U(−π, π), θ̇ ~ U(−1, 1) (in that order), time 0. 200 steps, never terminates.
 *
 * Params: g (m/s²), m (kg; the inertia scales with it), damping (N·m·s/rad), gain (motor gain),
 * maxTorque, timestep (s), frameSkip (MuJoCo steps per env step).
 */
import type { Rng } from "../../math/rng.ts";
import { box, clipAction, type EnvParams, type StepResult } from "../control/env.ts";
import { pendulumReward, pendulumTorque } from "../control/pendulum.ts";
import { MujocoEnv } from "./env-base.ts";
import type { Mujoco } from "./runtime.ts";
import {
  bodyMassBinding,
  dofDampingBinding,
  gravityBinding,
  type HeapViews,
  motorGainBinding,
  timestepBinding,
} from "./sim.ts";

export const MJ_PENDULUM_DEFAULTS: EnvParams = Object.freeze({
  g: 10,
  m: 1,
  damping: 0,
  gain: 1,
  maxTorque: 2,
  timestep: 0.01,
  frameSkip: 5,
});

/** Rod length (m), fixed by the model. */
export const MJ_PENDULUM_LENGTH = 1;

/** The MJCF (nominal values; the params record overrides them at run time). */
export const MJ_PENDULUM_XML = `<mujoco model="mj-pendulum">
  <size memory="32K"/>
  <compiler angle="radian"/>
  <option timestep="0.01" integrator="RK4" gravity="0 0 -10"/>
  <worldbody>
    <body name="pole">
      <joint name="hinge" type="hinge" axis="0 1 0" damping="0"/>
      <inertial pos="0 0 ${MJ_PENDULUM_LENGTH / 2}" mass="1"
        diaginertia="${MJ_PENDULUM_LENGTH ** 2 / 12} ${MJ_PENDULUM_LENGTH ** 2 / 12} 1e-6"/>
      <geom name="rod" type="capsule" fromto="0 0 0 0 0 ${MJ_PENDULUM_LENGTH}" size="0.02"
        contype="0" conaffinity="0"/>
    </body>
  </worldbody>
  <actuator>
    <motor name="torque" joint="hinge" gear="1"/>
  </actuator>
</mujoco>`;

export class MjPendulumEnv extends MujocoEnv {
  readonly id = "mj-pendulum";
  readonly description =
    "MuJoCo hinge pendulum swing-up (rod, RK4): torque in [−2, 2], reward −(θ² + 0.1θ̇² + 0.001u²), 200 steps";
  readonly observationSpace = box([-1, -1, Number.NEGATIVE_INFINITY], [1, 1, Number.POSITIVE_INFINITY]);
  readonly actionSpace = box([-2], [2]);
  readonly maxSteps = 200;
  readonly defaultParams = MJ_PENDULUM_DEFAULTS;
  readonly paramRoles = Object.freeze({ masses: ["m"], gain: "gain", damping: ["damping"] });
  /** State indices of θ and θ̇ (after the time entry). */
  static readonly TH = 1;
  static readonly THD = 2;

  constructor(mj: Mujoco) {
    super(mj, "mj-pendulum", MJ_PENDULUM_XML, 1);
    this.bind((sim) => [
      timestepBinding("timestep"),
      gravityBinding("g"),
      bodyMassBinding("m", sim, "pole"),
      dofDampingBinding("damping", [sim.dofAdr("hinge")]),
      motorGainBinding("gain", [sim.actuatorId("torque")]),
    ]);
  }

  reset(_params: EnvParams, state: Float64Array, rng: Rng): void {
    state.fill(0);
    state[MjPendulumEnv.TH] = Math.PI * (2 * rng.uniform() - 1);
    state[MjPendulumEnv.THD] = 2 * rng.uniform() - 1;
  }

  observe(_params: EnvParams, state: Float64Array, obs: Float64Array, _rng: Rng): void {
    const th = state[MjPendulumEnv.TH];
    obs[0] = Math.cos(th);
    obs[1] = Math.sin(th);
    obs[2] = state[MjPendulumEnv.THD];
  }

  protected control(params: EnvParams, _state: Float64Array, u: Float64Array, v: HeapViews): void {
    v.ctrl[0] = pendulumTorque(params.maxTorque, u[0]);
  }

  step(params: EnvParams, state: Float64Array, action: Float64Array, _rng: Rng, out: StepResult): void {
    // The reward is Gymnasium's: of the state before the step and the applied torque.
    const u = pendulumTorque(params.maxTorque, clipAction(this.actionSpace, action, this.u)[0]);
    out.reward = pendulumReward(state[MjPendulumEnv.TH], state[MjPendulumEnv.THD], u);
    out.terminated = false;
    this.simulate(params, state, action);
  }
}

/** Energy ½ I θ̇² + m g (l/2) cos θ of a state under params (I = m l²/3). */
export function mjPendulumEnergy(params: EnvParams, state: ArrayLike<number>): number {
  const l = MJ_PENDULUM_LENGTH;
  const I = (params.m * l * l) / 3;
  const thd = state[MjPendulumEnv.THD];
  return 0.5 * I * thd * thd + params.m * params.g * (l / 2) * Math.cos(state[MjPendulumEnv.TH]);
}
