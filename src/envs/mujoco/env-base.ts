/**
 * What the MuJoCo tasks share: one private `MjSim` per instance (built synchronously from a loaded
 * module), the ControlEnv fields, `dispose()`, and `acceleration()` (qacc at a state under an action, by
 * mj_forward without integrating — for checks against analytic dynamics).
 */
import type { Rng } from "../../math/rng.ts";
import {
  type Box,
  type ControlEnv,
  clipAction,
  type EnvParams,
  type ParamRoles,
  type StepResult,
} from "../control/env.ts";
import { type Mujoco, templateModel } from "./runtime.ts";
import { frameSkipOf, type HeapViews, MjSim, type ParamBinding } from "./sim.ts";

export abstract class MujocoEnv implements ControlEnv {
  abstract readonly id: string;
  abstract readonly description: string;
  abstract readonly observationSpace: Box;
  abstract readonly actionSpace: Box;
  abstract readonly maxSteps: number;
  abstract readonly defaultParams: EnvParams;
  abstract readonly paramRoles: ParamRoles;
  readonly stateSize: number;
  /** The instance's model/data pair (exposed for tests and diagnostics; do not keep its views). */
  readonly sim: MjSim;
  /** Clipped-action scratch. */
  protected readonly u: Float64Array;

  /** `key` names the MJCF `xml` in the per-module template cache. */
  protected constructor(mj: Mujoco, key: string, xml: string, actionSize: number) {
    this.sim = new MjSim(mj, templateModel(mj, key, xml));
    this.stateSize = this.sim.stateSize;
    this.u = new Float64Array(actionSize);
  }

  /** Declare how the params record reaches the model (called by subclasses once the sim exists). */
  protected bind(bindings: (sim: MjSim) => readonly ParamBinding[]): void {
    this.sim.bind(bindings(this.sim));
  }

  abstract reset(params: EnvParams, state: Float64Array, rng: Rng): void;
  abstract observe(params: EnvParams, state: Float64Array, obs: Float64Array, rng: Rng): void;
  abstract step(
    params: EnvParams,
    state: Float64Array,
    action: Float64Array,
    rng: Rng,
    out: StepResult,
  ): void;

  /** Write ctrl for the clipped action `u` at the loaded `state`. */
  protected abstract control(params: EnvParams, state: Float64Array, u: Float64Array, v: HeapViews): void;

  /** One environment step: clip the action into `u`, write params and state into MjData, set ctrl, run the
   * params' frame-skip of mj_step and read the state back. */
  protected simulate(params: EnvParams, state: Float64Array, action: ArrayLike<number>): void {
    clipAction(this.actionSpace, action, this.u);
    const sim = this.sim;
    sim.sync(params);
    sim.load(state);
    this.control(params, state, this.u, sim.views());
    sim.advance(frameSkipOf(params));
    sim.save(state);
  }

  /** MuJoCo's generalized acceleration qacc (length nv) at `state` under `action`, into `out`. */
  acceleration(
    params: EnvParams,
    state: Float64Array,
    action: ArrayLike<number>,
    out: Float64Array,
  ): Float64Array {
    clipAction(this.actionSpace, action, this.u);
    const sim = this.sim;
    sim.sync(params);
    sim.load(state);
    this.control(params, state, this.u, sim.views());
    sim.forward();
    const qacc = sim.views().qacc;
    for (let i = 0; i < sim.nv; i++) out[i] = qacc[i];
    return out;
  }

  /** Free the wasm model/data now (the instance is unusable afterwards). */
  dispose(): void {
    this.sim.dispose();
  }
}
