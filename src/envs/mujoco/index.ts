/**
 * MuJoCo tasks (through mujoco-js, the official MuJoCo WebAssembly build) behind the same ControlEnv
 * contract as the classic-control envs: `mj-pendulum`, `mj-cartpole`, `mj-puck`.
 *
 * Loading the wasm module is asynchronous and happens once per process; env construction afterwards is
 * synchronous:
 *
 *   const envs = await mujocoEnvs();          // name → () => MujocoEnv
 *   const env = envs["mj-puck"]();
 *
 * or per task: `await MUJOCO_TASKS[i].create()`. Each instance owns one MjModel copy and one MjData
 * (0.23 MiB of wasm heap for the pendulum and cart-pole, 0.34 MiB for the puck); `env.dispose()` frees
 * them at once (otherwise they are freed when the env is garbage-collected). The classic gaps (control/gaps.ts) compose with these envs through `paramRoles`.
 */
import { MjCartPoleEnv } from "./cartpole.ts";
import type { MujocoEnv } from "./env-base.ts";
import { MjPendulumEnv } from "./pendulum.ts";
import { MjPuckEnv } from "./puck.ts";
import { loadMujoco, type Mujoco } from "./runtime.ts";

export {
  MJ_CARTPOLE_DEFAULTS,
  MJ_CARTPOLE_HALF_LENGTH,
  MJ_CARTPOLE_STATE,
  MJ_CARTPOLE_XML,
  MjCartPoleEnv,
} from "./cartpole.ts";
export { MujocoEnv } from "./env-base.ts";
export {
  MJ_PENDULUM_DEFAULTS,
  MJ_PENDULUM_LENGTH,
  MJ_PENDULUM_XML,
  MjPendulumEnv,
  mjPendulumEnergy,
} from "./pendulum.ts";
export {
  MJ_PUCK_DEFAULTS,
  MJ_PUCK_STATE,
  MJ_PUCK_XML,
  MjPuckEnv,
  PUCK,
  type PuckTerms,
  puckTerms,
} from "./puck.ts";
export { loadMujoco, type Mujoco, templateModel } from "./runtime.ts";
export { frameSkipOf, type HeapViews, MjSim, type ParamBinding } from "./sim.ts";

/** A MuJoCo task as the registry and the `envs` command list it. */
export interface MujocoTask {
  readonly name: string;
  readonly description: string;
  /** A fresh instance, synchronously, from a loaded module. */
  readonly make: (mj: Mujoco) => MujocoEnv;
  /** A fresh instance (loads the module on first use). */
  readonly create: () => Promise<MujocoEnv>;
}

function task(name: string, description: string, make: (mj: Mujoco) => MujocoEnv): MujocoTask {
  return Object.freeze({ name, description, make, create: async () => make(await loadMujoco()) });
}

export const MUJOCO_TASKS: readonly MujocoTask[] = Object.freeze([
  task(
    "mj-pendulum",
    "MuJoCo hinge pendulum swing-up (RK4), torque in [−2, 2], reward −(θ² + 0.1θ̇² + 0.001u²), 200 steps",
    (mj) => new MjPendulumEnv(mj),
  ),
  task(
    "mj-cartpole",
    "MuJoCo cart-pole, continuous force in [−1, 1]·forceMag, +1 per step alive, Gymnasium termination, 500 steps",
    (mj) => new MjCartPoleEnv(mj),
  ),
  task(
    "mj-puck",
    "MuJoCo planar puck pushing (SGFT paper): end-effector xy target deltas, puck of uncertain mass/friction to the table edge, 40 steps",
    (mj) => new MjPuckEnv(mj),
  ),
]);

/** Load the module once and return synchronous factories by task name. */
export async function mujocoEnvs(): Promise<Readonly<Record<string, () => MujocoEnv>>> {
  const mj = await loadMujoco();
  const out: Record<string, () => MujocoEnv> = {};
  for (const t of MUJOCO_TASKS) out[t.name] = () => t.make(mj);
  return Object.freeze(out);
}
