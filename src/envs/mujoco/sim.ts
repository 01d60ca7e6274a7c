/**
 * One MuJoCo model + data pair behind the functional env contract (env.ts): the episode state lives in
 * the caller's `Float64Array`, and every `step` is
 *
 *   sync(params) → load(state) → set ctrl → mj_step × frameSkip → save(state)
 *
 * so one instance can serve any number of independent states (VecEnv keeps n states and one env).
 *
 * State layout (`MjSim.stateSize` = 1 + nq + 2·nv + na entries):
 *
 *   [ time | qpos (nq) | qvel (nv) | act (na) | qacc_warmstart (nv) ]
 *
 * This is MuJoCo's integration state for models that use no mocap bodies, applied forces, equality
 * toggles, user data or plugins (ours use none of them; ctrl is set by every step from the action): the
 * warm start of the constraint solver is included because the solver stops at a tolerance, so a
 * different warm start gives a (slightly) different step. Loading a saved state into any MjData of the
 * same model and stepping is bit-identical to continuing the original (tested).
 *
 * Parameters: each env declares `ParamBinding`s (a params-record key and how its value is written into
 * the model's arrays). `sync` writes a binding only when the value differs from the one it last wrote
 * (cached per instance), so a constant record costs a handful of comparisons per step and a VecEnv whose
 * sub-envs carry different records rewrites only what differs. Mass bindings scale the body's inertia
 * with its mass (uniform density) and re-run `mj_setConst` (which refreshes mass-derived constants such
 * as the constraint solver's inverse weights), only when a mass changed.
 *
 * Heap views: typed-array views into the wasm heap are detached when the heap grows (another env being
 * built, MuJoCo allocating). `views()` checks one view's buffer and re-acquires all of them when it has
 * been detached; it is called after anything that may allocate.
 */
import type { EnvParams } from "../control/env.ts";
import type { MjData, MjModel, MjOption, Mujoco } from "./runtime.ts";

/** Live views into one model/data pair (re-acquire with `MjSim.views()`; never keep across allocations). */
export interface HeapViews {
  readonly qpos: Float64Array;
  readonly qvel: Float64Array;
  readonly act: Float64Array;
  readonly qaccWarmstart: Float64Array;
  readonly qacc: Float64Array;
  readonly ctrl: Float64Array;
  readonly bodyMass: Float64Array;
  /** nbody × 3 principal moments. */
  readonly bodyInertia: Float64Array;
  readonly dofDamping: Float64Array;
  /** ngeom × 3 (sliding, torsional, rolling). */
  readonly geomFriction: Float64Array;
  /** nu × 10 (mjNGAIN). */
  readonly actuatorGainprm: Float64Array;
  /** nu × 10 (mjNBIAS). */
  readonly actuatorBiasprm: Float64Array;
  /** opt.gravity (3). */
  readonly gravity: Float64Array;
}

/** How one params-record entry is written into the model. */
export interface ParamBinding {
  /** Key in the params record. */
  readonly key: string;
  /** Writes `value` into the model (through the views or the option struct). */
  readonly write: (value: number, views: HeapViews, sim: MjSim) => void;
  /** The write changes masses or inertias: `mj_setConst` must run before the next step. */
  readonly massChange?: boolean;
}

/** mjNGAIN = mjNBIAS = 10 in MuJoCo 3.x. */
const NPRM = 10;

// Handles of envs that were garbage-collected without dispose(): free their wasm memory.
const registry = new FinalizationRegistry<{ model: MjModel; data: MjData }>((h) => {
  h.data.delete();
  h.model.delete();
});

export class MjSim {
  readonly mj: Mujoco;
  readonly model: MjModel;
  readonly data: MjData;
  /** The model's option struct (one handle, kept: each `model.opt` access creates a new wrapper). */
  readonly opt: MjOption;
  readonly nq: number;
  readonly nv: number;
  readonly na: number;
  readonly nu: number;
  /** 1 + nq + 2·nv + na (see the file comment). */
  readonly stateSize: number;
  private v: HeapViews;
  private bindings: readonly ParamBinding[] = [];
  private written = new Float64Array(0);
  private disposed = false;

  /** A private copy of `template` with its own data. */
  constructor(mj: Mujoco, template: MjModel) {
    this.mj = mj;
    this.model = new mj.MjModel(template);
    this.data = new mj.MjData(this.model);
    this.opt = this.model.opt;
    this.nq = this.model.nq;
    this.nv = this.model.nv;
    this.na = this.model.na;
    this.nu = this.model.nu;
    this.stateSize = 1 + this.nq + 2 * this.nv + this.na;
    this.v = this.acquire();
    registry.register(this, { model: this.model, data: this.data }, this);
  }

  private acquire(): HeapViews {
    const m = this.model;
    const d = this.data;
    return {
      qpos: d.qpos,
      qvel: d.qvel,
      act: d.act,
      qaccWarmstart: d.qacc_warmstart,
      qacc: d.qacc,
      ctrl: d.ctrl,
      bodyMass: m.body_mass,
      bodyInertia: m.body_inertia,
      dofDamping: m.dof_damping,
      geomFriction: m.geom_friction,
      actuatorGainprm: m.actuator_gainprm,
      actuatorBiasprm: m.actuator_biasprm,
      gravity: this.opt.gravity,
    };
  }

  /** Current heap views (re-acquired if the wasm heap grew since they were taken). */
  views(): HeapViews {
    if (this.v.qpos.buffer.byteLength === 0) this.v = this.acquire();
    return this.v;
  }

  /** Index of a named model element (`type`: mjtObj value, e.g. `mj.mjtObj.mjOBJ_BODY.value`). */
  id(type: number, name: string): number {
    const i = this.mj.mj_name2id(this.model, type, name);
    if (i < 0) throw new Error(`MuJoCo model has no element '${name}' of type ${type}`);
    return i;
  }
  bodyId(name: string): number {
    return this.id(this.mj.mjtObj.mjOBJ_BODY.value, name);
  }
  geomId(name: string): number {
    return this.id(this.mj.mjtObj.mjOBJ_GEOM.value, name);
  }
  actuatorId(name: string): number {
    return this.id(this.mj.mjtObj.mjOBJ_ACTUATOR.value, name);
  }
  /** First dof address of a named joint. */
  dofAdr(joint: string): number {
    return (this.model.jnt_dofadr as Int32Array)[this.id(this.mj.mjtObj.mjOBJ_JOINT.value, joint)];
  }

  /** Declare the parameter bindings (forgets what was written: the next `sync` writes everything). */
  bind(bindings: readonly ParamBinding[]): void {
    this.bindings = bindings;
    this.written = new Float64Array(bindings.length).fill(Number.NaN);
  }

  /** Write every bound parameter whose value differs from the one last written. */
  sync(params: EnvParams): void {
    if (this.disposed) throw new Error("MuJoCo env used after dispose()");
    const b = this.bindings;
    const w = this.written;
    let mass = false;
    for (let i = 0; i < b.length; i++) {
      const x = params[b[i].key];
      if (x !== w[i]) {
        b[i].write(x, this.views(), this);
        w[i] = x;
        if (b[i].massChange) mass = true;
      }
    }
    if (mass) this.mj.mj_setConst(this.model, this.data);
  }

  /** State → MjData (the full state: see the file comment). */
  load(state: ArrayLike<number>): void {
    if (this.disposed) throw new Error("MuJoCo env used after dispose()");
    const v = this.views();
    const { nq, nv, na } = this;
    this.data.time = state[0];
    let k = 1;
    for (let i = 0; i < nq; i++) v.qpos[i] = state[k++];
    for (let i = 0; i < nv; i++) v.qvel[i] = state[k++];
    for (let i = 0; i < na; i++) v.act[i] = state[k++];
    for (let i = 0; i < nv; i++) v.qaccWarmstart[i] = state[k++];
  }

  /** MjData → state. */
  save(state: Float64Array): void {
    const v = this.views();
    const { nq, nv, na } = this;
    state[0] = this.data.time;
    let k = 1;
    for (let i = 0; i < nq; i++) state[k++] = v.qpos[i];
    for (let i = 0; i < nv; i++) state[k++] = v.qvel[i];
    for (let i = 0; i < na; i++) state[k++] = v.act[i];
    for (let i = 0; i < nv; i++) state[k++] = v.qaccWarmstart[i];
  }

  /** `n` calls of mj_step (the ctrl in MjData is held). */
  advance(n: number): void {
    const { mj, model, data } = this;
    for (let i = 0; i < n; i++) mj.mj_step(model, data);
  }

  /** mj_forward at the loaded state (fills qacc etc. without integrating). */
  forward(): void {
    this.mj.mj_forward(this.model, this.data);
  }

  /** Free the wasm model and data now (otherwise they are freed when this object is collected). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    registry.unregister(this);
    this.data.delete();
    this.model.delete();
  }
}

/** `params.frameSkip` as a positive integer (a RangeError otherwise: it is a count, not a physical value). */
export function frameSkipOf(params: EnvParams): number {
  const n = params.frameSkip;
  if (!Number.isSafeInteger(n) || n < 1)
    throw new RangeError(`frameSkip must be a positive integer, got ${n}`);
  return n;
}

// ---- binding helpers -------------------------------------------------------------------------------

/** opt.timestep (s). */
export function timestepBinding(key: string): ParamBinding {
  return {
    key,
    write: (x, _v, sim) => {
      sim.opt.timestep = x;
    },
  };
}

/** Gravity of magnitude `value` along −z. */
export function gravityBinding(key: string): ParamBinding {
  return {
    key,
    write: (x, v) => {
      v.gravity[0] = 0;
      v.gravity[1] = 0;
      v.gravity[2] = -x;
    },
  };
}

/**
 * The mass of `body` (kg); its principal inertia is scaled with it from the compiled model's
 * (`inertia0` per unit mass), i.e. the body keeps its shape and density distribution.
 */
export function bodyMassBinding(key: string, sim: MjSim, body: string): ParamBinding {
  const b = sim.bodyId(body);
  const v0 = sim.views();
  const m0 = v0.bodyMass[b];
  const perKg = [v0.bodyInertia[3 * b] / m0, v0.bodyInertia[3 * b + 1] / m0, v0.bodyInertia[3 * b + 2] / m0];
  return {
    key,
    massChange: true,
    write: (x, v) => {
      v.bodyMass[b] = x;
      for (let j = 0; j < 3; j++) v.bodyInertia[3 * b + j] = perKg[j] * x;
    },
  };
}

/** Viscous damping of the given dofs (N·s/m or N·m·s/rad). */
export function dofDampingBinding(key: string, dofs: readonly number[]): ParamBinding {
  return {
    key,
    write: (x, v) => {
      for (const d of dofs) v.dofDamping[d] = x;
    },
  };
}

/** Sliding friction coefficient of the given geoms. */
export function geomFrictionBinding(key: string, geoms: readonly number[]): ParamBinding {
  return {
    key,
    write: (x, v) => {
      for (const g of geoms) v.geomFriction[3 * g] = x;
    },
  };
}

/** Gain of motor actuators (force = gain · ctrl). */
export function motorGainBinding(key: string, actuators: readonly number[]): ParamBinding {
  return {
    key,
    write: (x, v) => {
      for (const a of actuators) v.actuatorGainprm[NPRM * a] = x;
    },
  };
}

/** Stiffness kp of position servos (force = kp·(ctrl − q) − kv·q̇). */
export function servoKpBinding(key: string, actuators: readonly number[]): ParamBinding {
  return {
    key,
    write: (x, v) => {
      for (const a of actuators) {
        v.actuatorGainprm[NPRM * a] = x;
        v.actuatorBiasprm[NPRM * a + 1] = -x;
      }
    },
  };
}

/** Damping kv of position servos. */
export function servoKvBinding(key: string, actuators: readonly number[]): ParamBinding {
  return {
    key,
    write: (x, v) => {
      for (const a of actuators) v.actuatorBiasprm[NPRM * a + 2] = -x;
    },
  };
}
