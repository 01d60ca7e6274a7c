/**
 * The MuJoCo WebAssembly runtime (mujoco-js, the official build; MuJoCo 3.3.x), loaded once per process.
 *
 * Loading is asynchronous (the wasm module is compiled, ~0.2 s); everything after it is synchronous:
 * `await loadMujoco()` once, then build envs with the returned module. MJCF strings are compiled once
 * per module into a *template* model; each env instance then takes its own copy (`new MjModel(template)`,
 * no XML parsing) with its own `MjData`, so instances never share mutable physics.
 *
 * Two traps of the wasm build (DESIGN §3):
 * - `MjData` reserves an arena of `<size memory=…>` bytes (13 MiB when the model leaves it out): every
 *   MJCF here sets a small one. An MjData still costs ≈ 0.2 MB (mjData's fixed solver-statistics
 *   arrays), so 1024 instances take 0.23-0.34 GiB of wasm heap (measured); the heap is capped at 2 GiB.
 * - Typed-array views (`data.qpos`, `model.body_mass`, ...) point into the wasm heap and are detached when
 *   the heap grows (any allocation, e.g. building another env): sim.ts re-acquires them when detached.
 */
import load, { type MainModule, type MjModel } from "mujoco-js";

export type Mujoco = MainModule;
export type { MjData, MjModel, MjOption } from "mujoco-js";

let pending: Promise<Mujoco> | undefined;

/**
 * The shared MuJoCo module (loaded on the first call; later calls return the same promise). A failed load
 * is not cached, so a later call retries.
 */
export function loadMujoco(): Promise<Mujoco> {
  if (!pending) {
    pending = load().catch((e: unknown) => {
      pending = undefined;
      throw e;
    });
  }
  return pending;
}

const templates = new WeakMap<Mujoco, Map<string, MjModel>>();
let fileCounter = 0;

/**
 * The template model compiled from `xml` (cached per module under `key`; the key must identify the XML).
 * Compilation errors are bugs in this project's MJCF, reported with MuJoCo's message.
 */
export function templateModel(mj: Mujoco, key: string, xml: string): MjModel {
  let cache = templates.get(mj);
  if (!cache) {
    cache = new Map();
    templates.set(mj, cache);
  }
  const hit = cache.get(key);
  if (hit) return hit;
  // loadFromXML takes a path: write the string to the module's in-memory file system.
  const path = `/sim2real-${key}-${fileCounter++}.xml`;
  mj.FS.writeFile(path, xml);
  let model: MjModel;
  try {
    model = mj.MjModel.loadFromXML(path);
  } catch (e) {
    const err = e as { name?: string; message?: string };
    throw new Error(
      `MuJoCo could not compile the MJCF model '${key}': ${err.name ?? ""} ${err.message ?? ""}`,
    );
  } finally {
    mj.FS.unlink(path);
  }
  cache.set(key, model);
  return model;
}
