/**
 * MPC solver throughput (issue 9): median milliseconds per MPC solve and per sensitivity du₀*∕dθ.
 *
 * - Pendulum, DDP-MPC, N = 20, warm-started, during closed-loop episodes on the env (true parameters,
 *   seeded resets): one row per solve (`act`), one for the IFT sweep alone at each converged solution
 *   (controlSensitivity, nθ = 8), one for `actAndJacobian` (solve + sweep). Also the Gauss–Newton ("ilqr")
 *   solver for comparison, and the cart-pole.
 * - LQ-MPC: the paper's continuous example (scalar, no bounds: Riccati) and the double integrator with
 *   |u| ≤ 1 (condensed box QP when a bound is active), N = 20, closed loop on the nominal model.
 *
 * Medians over every step of the episodes, after one warm-up episode (JIT). Wall-clock: the numbers move
 * when other jobs share the cores.
 *
 *   node --import tsx bench/mpc.ts [--quick]
 *
 * `benchMpc()` returns the rows for bench/run.ts.
 */
import { fileURLToPath } from "node:url";
import { cartpole } from "../src/envs/control/cartpole.ts";
import type { ControlEnv } from "../src/envs/control/env.ts";
import { pendulum } from "../src/envs/control/pendulum.ts";
import { doubleIntegratorProblem, paperContinuousProblem } from "../src/experiments/problems.ts";
import { median } from "../src/math/linalg.ts";
import { Rng } from "../src/math/rng.ts";
import { cartpoleMpc, type IlqrMpcController, pendulumMpc } from "../src/mpc/ilqr-mpc.ts";
import { LqMpcController } from "../src/mpc/lq-mpc.ts";
import { controlSensitivity } from "../src/mpc/sensitivity.ts";

export interface MpcBenchRow {
  name: string;
  /** Median milliseconds per call. */
  medianMs: number;
  /** 90th percentile (the swing-up phase: more iterations per solve). */
  p90Ms: number;
  /** Calls timed. */
  calls: number;
  /** Median solver iterations per solve (DDP rows). */
  medianIterations?: number;
}

/** Closed-loop episodes of a DDP-MPC on an env; per-step times of the solve and of the sensitivity. */
function ddpEpisodes(
  make: () => IlqrMpcController,
  env: ControlEnv,
  episodes: number,
  steps: number,
): { solve: number[]; sweep: number[]; both: number[]; iterations: number[] } {
  const out = {
    solve: [] as number[],
    sweep: [] as number[],
    both: [] as number[],
    iterations: [] as number[],
  };
  for (let e = -1; e < episodes; e++) {
    const ctl = make();
    const twin = make();
    const rng = Rng.fromSeed(100 + Math.max(e, 0));
    const s = new Float64Array(env.stateSize);
    env.reset(env.defaultParams, s, rng);
    const a = new Float64Array(ctl.actionSize);
    const jac = new Float64Array(ctl.actionSize * ctl.nTheta);
    const o = { reward: 0, terminated: false };
    for (let t = 0; t < steps; t++) {
      const t0 = performance.now();
      const sol = ctl.solve(ctl.theta0, s);
      const t1 = performance.now();
      controlSensitivity(ctl.ocp, ctl.theta0, sol.X, sol.U, sol.active);
      const t2 = performance.now();
      // The interface call on a twin controller that follows the same trajectory (same warm starts).
      const t3 = performance.now();
      twin.actAndJacobian(twin.theta0, s, a, jac);
      const t4 = performance.now();
      if (e >= 0) {
        out.solve.push(t1 - t0);
        out.sweep.push(t2 - t1);
        out.both.push(t4 - t3);
        out.iterations.push(sol.iterations);
      }
      a[0] = sol.U[0];
      env.step(env.defaultParams, s, a, rng, o);
      if (o.terminated) break;
    }
  }
  return out;
}

/** Closed-loop LQ-MPC on its nominal model (x⁺ = A x + B u, no noise). */
function lqEpisodes(ctl: LqMpcController, s0: number[], episodes: number, steps: number) {
  const out = { solve: [] as number[], both: [] as number[] };
  const { n, m } = ctl;
  const M = ctl.matrices(ctl.theta0);
  const jac = new Float64Array(m * ctl.nTheta);
  for (let e = -1; e < episodes; e++) {
    ctl.reset();
    const s = Float64Array.from(s0, (v) => v * (1 + 0.1 * Math.max(e, 0)));
    const a = new Float64Array(m);
    for (let t = 0; t < steps; t++) {
      const t0 = performance.now();
      ctl.act(ctl.theta0, s, a);
      const t1 = performance.now();
      ctl.actAndJacobian(ctl.theta0, s, a, jac);
      const t2 = performance.now();
      if (e >= 0) {
        out.solve.push(t1 - t0);
        out.both.push(t2 - t1);
      }
      const next = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) next[i] += M.A[i * n + j] * s[j];
        for (let j = 0; j < m; j++) next[i] += M.B[i * m + j] * a[j];
      }
      s.set(next);
    }
  }
  return out;
}

const row = (name: string, xs: number[], iterations?: number[]): MpcBenchRow => ({
  name,
  medianMs: median(xs),
  p90Ms: [...xs].sort((a, b) => a - b)[Math.floor(0.9 * (xs.length - 1))],
  calls: xs.length,
  ...(iterations ? { medianIterations: median(iterations) } : {}),
});

export function benchMpc(options: { quick?: boolean } = {}): MpcBenchRow[] {
  const quick = options.quick ?? false;
  const episodes = quick ? 1 : 3;
  const rows: MpcBenchRow[] = [];
  const p = ddpEpisodes(() => pendulumMpc({ horizon: 20 }), pendulum(), episodes, 200);
  rows.push(row("pendulum DDP-MPC solve, N = 20, warm-started", p.solve, p.iterations));
  rows.push(row("pendulum du₀/dθ IFT sweep (nθ = 8), at the solution", p.sweep));
  rows.push(row("pendulum actAndJacobian (solve + sweep)", p.both));
  const g = ddpEpisodes(
    () => pendulumMpc({ horizon: 20, solver: { hessian: "ilqr" } }),
    pendulum(),
    episodes,
    200,
  );
  rows.push(row("pendulum iLQR (Gauss–Newton) solve, N = 20, warm-started", g.solve, g.iterations));
  const c = ddpEpisodes(() => cartpoleMpc({ horizon: 20 }), cartpole(), 1, quick ? 100 : 300);
  rows.push(row("cart-pole DDP-MPC solve, N = 20, warm-started", c.solve, c.iterations));
  rows.push(row("cart-pole du₀/dθ IFT sweep (nθ = 14)", c.sweep));
  const lqPaper = lqEpisodes(
    LqMpcController.fromProblem(paperContinuousProblem(), { horizon: 20 }),
    [2],
    episodes,
    50,
  );
  rows.push(row("LQ-MPC paper-continuous, N = 20, Riccati: solve", lqPaper.solve));
  rows.push(row("LQ-MPC paper-continuous: actAndJacobian (nθ = 5)", lqPaper.both));
  const di = LqMpcController.fromProblem(doubleIntegratorProblem(), {
    horizon: 20,
    actionLow: [-1],
    actionHigh: [1],
  });
  const lqDi = lqEpisodes(di, [-4, 3], episodes, 50);
  rows.push(row("LQ-MPC double integrator |u| ≤ 1, N = 20: solve", lqDi.solve));
  rows.push(row("LQ-MPC double integrator: actAndJacobian (nθ = 11)", lqDi.both));
  return rows;
}

export function formatMpc(rows: MpcBenchRow[]): string[] {
  return rows.map(
    (r) =>
      `  ${r.name.padEnd(58)} ${r.medianMs.toFixed(3).padStart(8)} ms  p90 ${r.p90Ms.toFixed(3).padStart(7)} ms${r.medianIterations === undefined ? "" : `  (median ${r.medianIterations} iterations)`}`,
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log("MPC (median and 90th-percentile ms per call, closed-loop episodes):");
  for (const line of formatMpc(benchMpc({ quick: process.argv.includes("--quick") }))) console.log(line);
}
