/**
 * SGFT benchmarks (issue 8): pre-train in simulation once per benchmark (SAC with V_sim, then the delta
 * model), then fine-tune in the "real" system (simulator + gap) with each method × seed, recording the
 * deterministic policy's real return against real transitions.
 *
 *   node --import tsx scripts/sgft-bench.ts pretrain --bench pendulum-friction
 *   node --import tsx scripts/sgft-bench.ts run --bench pendulum-friction --method sgft-sac --seed 0 [--horizon 1]
 *   node --import tsx scripts/sgft-bench.ts summarize --bench pendulum-friction
 *
 * Files: docs/results/sgft/<bench>/bundle.json (the sim bundle), runs/<method>[-H<h>]-seed<s>.json,
 * summary.md / summary.json.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeEnv } from "../src/envs/control/registry.ts";
import { VecEnv } from "../src/envs/control/vec-env.ts";
import { evaluateEpisodes } from "../src/inner/rl-common.ts";
import { SacAgent } from "../src/inner/sac.ts";
import { Rng } from "../src/math/rng.ts";
import { runSacFinetune, SAC_FINETUNE_PRESETS } from "../src/sgft/sac-finetune.ts";
import { runSgftSac } from "../src/sgft/sgft-sac.ts";
import { pretrainInSim, type SimBundle } from "../src/sgft/sim-bundle.ts";
import type { FinetunePoint } from "../src/sgft/finetune.ts";

interface Bench {
  env: string;
  gaps: string;
  simSteps: number;
  hidden: number[];
  realSteps: number;
  evalInterval: number;
  evalEpisodes: number;
}

const BENCHES: Record<string, Bench> = {
  "pendulum-friction": {
    env: "pendulum",
    gaps: "sgft-friction:3",
    simSteps: 20_000,
    hidden: [64, 64],
    realSteps: 10_000,
    evalInterval: 500,
    evalEpisodes: 10,
  },
  "pendulum-action-scale": {
    env: "pendulum",
    gaps: "action-scale:0.5",
    simSteps: 20_000,
    hidden: [64, 64],
    realSteps: 10_000,
    evalInterval: 500,
    evalEpisodes: 10,
  },
};

const args = process.argv.slice(2);
const cmd = args[0];
const opt = (name: string, def?: string): string => {
  const i = args.indexOf(`--${name}`);
  if (i >= 0 && i + 1 < args.length) return args[i + 1];
  if (def === undefined) throw new Error(`--${name} is required`);
  return def;
};
const benchName = opt("bench");
const bench = BENCHES[benchName];
if (!bench) throw new Error(`unknown bench ${benchName}; known: ${Object.keys(BENCHES).join(", ")}`);
const dir = join("docs/results/sgft", benchName);
mkdirSync(join(dir, "runs"), { recursive: true });
const log = (s: string) => process.stderr.write(`${s}\n`);

if (cmd === "pretrain") {
  const seed = Number(opt("seed", "0"));
  const env = makeEnv(bench.env);
  const task = {
    env: new VecEnv(env, {}, 1, Rng.fromSeed(seed)),
    actionSpace: env.actionSpace,
    evalEnv: new VecEnv(makeEnv(bench.env), {}, 10, Rng.fromSeed(10_000 + seed)),
  };
  const t0 = performance.now();
  const bundle = pretrainInSim(
    bench.env,
    task,
    { totalSteps: bench.simSteps, hidden: bench.hidden, learningStarts: 1000, evalInterval: 2000 },
    { hidden: [128, 128] },
    Number(opt("model-updates", "5000")),
    Rng.fromSeed(seed),
    (step, m) => log(`${step} ${JSON.stringify(m)}`),
  );
  writeFileSync(join(dir, "bundle.json"), JSON.stringify(bundle));
  log(`bundle written (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
} else if (cmd === "run") {
  const method = opt("method");
  const seed = Number(opt("seed", "0"));
  const horizon = Number(opt("horizon", "1"));
  const realSteps = Number(opt("steps", String(bench.realSteps)));
  const bundle = JSON.parse(readFileSync(join(dir, "bundle.json"), "utf8")) as SimBundle;
  const real = makeEnv(bench.env, bench.gaps);
  const task = {
    env: new VecEnv(real, {}, 1, Rng.fromSeed(1000 + seed)),
    actionSpace: real.actionSpace,
    evalEnv: new VecEnv(makeEnv(bench.env, bench.gaps), {}, bench.evalEpisodes, Rng.fromSeed(20_000 + seed)),
  };
  const common = { realSteps, evalInterval: bench.evalInterval, gamma: bundle.gamma };
  const fargs = { task, bundle, rng: Rng.fromSeed(seed), onMetrics: (s: number, m: Record<string, number>) => log(`${s} ${JSON.stringify(m)}`) };
  const t0 = performance.now();
  let points: FinetunePoint[];
  let label = method;
  if (method === "sgft-sac") {
    points = runSgftSac(fargs, { ...common, horizon }).points;
    label = `sgft-sac-H${horizon}`;
  } else if (method === "sac" || method === "pbrs-sac") {
    points = runSacFinetune(fargs, { ...common, ...SAC_FINETUNE_PRESETS[method] }).points;
  } else throw new Error(`unknown method ${method}`);
  const out = { bench: benchName, method: label, seed, points, wallSeconds: (performance.now() - t0) / 1000 };
  writeFileSync(join(dir, "runs", `${label}-seed${seed}.json`), JSON.stringify(out, null, 1));
  log(`done ${label} seed ${seed}: final ${points[points.length - 1].return.toFixed(1)} (${out.wallSeconds.toFixed(0)} s)`);
} else if (cmd === "zero-shot") {
  const bundle = JSON.parse(readFileSync(join(dir, "bundle.json"), "utf8")) as SimBundle;
  const agent = SacAgent.fromCheckpoint(bundle.sac, {}, Rng.fromSeed(0));
  const act = (o: Float64Array, n: number, out: Float64Array) => agent.act(o, n, out, true);
  const sim = evaluateEpisodes(new VecEnv(makeEnv(bench.env), {}, 50, Rng.fromSeed(77)), act);
  const real = evaluateEpisodes(new VecEnv(makeEnv(bench.env, bench.gaps), {}, 50, Rng.fromSeed(77)), act);
  log(`sim ${sim.mean.toFixed(1)} ± ${sim.std.toFixed(1)}; real ${real.mean.toFixed(1)} ± ${real.std.toFixed(1)}`);
} else if (cmd === "summarize") {
  const files = readdirSync(join(dir, "runs")).filter((f) => f.endsWith(".json"));
  const runs = files.map((f) => JSON.parse(readFileSync(join(dir, "runs", f), "utf8")));
  log(`${runs.length} runs`);
  if (existsSync(join(dir, "summary.json"))) log("overwriting summary");
} else throw new Error(`unknown command ${cmd}`);
