/**
 * `sim2real train` and `sim2real eval`, spawned as child processes: short SAC and PPO runs (tiny networks
 * through --config), byte-identical files for one seed, eval's numbers against an independent in-process
 * evaluation of the same checkpoint (SacAgent/PpoAgent.fromCheckpoint + VecEnv + evaluateEpisodes), gaps
 * that change them, a cross-simulator eval (pendulum → mj-pendulum), and the bad inputs that exit 2. In
 * process: the policy file's text round-trips exactly and the mj-puck success rate against a hand-rolled
 * rollout loop.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { makeEnv } from "../src/envs/control/registry.ts";
import { VecEnv } from "../src/envs/control/vec-env.ts";
import { MUJOCO_TASK_NAMES, makeAnyEnv, taskSuccess } from "../src/envs/make-env.ts";
import { MUJOCO_TASKS, mujocoEnvs, PUCK, puckTerms } from "../src/envs/mujoco/index.ts";
import { PpoAgent, type PpoCheckpoint } from "../src/inner/ppo.ts";
import { type ActFn, evaluateEpisodes } from "../src/inner/rl-common.ts";
import { SacAgent, type SacCheckpoint } from "../src/inner/sac.ts";
import { Rng } from "../src/math/rng.ts";
import { parsePolicyFile, policyFileText } from "../src/rl/checkpoint-file.ts";
import { evaluatePolicy } from "../src/rl/evaluate.ts";
import { type CliResult, cli, pool, show } from "./cli-helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "sim2real-cli-train-test-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const f = (name: string) => join(dir, name);

const SAC_TINY = { hidden: [16, 16], learningStarts: 100, batchSize: 32, evalInterval: 300 };
const PPO_TINY = { hidden: [16, 16], nSteps: 16, nEnvs: 2, epochs: 2, minibatchSize: 16 };

const TRAIN: Record<string, string[]> = {
  sacA: [
    "train",
    "--env",
    "pendulum",
    "--algo",
    "sac",
    "--steps",
    "600",
    "--seed",
    "7",
    "--config",
    f("sac.json"),
    "--out",
    f("a.json"),
  ],
  sacB: [
    "train",
    "--env",
    "pendulum",
    "--algo",
    "sac",
    "--steps",
    "600",
    "--seed",
    "7",
    "--config",
    f("sac.json"),
    "--out",
    f("b.json"),
    "--quiet",
  ],
  ppo: [
    "train",
    "--env",
    "cartpole",
    "--gap",
    "mass:1.5",
    "--algo",
    "ppo",
    "--steps",
    "256",
    "--config",
    f("ppo.yaml"),
    "--out",
    f("p.json"),
  ],
};

const EVAL: Record<string, string[]> = {
  sim: ["eval", f("a.json"), "--env", "pendulum", "--episodes", "5", "--seed", "3", "--json"],
  gap: [
    "eval",
    f("a.json"),
    "--env",
    "pendulum",
    "--gap",
    "mass:2",
    "--episodes",
    "5",
    "--seed",
    "3",
    "--json",
  ],
  defaults: ["eval", f("a.json"), "--json"],
  text: ["eval", f("a.json"), "--gap", "damping:0.1,latency:1", "--episodes", "3"],
  mujoco: ["eval", f("a.json"), "--env", "mj-pendulum", "--episodes", "4", "--seed", "1", "--json"],
  ppo: [
    "eval",
    f("p.json"),
    "--gap",
    "latency:1",
    "--gap",
    "obs-noise:0.05",
    "--episodes",
    "6",
    "--seed",
    "2",
    "--json",
  ],
};

/** Bad input → exit 2 with a message containing `expect`. */
const BAD: Record<string, { args: string[]; expect: string }> = {
  unknownEnv: { args: ["train", "--env", "nope", "--algo", "sac"], expect: "--env: unknown env 'nope'" },
  unknownGap: {
    args: ["train", "--env", "pendulum", "--algo", "sac", "--gap", "wobble"],
    expect: "--gap: unknown gap 'wobble'",
  },
  badMagnitude: {
    args: ["train", "--env", "pendulum", "--algo", "sac", "--gap", "mass:-1"],
    expect: "--gap: mass scale must be a positive number",
  },
  gapNotForTask: {
    args: ["train", "--env", "cartpole", "--algo", "sac", "--gap", "sgft-friction"],
    expect: "applies only to the pendulum",
  },
  zeroSteps: {
    args: ["train", "--env", "pendulum", "--algo", "sac", "--steps", "0"],
    expect: "--steps must be a positive integer",
  },
  badConfig: {
    args: ["train", "--env", "pendulum", "--algo", "sac", "--config", f("bad-config.json")],
    expect: "hiden: unknown field",
  },
  missingFile: { args: ["eval", f("missing.json")], expect: "cannot read checkpoint" },
  corruptFile: { args: ["eval", f("corrupt.json")], expect: "is not valid JSON" },
  foreignFile: { args: ["eval", f("bare-sac.json")], expect: "is not a sim2real policy file" },
  damagedFile: { args: ["eval", f("damaged.json")], expect: "is damaged" },
  mismatchedEnv: { args: ["eval", f("a.json"), "--env", "cartpole"], expect: "--env: the policy in" },
};

const train = new Map<string, CliResult>();
const evals = new Map<string, CliResult>();
const bad = new Map<string, CliResult>();

before(async () => {
  writeFileSync(f("sac.json"), JSON.stringify(SAC_TINY));
  writeFileSync(
    f("ppo.yaml"),
    Object.entries(PPO_TINY)
      .map(([k, v]) => `${k}: ${JSON.stringify(v)}`)
      .join("\n"),
  );
  writeFileSync(f("bad-config.json"), JSON.stringify({ hiden: [8] }));
  writeFileSync(f("corrupt.json"), '{"format": "sim2real/policy", ');
  const t = await pool(Object.values(TRAIN), cli);
  for (const [i, k] of Object.keys(TRAIN).entries()) train.set(k, t[i]);
  // Files derived from a trained one for the bad-input cases.
  const a = JSON.parse(readFileSync(f("a.json"), "utf8"));
  writeFileSync(f("bare-sac.json"), JSON.stringify(a.agent));
  writeFileSync(
    f("damaged.json"),
    JSON.stringify({
      ...a,
      agent: { ...a.agent, actor: { ...a.agent.actor, params: a.agent.actor.params.slice(1) } },
    }),
  );
  const runs = await pool([...Object.values(EVAL), ...Object.values(BAD).map((b) => b.args)], cli);
  for (const [i, k] of Object.keys(EVAL).entries()) evals.set(k, runs[i]);
  for (const [i, k] of Object.keys(BAD).entries()) bad.set(k, runs[Object.keys(EVAL).length + i]);
});

const ok = (r: CliResult | undefined): CliResult => {
  assert.ok(r, "command ran");
  assert.equal(r.status, 0, show(r));
  return r;
};
const json = (r: CliResult | undefined) => JSON.parse(ok(r).stdout);
const policy = (name: string) => parsePolicyFile(JSON.parse(readFileSync(f(name), "utf8")), name);

/** rl/evaluate.ts's definition, recomputed: K episodes on VecEnv(env, {}, K, Rng.fromSeed(seed)). */
function independent(env: ReturnType<typeof makeEnv>, act: ActFn, k: number, seed: number) {
  return evaluateEpisodes(new VecEnv(env, {}, k, Rng.fromSeed(seed)), act);
}
const sacAct = (ckpt: SacCheckpoint): ActFn => {
  const agent = SacAgent.fromCheckpoint(ckpt, {}, Rng.fromSeed(123));
  return (o, n, out) => agent.act(o, n, out, true);
};

test("train writes a policy file: format, algo, env, gaps, seed, steps, resolved config, evaluation, agent", () => {
  ok(train.get("sacA"));
  const a = policy("a.json");
  assert.equal(a.format, "sim2real/policy", "format");
  assert.equal(a.algo, "sac", "algo");
  assert.equal(a.env, "pendulum", "env");
  assert.deepEqual(a.gaps, [], "no gaps");
  assert.equal(a.seed, 7, "seed");
  assert.equal(a.steps, 600, "steps trained");
  assert.equal(a.config.totalSteps, 600, "--steps overrides the default 20000");
  assert.deepEqual(a.config.hidden, [16, 16], "--config applied");
  assert.equal(a.config.actorLr, 1e-3, "per-task default (eval-sac-pendulum's lr) kept");
  assert.equal(a.config.nEnvs, 1, "resolved train-only field");
  assert.equal(a.agent.format, "sim2real/sac", "agent checkpoint inside");
  assert.ok(a.agent.value !== null, "value network (SGFT's V_sim) enabled by default");
  assert.equal(a.evaluation.episodes, 20, "closing evaluation: 20 episodes");
  assert.deepEqual(
    a.history.map((h) => h.step),
    [300, 600],
    "evaluations during training every 300 steps",
  );
  assert.match(train.get("sacA")?.stderr ?? "", /step 300\/600 {2}eval\/return/, "progress lines on stderr");
  assert.equal(train.get("sacB")?.stderr, "", "--quiet prints nothing on stderr");
  const p = policy("p.json");
  ok(train.get("ppo"));
  assert.equal(p.algo, "ppo", "ppo algo");
  assert.deepEqual(p.gaps, ["mass:1.5"], "training gaps recorded");
  assert.equal(p.config.nEnvs, 2, "YAML config applied");
  assert.equal(p.steps, 256, "whole rollouts of 2 × 16 steps");
  assert.equal(p.agent.format, "sim2real/ppo", "PPO checkpoint inside");
});

test("one seed gives a byte-identical policy file", () => {
  ok(train.get("sacB"));
  assert.ok(readFileSync(f("a.json")).equals(readFileSync(f("b.json"))), "seed 7 twice: identical bytes");
});

test("the policy file's text round-trips exactly (every Float64 parameter)", () => {
  const text = readFileSync(f("a.json"), "utf8");
  assert.equal(
    policyFileText(parsePolicyFile(JSON.parse(text), "a.json")),
    text,
    "parse → text is the identity",
  );
});

test("eval prints the return of an independent in-process evaluation, and a gap changes it", () => {
  const a = policy("a.json");
  if (a.algo !== "sac") throw new Error("sac expected");
  const act = sacAct(a.agent);
  const sim = json(evals.get("sim"));
  const ref = independent(makeEnv("pendulum"), act, 5, 3);
  assert.equal(sim.mean, ref.mean, "no gap: mean return equals the independent evaluation");
  assert.equal(sim.std, ref.std, "no gap: std");
  assert.deepEqual(sim.returns, ref.returns, "no gap: every episode");
  const gap = json(evals.get("gap"));
  const refGap = independent(makeEnv("pendulum", "mass:2"), act, 5, 3);
  assert.equal(gap.mean, refGap.mean, "mass:2: mean return equals the independent evaluation");
  assert.deepEqual(gap.gaps, ["mass:2"], "gap echoed");
  assert.notEqual(gap.mean, sim.mean, "the mass gap changes the return");
  const defaults = json(evals.get("defaults"));
  assert.equal(defaults.episodes, 20, "default 20 episodes");
  assert.equal(
    defaults.mean,
    a.evaluation.mean,
    "eval with defaults reproduces the file's closing evaluation",
  );
  const text = ok(evals.get("text")).stdout;
  const refText = independent(makeEnv("pendulum", "damping:0.1,latency:1"), act, 3, 0);
  assert.ok(
    text.includes(`return   ${refText.mean.toFixed(2)} ± ${refText.std.toFixed(2)}`),
    `text output: ${text}`,
  );
  assert.ok(text.includes("pendulum+damping:0.1+latency:1"), "text names the gapped env");
});

test("eval of a PPO policy with two gaps, and of a SAC policy on another simulator with the same spaces", async () => {
  const p = policy("p.json");
  if (p.algo !== "ppo") throw new Error("ppo expected");
  const agent = PpoAgent.fromCheckpoint(p.agent as PpoCheckpoint, Rng.fromSeed(5));
  const res = json(evals.get("ppo"));
  const ref = independent(
    makeEnv("cartpole", "latency:1,obs-noise:0.05"),
    (o, n, out) => agent.act(o, n, out, true),
    6,
    2,
  );
  assert.equal(res.mean, ref.mean, "PPO with latency + noise: equals the independent evaluation");
  assert.deepEqual(
    res.trained,
    { env: "cartpole", gaps: ["mass:1.5"], seed: 0, steps: 256 },
    "training provenance",
  );
  const a = policy("a.json");
  if (a.algo !== "sac") throw new Error("sac expected");
  assert.deepEqual(
    MUJOCO_TASK_NAMES,
    MUJOCO_TASKS.map((t) => t.name),
    "make-env.ts lists the MuJoCo tasks",
  );
  const mj = (await mujocoEnvs())["mj-pendulum"]();
  const refMj = independent(mj, sacAct(a.agent), 4, 1);
  mj.dispose();
  assert.equal(json(evals.get("mujoco")).mean, refMj.mean, "pendulum policy on mj-pendulum");
});

test("bad input exits 2 with a message naming the option and the problem, no stack", () => {
  for (const [name, { expect }] of Object.entries(BAD)) {
    const r = bad.get(name);
    assert.ok(r, name);
    assert.equal(r.status, 2, `${name}: ${show(r)}`);
    assert.ok(r.stderr.includes(expect), `${name}: stderr should contain '${expect}': ${show(r)}`);
    assert.ok(!/\n\s+at /.test(r.stderr), `${name}: no stack trace: ${show(r)}`);
  }
  assert.ok(
    bad.get("foreignFile")?.stderr.includes("bare agent checkpoint"),
    "a bare SAC checkpoint is named as such",
  );
});

test("mj-puck success rate: the share of episodes whose last state has the puck in the goal band, on the table", async () => {
  // A scripted pusher: line up behind the puck, push it to the edge when the puck starts at y > 0, stop
  // 6.5 cm short otherwise, so that about half the episodes succeed.
  const act: ActFn = (obs, n, out) => {
    for (let i = 0; i < n; i++) {
      const [ex, ey, px, py] = obs.subarray(4 * i, 4 * i + 4);
      const aligned = Math.abs(ey - py) < 0.01;
      const stop = py > 0 ? PUCK.goalX - 0.035 : PUCK.goalX - 0.1;
      const tx = aligned ? stop : Math.min(ex, px - 0.06);
      out[2 * i] = Math.max(-1, Math.min(1, (tx - ex) / (aligned ? 0.1 : 0.05)));
      out[2 * i + 1] = Math.max(-1, Math.min(1, (py - ey) / 0.05));
    }
  };
  const K = 8;
  const env = await makeAnyEnv("mj-puck");
  const res = evaluatePolicy(env, act, K, 4, await taskSuccess("mj-puck"));
  // Hand-rolled: VecEnv's streams (one split per copy), 40 steps, success from the final states.
  const root = Rng.fromSeed(4);
  const rngs = Array.from({ length: K }, () => root.split());
  const p = env.defaultParams;
  const states = rngs.map(() => new Float64Array(env.stateSize));
  const obs = new Float64Array(4 * K);
  const a = new Float64Array(2 * K);
  const out = { reward: 0, terminated: false };
  const ret = new Float64Array(K);
  states.forEach((s, i) => {
    env.reset(p, s, rngs[i]);
    env.observe(p, s, obs.subarray(4 * i, 4 * i + 4), rngs[i]);
  });
  for (let t = 0; t < env.maxSteps; t++) {
    act(obs, K, a);
    states.forEach((s, i) => {
      env.step(p, s, a.subarray(2 * i, 2 * i + 2), rngs[i], out);
      ret[i] += out.reward;
      env.observe(p, s, obs.subarray(4 * i, 4 * i + 4), rngs[i]);
    });
  }
  const successes = states.filter((s) => puckTerms(s).success).length;
  env.dispose();
  assert.ok(successes > 0 && successes < K, `the scripted pusher succeeds sometimes (${successes}/${K})`);
  assert.equal(res.successRate, successes / K, "success rate equals the hand-rolled count");
  assert.deepEqual(res.returns, Array.from(ret), "returns equal the hand-rolled ones");
});
