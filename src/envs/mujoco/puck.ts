/**
 * `mj-puck`: planar puck pushing after the SGFT paper (sgft-paper.md, Appendix B "Pushing"): push a puck of
 * uncertain mass and friction forward to the edge of a table without it falling off.
 *
 * Scene (metres; table top at z = 0, the goal edge at x = 0.55):
 * - table: a box with top x ∈ [−0.25, 0.55], y ∈ [−0.4, 0.4]; a floor plane 0.75 m below catches what
 *   falls off;
 * - puck: a free body (radius 2.5 cm, height 2 cm, mass `puckMass`), colliding with the table through an
 *   inscribed square base (box–box contacts are robust; MuJoCo's cylinder–box contact lets a cylinder sink
 *   through the table) and with the end-effector through its cylinder. Sliding friction `puckFriction` on
 *   both (the table, floor and end-effector have zero sliding friction, so the puck's value is the
 *   contact's: MuJoCo takes the larger of the two);
 * - end-effector: a 1 cm sphere at puck mid-height on two slide joints (x, y) driven by position servos
 *   (kp, kv) — the robot's Cartesian position controller. It touches only the puck.
 *
 * Control at 5 Hz (the paper's rate): timestep 0.01 s, frameSkip 20, integrator implicitfast. Action
 * a ∈ [−1, 1]² is a delta Cartesian xy target (the paper's action): target = ee + gain·stepSize·a, clipped
 * to the workspace rectangle x ∈ [−0.2, 0.6], y ∈ [−0.35, 0.35] (the paper restricts the workspace for
 * safety), held for the whole control period. Observation (4, as the paper): ee xy, puck xy.
 *
 * Reset: puck x ~ U(0, 0.3), y ~ U(−0.25, 0.25) (paper Table 2), then end-effector x ~ U(−0.15, −0.05),
 * y ~ U(−0.2, 0.2) (the paper randomises the initial gripper pose without giving the range), in that
 * order; the puck rests flat, everything still, time 0. 40 steps.
 *
 * Reward of the post-step state, the paper's terms r = −r_ee − r_obj + r_success − r_table:
 *   r_ee = ‖ee − puck + (0.035, 0, 0)‖ (3-D; the end-effector 3.5 cm behind the puck),
 *   r_obj = |puck_x − 0.55|, r_table = 𝟙[puck_z ≤ 0] (fallen off), r_success = 𝟙[r_obj < 0.025 ∧ puck_z > 0].
 * Choices the paper leaves open or gets wrong, and what we do:
 * - it prints r_threshold = 𝟙[r_obj ≥ 2.5 cm] yet calls it a goal-reaching signal; read as a typo, we
 *   reward r_obj < 2.5 cm;
 * - we also require the puck to be on the table for the bonus (else a puck lying on the floor just below
 *   the edge would collect it);
 * - it states no termination: none here (every episode runs its 40 steps; a fallen puck keeps paying
 *   r_table), so a policy cannot end an episode early to escape negative rewards.
 *
 * Params: puckMass (kg), puckFriction, puckDamping (viscous drag on the puck's x, y motion, N·s/m),
 * gravity, gain (scales the commanded displacement: the action-scale gap), stepSize (m per unit action),
 * kp (N/m), kv (N·s/m), timestep, frameSkip. The end-effector (1 kg) is the robot, not in `masses`.
 */
import type { Rng } from "../../math/rng.ts";
import { box, type EnvParams, type StepResult } from "../control/env.ts";
import { MujocoEnv } from "./env-base.ts";
import type { Mujoco } from "./runtime.ts";
import {
  bodyMassBinding,
  dofDampingBinding,
  geomFrictionBinding,
  gravityBinding,
  type HeapViews,
  servoKpBinding,
  servoKvBinding,
  timestepBinding,
} from "./sim.ts";

export const MJ_PUCK_DEFAULTS: EnvParams = Object.freeze({
  puckMass: 0.1,
  puckFriction: 0.3,
  puckDamping: 0,
  gravity: 9.81,
  gain: 1,
  stepSize: 0.05,
  kp: 300,
  kv: 35,
  timestep: 0.01,
  frameSkip: 20,
});

/** Geometry and task constants (metres). */
export const PUCK = Object.freeze({
  radius: 0.025,
  halfHeight: 0.01,
  eeRadius: 0.01,
  /** x of the table edge = the goal. */
  goalX: 0.55,
  /** Success band on |puck_x − goalX|. */
  goalTolerance: 0.025,
  /** The end-effector's target offset behind the puck (r_ee). */
  behind: 0.035,
  tableMinX: -0.25,
  tableHalfY: 0.4,
  workspace: Object.freeze({ minX: -0.2, maxX: 0.6, minY: -0.35, maxY: 0.35 }),
});

const R = PUCK.radius;
const H = PUCK.halfHeight;
const BASE = R / Math.SQRT2;
const TABLE_HX = (PUCK.goalX - PUCK.tableMinX) / 2;
const TABLE_CX = (PUCK.goalX + PUCK.tableMinX) / 2;
const M0 = 0.1;

export const MJ_PUCK_XML = `<mujoco model="mj-puck">
  <size memory="128K"/>
  <option timestep="0.01" integrator="implicitfast" gravity="0 0 -9.81"/>
  <worldbody>
    <geom name="floor" type="plane" size="2 2 0.1" pos="0 0 -0.75" friction="0 0.005 0.0001"
      contype="1" conaffinity="1"/>
    <geom name="table" type="box" pos="${TABLE_CX} 0 -0.05" size="${TABLE_HX} ${PUCK.tableHalfY} 0.05"
      friction="0 0.005 0.0001" contype="1" conaffinity="1"/>
    <body name="ee" pos="0 0 ${H}">
      <joint name="ee_x" type="slide" axis="1 0 0"/>
      <joint name="ee_y" type="slide" axis="0 1 0"/>
      <geom name="ee" type="sphere" size="${PUCK.eeRadius}" mass="1" friction="0 0.005 0.0001"
        contype="2" conaffinity="2"/>
    </body>
    <body name="puck" pos="0.2 0 ${H}">
      <freejoint name="puck"/>
      <inertial pos="0 0 0" mass="${M0}"
        diaginertia="${(M0 * (3 * R * R + 4 * H * H)) / 12} ${(M0 * (3 * R * R + 4 * H * H)) / 12} ${(M0 * R * R) / 2}"/>
      <geom name="puck" type="cylinder" size="${R} ${H}" friction="0.3 0.005 0.0001" contype="2" conaffinity="2"/>
      <geom name="puck_base" type="box" size="${BASE} ${BASE} ${H}" friction="0.3 0.005 0.0001"
        contype="1" conaffinity="1"/>
    </body>
  </worldbody>
  <actuator>
    <position name="servo_x" joint="ee_x" kp="300" kv="35"/>
    <position name="servo_y" joint="ee_y" kp="300" kv="35"/>
  </actuator>
</mujoco>`;

/** State indices (after the time entry): qpos = (ee x, ee y, puck x, y, z, quaternion). */
const EE_X = 1;
const EE_Y = 2;
const P_X = 3;
const P_Y = 4;
const P_Z = 5;
const P_QW = 6;

/** The paper's reward terms at a state (post-step), for tests and analysis. */
export interface PuckTerms {
  eeToPuck: number;
  puckToGoal: number;
  success: boolean;
  fallen: boolean;
  reward: number;
}

export function puckTerms(state: ArrayLike<number>, into: PuckTerms = emptyTerms()): PuckTerms {
  const dx = state[EE_X] - state[P_X] + PUCK.behind;
  const dy = state[EE_Y] - state[P_Y];
  const dz = H - state[P_Z];
  const pz = state[P_Z];
  into.eeToPuck = Math.sqrt(dx * dx + dy * dy + dz * dz);
  into.puckToGoal = Math.abs(state[P_X] - PUCK.goalX);
  into.fallen = pz <= 0;
  into.success = into.puckToGoal < PUCK.goalTolerance && !into.fallen;
  into.reward = -into.eeToPuck - into.puckToGoal + (into.success ? 1 : 0) - (into.fallen ? 1 : 0);
  return into;
}

function emptyTerms(): PuckTerms {
  return { eeToPuck: 0, puckToGoal: 0, success: false, fallen: false, reward: 0 };
}

export class MjPuckEnv extends MujocoEnv {
  readonly id = "mj-puck";
  readonly description =
    "MuJoCo planar puck pushing (SGFT paper): xy position-target deltas for an end-effector, push a puck of uncertain mass/friction to the table edge, 40 steps";
  readonly observationSpace = box(
    [PUCK.workspace.minX, PUCK.workspace.minY, Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY],
    [PUCK.workspace.maxX, PUCK.workspace.maxY, Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY],
  );
  readonly actionSpace = box([-1, -1], [1, 1]);
  readonly maxSteps = 40;
  readonly defaultParams = MJ_PUCK_DEFAULTS;
  readonly paramRoles = Object.freeze({ masses: ["puckMass"], gain: "gain", damping: ["puckDamping"] });
  private readonly terms = emptyTerms();

  constructor(mj: Mujoco) {
    super(mj, "mj-puck", MJ_PUCK_XML, 2);
    this.bind((sim) => {
      const servos = [sim.actuatorId("servo_x"), sim.actuatorId("servo_y")];
      const puckDof = sim.dofAdr("puck");
      return [
        timestepBinding("timestep"),
        gravityBinding("gravity"),
        bodyMassBinding("puckMass", sim, "puck"),
        geomFrictionBinding("puckFriction", [sim.geomId("puck"), sim.geomId("puck_base")]),
        dofDampingBinding("puckDamping", [puckDof, puckDof + 1]),
        servoKpBinding("kp", servos),
        servoKvBinding("kv", servos),
      ];
    });
  }

  reset(_params: EnvParams, state: Float64Array, rng: Rng): void {
    state.fill(0);
    state[P_X] = 0.3 * rng.uniform();
    state[P_Y] = 0.5 * rng.uniform() - 0.25;
    state[P_Z] = H;
    state[P_QW] = 1;
    state[EE_X] = -0.15 + 0.1 * rng.uniform();
    state[EE_Y] = 0.4 * rng.uniform() - 0.2;
  }

  observe(_params: EnvParams, state: Float64Array, obs: Float64Array, _rng: Rng): void {
    obs[0] = state[EE_X];
    obs[1] = state[EE_Y];
    obs[2] = state[P_X];
    obs[3] = state[P_Y];
  }

  protected control(params: EnvParams, state: Float64Array, u: Float64Array, v: HeapViews): void {
    const d = params.gain * params.stepSize;
    const w = PUCK.workspace;
    const tx = state[EE_X] + d * u[0];
    const ty = state[EE_Y] + d * u[1];
    v.ctrl[0] = tx < w.minX ? w.minX : tx > w.maxX ? w.maxX : tx;
    v.ctrl[1] = ty < w.minY ? w.minY : ty > w.maxY ? w.maxY : ty;
  }

  step(params: EnvParams, state: Float64Array, action: Float64Array, _rng: Rng, out: StepResult): void {
    this.simulate(params, state, action);
    out.reward = puckTerms(state, this.terms).reward;
    out.terminated = false;
  }
}

/** State indices of the puck task (for tests, scripted controllers and tools). */
export const MJ_PUCK_STATE = Object.freeze({ eeX: EE_X, eeY: EE_Y, puckX: P_X, puckY: P_Y, puckZ: P_Z });
