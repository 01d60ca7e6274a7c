/**
 * Every named control task behind one asynchronous constructor: the classic envs of the registry
 * (control/registry.ts, synchronous `makeEnv`) and the MuJoCo tasks (mujoco/index.ts, `mj-*`, which need the
 * wasm module loaded first). Used by the `train` and `eval` commands and the scripts that take a task name.
 *
 *   const env = await makeAnyEnv("mj-pendulum", "mass:2,latency:1");
 *   … env.dispose();                       // frees the MuJoCo model/data at once (a no-op for classic envs)
 *
 * The MuJoCo modules are imported only when an `mj-*` task is asked for: importing mujoco-js costs about a
 * second of start-up, which commands on the classic envs should not pay.
 *
 * Gaps (control/gaps.ts) wrap the base env; the state of the base env stays the prefix of the gapped
 * env's state (latency appends its queue after it), which `taskSuccess` relies on.
 */
import { InputError } from "../common/errors.ts";
import type { ControlEnv } from "./control/env.ts";
import { applyGaps, type Gap } from "./control/gaps.ts";
import { ENVS, parseGaps } from "./control/registry.ts";

/** A control env that may hold native resources: call `dispose()` when done (idempotent for classic envs). */
export type DisposableEnv = ControlEnv & { dispose(): void };

/** The MuJoCo tasks' names, as mujoco/index.ts `MUJOCO_TASKS` lists them (test/cli-train.test.ts checks). */
export const MUJOCO_TASK_NAMES: readonly string[] = Object.freeze(["mj-pendulum", "mj-cartpole", "mj-puck"]);

/** All task names: the classic ones, then the MuJoCo ones. */
export function envNames(): string[] {
  return [...Object.keys(ENVS), ...MUJOCO_TASK_NAMES];
}

/**
 * A fresh env by task name (classic or `mj-*`) with `gaps` applied in order (a gap-list string in the
 * registry's syntax, or Gap functions). An unknown name is an InputError naming `field`; a gap that does
 * not fit the task (sgft-friction on the cart-pole) one naming `gapField`.
 */
export async function makeAnyEnv(
  name: string,
  gaps: string | readonly Gap[] = [],
  field = "env",
  gapField = "gaps",
): Promise<DisposableEnv> {
  const gapList = typeof gaps === "string" ? parseGaps(gaps, gapField) : gaps;
  const classic = Object.hasOwn(ENVS, name) ? ENVS[name] : undefined;
  if (!classic && !MUJOCO_TASK_NAMES.includes(name))
    throw new InputError(`${field}: unknown env '${name}'; known: ${envNames().join(", ")}`, field);
  let base: ControlEnv & { dispose?: () => void };
  if (classic) base = classic.make();
  else {
    const { MUJOCO_TASKS } = await import("./mujoco/index.ts");
    const task = MUJOCO_TASKS.find((t) => t.name === name);
    if (!task) throw new Error(`MUJOCO_TASK_NAMES lists '${name}', mujoco/index.ts does not`);
    base = await task.create();
  }
  const free = () => base.dispose?.();
  let env: ControlEnv;
  try {
    env = applyGaps(base, gapList);
  } catch (e) {
    free();
    if (e instanceof InputError) throw new InputError(`${gapField}: ${e.message}`, gapField);
    throw e;
  }
  // A gap wrapper is a fresh plain object; without gaps the base instance itself gets the method (a
  // MujocoEnv already has it).
  if (env === base) {
    if (typeof base.dispose !== "function") Object.assign(base, { dispose: () => {} });
    return base as DisposableEnv;
  }
  return Object.assign(env, { dispose: free });
}

/**
 * The task's success test on an episode's last state, where the task defines one: `mj-puck` (the SGFT
 * pushing task) succeeds when the puck rests within the goal band at the table edge and has not fallen
 * (puck.ts `puckTerms().success`). `undefined` for tasks without a success notion (returns only).
 */
export async function taskSuccess(name: string): Promise<((state: Float64Array) => boolean) | undefined> {
  if (name !== "mj-puck") return undefined;
  const { puckTerms } = await import("./mujoco/puck.ts");
  return (state) => puckTerms(state).success;
}
