/** SGFT diagnostic: actor updates on a fixed buffer. node --import tsx scripts/sgft-diag/actor-diag.ts [gap] [config JSON] */
import { readFileSync } from "node:fs";
import { makeEnv } from "../../src/envs/control/registry.ts";
import { VecEnv } from "../../src/envs/control/vec-env.ts";
import { ReplayBuffer } from "../../src/inner/replay-buffer.ts";
import { evaluateEpisodes } from "../../src/inner/rl-common.ts";
import type { SacAgent } from "../../src/inner/sac.ts";
import { Rng } from "../../src/math/rng.ts";
import { sgftSacLearner } from "../../src/sgft/sgft-sac.ts";
import { valueFromCheckpoint } from "../../src/sgft/sim-bundle.ts";
const gap = process.argv[2] ?? "sgft-friction:0.5";
const extra = JSON.parse(process.argv[3] ?? "{}");
const b = JSON.parse(readFileSync("docs/results/sgft/pendulum-friction/bundle.json", "utf8"));
const delay = 2000;
const learner = sgftSacLearner(b, { actorDelay: delay, branchActions: "uniform", ...extra }, Rng.fromSeed(1));
const agent = learner.agent as SacAgent;
const V = valueFromCheckpoint(b.sac);
const env = makeEnv("pendulum", gap);
const venv = new VecEnv(env, {}, 1, Rng.fromSeed(2));
const buf = new ReplayBuffer(100000, 3, 1);
let obs = Float64Array.from(venv.reset());
const a = new Float64Array(1);
const r0 = Rng.fromSeed(3);
for (let t = 0; t < 2400; t++) {
  learner.act(obs, 1, a, r0);
  const res = venv.step(a);
  buf.addStep(obs, a, res);
  obs = Float64Array.from(res.obs);
}
const p = env.defaultParams;
const out = { reward: 0, terminated: false };
const idx = Array.from({ length: 200 }, (_, k) => Math.floor(((k + 0.5) / 200) * buf.size));
function stats() {
  let qTrue = 0, qLearned = 0;
  const rr = Rng.fromSeed(9);
  for (const i of idx) {
    const o = Float64Array.from(buf.obs.subarray(3 * i, 3 * i + 3));
    const u = new Float64Array(1); agent.act(o, 1, u, true);
    const st = Float64Array.of(Math.atan2(o[1], o[0]), o[2]);
    env.step(p, st, u, rr, out);
    const o2 = Float64Array.of(Math.cos(st[0]), Math.sin(st[0]), st[1]);
    const v0 = new Float64Array(1), v1 = new Float64Array(1); V(o, 1, v0); V(o2, 1, v1);
    qTrue += (out.reward + 0.99 * v1[0] - v0[0]) / idx.length;
    const q1 = new Float64Array(1), q2 = new Float64Array(1);
    agent.qValues(o, Float64Array.of(u[0] / 2), 1, q1, q2);
    qLearned += Math.min(q1[0], q2[0]) / idx.length;
  }
  const ev = evaluateEpisodes(new VecEnv(makeEnv("pendulum", gap), {}, 10, Rng.fromSeed(77)), (o, n, o2) => agent.act(o, n, o2, true));
  return `true Q1(s,π(s)) ${qTrue.toFixed(3)}  learned ${qLearned.toFixed(3)}  return ${ev.mean.toFixed(1)}`;
}
for (let u = 0; u < delay; u++) learner.update(buf);
console.log("after critic-only:", stats());
for (const k of [25, 25, 50, 100, 200]) {
  for (let u = 0; u < k; u++) learner.update(buf);
  console.log(`+${k} actor updates:`, stats());
}
