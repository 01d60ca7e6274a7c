/**
 * RL backbone throughput: SAC gradient updates per second (batch 256, pendulum-sized: 3 observations,
 * 1 action; 2×256 and 2×64 relu networks, twin critics + actor + α + value network + Polyak), and PPO
 * minibatch steps (64 samples, 2×64 tanh, cartpole-sized: 4 observations, 1 action). Median over blocks.
 *
 *   node --import tsx bench/rl.ts [--quick]
 *
 * `benchRl()` returns the rows for bench/run.ts.
 */
import { fileURLToPath } from "node:url";
import { box } from "../src/envs/control/env.ts";
import { PpoAgent, ppoSurrogate } from "../src/inner/ppo.ts";
import { ReplayBuffer } from "../src/inner/replay-buffer.ts";
import { SacAgent } from "../src/inner/sac.ts";
import { Rng } from "../src/math/rng.ts";
import { Adam } from "../src/nn/index.ts";

export interface RlBenchRow {
  name: string;
  /** Median milliseconds per operation. */
  medianMs: number;
  /** Operations per second at the median. */
  perSecond: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : 0.5 * (s[m - 1] + s[m]);
}

/** Median ms per call of `op` over `blocks` blocks of `perBlock` calls, after `warmup` calls. */
function time(op: () => void, warmup: number, blocks: number, perBlock: number): number {
  for (let i = 0; i < warmup; i++) op();
  const t: number[] = [];
  for (let b = 0; b < blocks; b++) {
    const t0 = performance.now();
    for (let i = 0; i < perBlock; i++) op();
    t.push((performance.now() - t0) / perBlock);
  }
  return median(t);
}

function sacRow(hidden: number[], quick: boolean): RlBenchRow {
  const rng = Rng.fromSeed(0);
  const agent = new SacAgent(3, box([-2], [2]), { hidden }, rng);
  const buf = new ReplayBuffer(10_000, 3, 1);
  for (let k = 0; k < 10_000; k++) {
    const s = [rng.normal(), rng.normal(), rng.normal()];
    buf.add(s, [2 * rng.uniform() - 1], -rng.uniform(), [rng.normal(), rng.normal(), rng.normal()], false);
  }
  const batch = buf.sample(rng, 256);
  const small = hidden[0] <= 64;
  const per = small ? 20 : 3;
  const ms = time(() => agent.update(buf.sample(rng, 256, batch)), per, quick ? 3 : 7, per);
  return {
    name: `SAC update, batch 256, ${hidden.length}×${hidden[0]} relu`,
    medianMs: ms,
    perSecond: 1000 / ms,
  };
}

function ppoRow(quick: boolean): RlBenchRow {
  const rng = Rng.fromSeed(0);
  const agent = new PpoAgent(4, 1, {}, rng);
  const M = 64;
  const obs = Float64Array.from({ length: M * 4 }, () => rng.normal());
  const act = Float64Array.from({ length: M }, () => rng.normal());
  const logp = agent.policy.logProb(agent.phi, obs, act, M);
  const adv = Float64Array.from({ length: M }, () => rng.normal());
  const grad = new Float64Array(agent.policy.nParams);
  const opt = new Adam(agent.policy.nParams, { lr: 1e-4 });
  const ms = time(
    () => {
      grad.fill(0);
      ppoSurrogate(agent.policy, agent.phi, obs, act, logp, adv, M, 0.2, 0, grad);
      opt.step(agent.phi, grad);
    },
    200,
    quick ? 3 : 7,
    200,
  );
  return { name: "PPO actor minibatch step, 64 samples, 2×64 tanh", medianMs: ms, perSecond: 1000 / ms };
}

export function benchRl(options: { quick?: boolean } = {}): RlBenchRow[] {
  const quick = options.quick ?? false;
  return [sacRow([256, 256], quick), sacRow([64, 64], quick), ppoRow(quick)];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rows = benchRl({ quick: process.argv.includes("--quick") });
  for (const r of rows)
    console.log(
      `${r.name.padEnd(52)} ${r.medianMs.toFixed(3).padStart(9)} ms  ${r.perSecond.toFixed(1).padStart(9)} /s`,
    );
}
