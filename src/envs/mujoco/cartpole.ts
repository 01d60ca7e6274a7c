/**
 * `mj-cartpole`: cart-pole balancing (control/cartpole.ts conventions) simulated by MuJoCo.
 *
 * Model: a cart of mass m_c on a slider along x, a uniform pole of mass m_p and length 2l = 1 m hinged on
 * the cart about +y (ϑ = 0 upright, ϑ > 0 leaning towards +x; principal inertia m_p(2l)²/12 at its centre,
 * scaled with m_p). These are exactly the rigid-body equations behind Gymnasium's CartPole formulas
 * (the 4/3 factor is the uniform rod), so MuJoCo's accelerations equal them (tested); the integration
 * differs (RK4 with timestep 0.01 s, frameSkip 2, against Gymnasium's explicit Euler at 0.02 s).
 *
 * Action u ∈ [−1, 1]; the motor on the slider receives ctrl = forceMag·u and delivers gain·ctrl.
 * Viscous cartFriction (N·s/m) on the slider and poleDamping (N·m·s/rad) at the hinge. Reward +1 every
 * step (including the last); terminated when |x| > 2.4 or |ϑ| > 12° after the step. Reset: x, ẋ, ϑ, ϑ̇ each
 * U(−0.05, 0.05) in that order, time 0. 500 steps. Observation (x, ẋ, ϑ, ϑ̇).
 *
 * Params: gravity, massCart, massPole, forceMag, gain, cartFriction, poleDamping, timestep, frameSkip.
 */
import type { Rng } from "../../math/rng.ts";
import {
  CARTPOLE_OBSERVATION_SPACE,
  CARTPOLE_PARAM_ROLES,
  cartpoleOutOfBounds,
} from "../control/cartpole.ts";
import { box, type EnvParams, type StepResult } from "../control/env.ts";
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

export const MJ_CARTPOLE_DEFAULTS: EnvParams = Object.freeze({
  gravity: 9.8,
  massCart: 1,
  massPole: 0.1,
  forceMag: 10,
  gain: 1,
  cartFriction: 0,
  poleDamping: 0,
  timestep: 0.01,
  frameSkip: 2,
});

/** Half the pole length (Gymnasium's `length`), fixed by the model. */
export const MJ_CARTPOLE_HALF_LENGTH = 0.5;

const L2 = 2 * MJ_CARTPOLE_HALF_LENGTH;

export const MJ_CARTPOLE_XML = `<mujoco model="mj-cartpole">
  <size memory="32K"/>
  <option timestep="0.01" integrator="RK4" gravity="0 0 -9.8"/>
  <worldbody>
    <body name="cart">
      <joint name="slider" type="slide" axis="1 0 0" damping="0"/>
      <inertial pos="0 0 0" mass="1" diaginertia="0.01 0.01 0.01"/>
      <geom name="cart" type="box" size="0.2 0.1 0.05" contype="0" conaffinity="0"/>
      <body name="pole">
        <joint name="hinge" type="hinge" axis="0 1 0" damping="0"/>
        <inertial pos="0 0 ${MJ_CARTPOLE_HALF_LENGTH}" mass="0.1"
          diaginertia="${(0.1 * L2 * L2) / 12} ${(0.1 * L2 * L2) / 12} 1e-7"/>
        <geom name="pole" type="capsule" fromto="0 0 0 0 0 ${L2}" size="0.02" contype="0" conaffinity="0"/>
      </body>
    </body>
  </worldbody>
  <actuator>
    <motor name="force" joint="slider" gear="1"/>
  </actuator>
</mujoco>`;

/** State indices (after the time entry): qpos = (x, ϑ), qvel = (ẋ, ϑ̇). */
const X = 1;
const TH = 2;
const XD = 3;
const THD = 4;

export class MjCartPoleEnv extends MujocoEnv {
  readonly id = "mj-cartpole";
  readonly description =
    "MuJoCo cart-pole (slider cart + hinged rod, RK4): force u·forceMag, +1 per step while |x| ≤ 2.4 and |ϑ| ≤ 12°, 500 steps";
  readonly observationSpace = CARTPOLE_OBSERVATION_SPACE;
  readonly actionSpace = box([-1], [1]);
  readonly maxSteps = 500;
  readonly defaultParams = MJ_CARTPOLE_DEFAULTS;
  readonly paramRoles = CARTPOLE_PARAM_ROLES;

  constructor(mj: Mujoco) {
    super(mj, "mj-cartpole", MJ_CARTPOLE_XML, 1);
    this.bind((sim) => [
      timestepBinding("timestep"),
      gravityBinding("gravity"),
      bodyMassBinding("massCart", sim, "cart"),
      bodyMassBinding("massPole", sim, "pole"),
      dofDampingBinding("cartFriction", [sim.dofAdr("slider")]),
      dofDampingBinding("poleDamping", [sim.dofAdr("hinge")]),
      motorGainBinding("gain", [sim.actuatorId("force")]),
    ]);
  }

  reset(_params: EnvParams, state: Float64Array, rng: Rng): void {
    state.fill(0);
    state[X] = 0.1 * rng.uniform() - 0.05;
    state[XD] = 0.1 * rng.uniform() - 0.05;
    state[TH] = 0.1 * rng.uniform() - 0.05;
    state[THD] = 0.1 * rng.uniform() - 0.05;
  }

  observe(_params: EnvParams, state: Float64Array, obs: Float64Array, _rng: Rng): void {
    obs[0] = state[X];
    obs[1] = state[XD];
    obs[2] = state[TH];
    obs[3] = state[THD];
  }

  protected control(params: EnvParams, _state: Float64Array, u: Float64Array, v: HeapViews): void {
    v.ctrl[0] = params.forceMag * u[0];
  }

  step(params: EnvParams, state: Float64Array, action: Float64Array, _rng: Rng, out: StepResult): void {
    this.simulate(params, state, action);
    out.reward = 1;
    out.terminated = cartpoleOutOfBounds(state[X], state[TH]);
  }
}

/** The cart-pole state layout (for tests and tools): indices of x, ϑ, ẋ, ϑ̇ in the state vector. */
export const MJ_CARTPOLE_STATE = Object.freeze({ x: X, theta: TH, xDot: XD, thetaDot: THD });
