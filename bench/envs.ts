/**
 * Environment throughput: env steps per second through `VecEnv` (one env instance, n states) at batch 1
 * and 1024, for the MuJoCo tasks (mj-pendulum, mj-cartpole, mj-puck) and the classic-control ones
 * (pendulum, cartpole, reacher). Actions are uniform in the action box, drawn before timing; auto-reset
 * is included (it is part of stepping a VecEnv). Each row runs for a time budget after a warm-up;
 * `stepsPerSecond` counts sub-env steps (batch × vector steps) per wall-clock second, and
 * `cpuStepsPerSecond` per second of process CPU time (steadier when other jobs share the cores).
 *
 *   node --import tsx bench/envs.ts [--quick]
 *
 * `envBenchRows()` returns the rows (for bench/run.ts).
 */
import { fileURLToPath } from "node:url";
import type { ControlEnv } from "../src/envs/control/env.ts";
import { makeEnv } from "../src/envs/control/registry.ts";
import { VecEnv } from "../src/envs/control/vec-env.ts";
import { type MujocoEnv, mujocoEnvs } from "../src/envs/mujoco/index.ts";
import { Rng } from "../src/math/rng.ts";

export interface EnvBenchRow {
  task: string;
  batch: number;
  /** Sub-env steps per wall-clock second. */
  stepsPerSecond: number;
  /** Sub-env steps per second of process CPU time (user + system). */
  cpuStepsPerSecond: number;
}

export interface EnvBenchOptions {
  /** Shorter budgets (about 4× less time). */
  quick?: boolean;
  /** Batch sizes (default 1 and 1024). */
  batches?: readonly number[];
  /** Task names (default: the three MuJoCo tasks, then pendulum, cartpole, reacher). */
  tasks?: readonly string[];
}

const CLASSIC = ["pendulum", "cartpole", "reacher"];

function measure(env: ControlEnv, batch: number, budgetMs: number): EnvBenchRow {
  const vec = new VecEnv(env, env.defaultParams, batch, Rng.fromSeed(0));
  vec.reset();
  const m = vec.actionSize;
  const rng = Rng.fromSeed(1);
  const pool = Array.from({ length: 16 }, () => {
    const a = new Float64Array(batch * m);
    for (let i = 0; i < batch; i++)
      for (let j = 0; j < m; j++) {
        const lo = env.actionSpace.low[j];
        const hi = env.actionSpace.high[j];
        a[i * m + j] = lo + (hi - lo) * rng.uniform();
      }
    return a;
  });
  // Warm-up: JIT and caches (a fifth of the budget, at least one vector step).
  let k = 0;
  const w0 = performance.now();
  do vec.step(pool[k++ % pool.length]);
  while (performance.now() - w0 < budgetMs / 5);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let n = 0;
  do {
    vec.step(pool[k++ % pool.length]);
    n++;
  } while (performance.now() - t0 < budgetMs || n < 2);
  const wall = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  const cpu = (c.user + c.system) / 1e6;
  return { task: env.id, batch, stepsPerSecond: (n * batch) / wall, cpuStepsPerSecond: (n * batch) / cpu };
}

/** Steps per second for each task at each batch size. */
export async function envBenchRows(options: EnvBenchOptions = {}): Promise<EnvBenchRow[]> {
  const budgetMs = options.quick ? 100 : 400;
  const batches = options.batches ?? [1, 1024];
  const mujoco = await mujocoEnvs();
  const tasks = options.tasks ?? [...Object.keys(mujoco), ...CLASSIC];
  const rows: EnvBenchRow[] = [];
  for (const task of tasks) {
    for (const batch of batches) {
      const isMj = Object.hasOwn(mujoco, task);
      const env: ControlEnv = isMj ? mujoco[task]() : makeEnv(task);
      try {
        rows.push(measure(env, batch, budgetMs));
      } finally {
        if (isMj) (env as MujocoEnv).dispose();
      }
    }
  }
  return rows;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rows = await envBenchRows({ quick: process.argv.includes("--quick") });
  console.log(
    `${"task".padEnd(14)} ${"batch".padStart(6)} ${"steps/s".padStart(12)} ${"steps/cpu-s".padStart(12)}`,
  );
  for (const r of rows)
    console.log(
      `${r.task.padEnd(14)} ${String(r.batch).padStart(6)} ${r.stepsPerSecond.toFixed(0).padStart(12)} ${r.cpuStepsPerSecond.toFixed(0).padStart(12)}`,
    );
}
