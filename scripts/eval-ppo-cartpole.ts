/**
 * Issue 7 learning check: PPO on the continuous cart-pole (CartPole-v1 dynamics, force u·10 N with
 * u ∈ [−1, 1], +1 per step, 500-step episodes). Target: the deterministic policy keeps the pole up for
 * ≥ 475 of 500 steps (mean return over the evaluation episodes) within 300k environment steps.
 *
 *   node --import tsx scripts/eval-ppo-cartpole.ts --seed 0          # → docs/results/rl/ppo-cartpole/seed-0.json
 *   node --import tsx scripts/eval-ppo-cartpole.ts --summarize       # → ppo-cartpole.json + ppo-cartpole.md
 *   options: --steps 300000  --eval-every 20000  --eval-episodes 10  --checkpoint FILE (final PpoCheckpoint)
 *
 * Settings follow rl-zoo's PPO for CartPole-v1 (8 envs × 32 steps per rollout, 20 epochs, γ 0.98, λ 0.8,
 * step size 1e-3 annealed linearly), with minibatches of 64, 2×64 tanh networks and a learned log-std.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeEnv } from "../src/envs/control/registry.ts";
import { VecEnv } from "../src/envs/control/vec-env.ts";
import { type PpoConfigInput, PpoConfigSchema, trainPpo } from "../src/inner/ppo.ts";
import { Rng } from "../src/math/rng.ts";
import { trainDefaults } from "../src/rl/train.ts";
import { writeJson } from "../src/report/files.ts";

const OUT = "docs/results/rl/ppo-cartpole";
const TARGET = 475;
const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};

if (args.includes("--summarize")) {
  const files = readdirSync(OUT)
    .filter((f) => /^seed-\d+\.json$/.test(f))
    .sort();
  const runs = files.map((f) => JSON.parse(readFileSync(join(OUT, f), "utf8")));
  const rows = runs.map((r) => ({
    seed: r.seed,
    finalReturn: r.final.mean,
    finalStd: r.final.std,
    bestReturn: Math.max(...r.evaluations.map((e: { mean: number }) => e.mean)),
    firstStepAtTarget: r.evaluations.find((e: { mean: number }) => e.mean >= TARGET)?.step ?? null,
    minutes: r.seconds / 60,
  }));
  const reached = rows.filter((r) => r.firstStepAtTarget !== null).length;
  const finalOk = rows.filter((r) => r.finalReturn >= TARGET).length;
  const cfg = runs[0]?.config;
  const summary = {
    target: `deterministic return ≥ ${TARGET} of 500 (mean of ${runs[0]?.evalEpisodes} episodes) within ${cfg?.totalSteps} steps`,
    seedsReachingTarget: reached,
    seedsAtTargetAtEnd: finalOk,
    seeds: rows.length,
    config: cfg,
    nEnvs: runs[0]?.nEnvs,
    node: process.version,
    rows,
  };
  writeJson("docs/results/rl/ppo-cartpole.json", summary);
  const md = [
    "# PPO on the continuous cart-pole (issue 7)",
    "",
    `Target: ${summary.target}. Seeds reaching it: ${reached}/${rows.length}; at it at the end of the run: ${finalOk}/${rows.length}.`,
    "",
    `Settings: ${runs[0]?.nEnvs} envs × ${cfg?.nSteps} steps per rollout, ${cfg?.epochs} epochs, minibatch ${cfg?.minibatchSize}, γ ${cfg?.gamma}, λ ${cfg?.lambda}, lr ${cfg?.actorLr} (annealed), clip ${cfg?.clipRange}, 2×${cfg?.hidden[0]} ${cfg?.activation}, learned log-std.`,
    "Command per seed: `node --import tsx scripts/eval-ppo-cartpole.ts --seed S`, then `--summarize`.",
    "",
    "| seed | return at end (± std over episodes) | best evaluation | first evaluation ≥ 475 (steps) | minutes |",
    "|---:|---:|---:|---:|---:|",
    ...rows.map(
      (r) =>
        `| ${r.seed} | ${r.finalReturn.toFixed(1)} ± ${r.finalStd.toFixed(1)} | ${r.bestReturn.toFixed(1)} | ${r.firstStepAtTarget ?? "—"} | ${r.minutes.toFixed(1)} |`,
    ),
    "",
  ].join("\n");
  writeFileSync("docs/results/rl/ppo-cartpole.md", md);
  console.log(md);
} else {
  const seed = Number.parseInt(opt("seed", "0"), 10);
  const evalEpisodes = Number.parseInt(opt("eval-episodes", "10"), 10);
  const nEnvs = 8;
  // The settings `sim2real train --env cartpole --algo ppo` uses (src/rl/train.ts): one source for both.
  const config: PpoConfigInput = {
    ...trainDefaults("cartpole", "ppo"),
    totalSteps: Number.parseInt(opt("steps", "300000"), 10),
    evalInterval: Number.parseInt(opt("eval-every", "20000"), 10),
  };
  const env = makeEnv("cartpole");
  const task = {
    env: new VecEnv(env, {}, nEnvs, Rng.fromSeed(seed)),
    actionSpace: env.actionSpace,
    evalEnv: new VecEnv(makeEnv("cartpole"), {}, evalEpisodes, Rng.fromSeed(10_000 + seed)),
  };
  const metrics: { step: number; metrics: Record<string, number> }[] = [];
  const t0 = performance.now();
  const res = trainPpo(task, config, Rng.fromSeed(seed), (step, m) => {
    metrics.push({ step, metrics: m });
    if ("eval/return" in m)
      console.log(
        `seed ${seed} step ${step}: eval ${m["eval/return"].toFixed(1)} (${((performance.now() - t0) / 1000).toFixed(0)} s)`,
      );
  });
  const seconds = (performance.now() - t0) / 1000;
  const final = res.evaluations.at(-1);
  writeJson(join(OUT, `seed-${seed}.json`), {
    seed,
    nEnvs,
    config: PpoConfigSchema.parse(config),
    evalEpisodes,
    seconds,
    final,
    evaluations: res.evaluations,
    // one metrics record in 20 keeps the file small (train/… every rollout, all eval/…)
    metrics: metrics.filter((m, i) => i % 20 === 0 || "eval/return" in m.metrics),
  });
  // checkpoints are large (all networks as JSON): only on request
  const ckptPath = opt("checkpoint", "");
  if (ckptPath !== "") writeJson(ckptPath, res.checkpoint());
  console.log(`seed ${seed}: final ${final?.mean.toFixed(1)} in ${(seconds / 60).toFixed(1)} min`);
}
