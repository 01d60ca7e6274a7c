/** SGFT diagnostic: learned critic vs the true one-step objective. node --import tsx scripts/sgft-diag/critic-diag.ts <gap|""> <updates> [config JSON] */
import { readFileSync } from "node:fs";
import { makeEnv } from "../../src/envs/control/registry.ts";
import { VecEnv } from "../../src/envs/control/vec-env.ts";
import { ReplayBuffer } from "../../src/inner/replay-buffer.ts";
import type { SacAgent } from "../../src/inner/sac.ts";
import { Rng } from "../../src/math/rng.ts";
import { sgftSacLearner } from "../../src/sgft/sgft-sac.ts";
import { valueFromCheckpoint } from "../../src/sgft/sim-bundle.ts";
const gap = process.argv[2] ?? "sgft-friction:0.5";
const updates = Number(process.argv[3] ?? 2000);
const extra = JSON.parse(process.argv[4] ?? "{}");
const b = JSON.parse(readFileSync("docs/results/sgft/pendulum-friction/bundle.json", "utf8"));
const learner = sgftSacLearner(b, { actorDelay: 1e9, ...extra }, Rng.fromSeed(1));
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
let last: Record<string, number> = {};
for (let u = 0; u < updates; u++) last = learner.update(buf);
console.log("after", updates, "updates", JSON.stringify(last));
const p = env.defaultParams;
const out = { reward: 0, terminated: false };
const rr = Rng.fromSeed(4);
let corrSum = 0, agree = 0, gradSign = 0, nGrad = 0;
const N = 60;
for (let k = 0; k < N; k++) {
  const i = Math.floor(rr.uniform() * buf.size);
  const o = buf.obs.subarray(3 * i, 3 * i + 3);
  const st = Float64Array.of(Math.atan2(o[1], o[0]), o[2]);
  const v0 = new Float64Array(1); V(Float64Array.from(o), 1, v0);
  const learned: number[] = [], truth: number[] = [];
  for (let j = 0; j <= 40; j++) {
    const u = -2 + 0.1 * j;
    const s2 = Float64Array.from(st);
    env.step(p, s2, Float64Array.of(u), rr, out);
    const o2 = Float64Array.of(Math.cos(s2[0]), Math.sin(s2[0]), s2[1]);
    const v1 = new Float64Array(1); V(o2, 1, v1);
    truth.push(out.reward + 0.99 * v1[0] - v0[0]);
    const q1 = new Float64Array(1), q2 = new Float64Array(1);
    agent.qValues(Float64Array.from(o), Float64Array.of(u / 2), 1, q1, q2);
    learned.push(Math.min(q1[0], q2[0]));
  }
  const m = (x: number[]) => x.reduce((s, y) => s + y, 0) / x.length;
  const mt = m(truth), ml = m(learned);
  let c = 0, vt = 0, vl = 0;
  for (let j = 0; j <= 40; j++) { c += (truth[j] - mt) * (learned[j] - ml); vt += (truth[j] - mt) ** 2; vl += (learned[j] - ml) ** 2; }
  corrSum += c / Math.sqrt(vt * vl + 1e-30);
  const at = truth.indexOf(Math.max(...truth)), al = learned.indexOf(Math.max(...learned));
  if (Math.abs(at - al) <= 5) agree++;
  // gradient sign at the policy action
  const pa = new Float64Array(1); agent.act(Float64Array.from(o), 1, pa, true);
  const jj = Math.round((pa[0] + 2) / 0.1);
  if (jj > 0 && jj < 40) { nGrad++; if (Math.sign(truth[jj + 1] - truth[jj - 1]) === Math.sign(learned[jj + 1] - learned[jj - 1])) gradSign++; }
}
console.log(`gap '${gap}': corr(learned Q(s,·), true Q_1(s,·)) mean ${(corrSum / N).toFixed(3)}; argmax within 0.5: ${agree}/${N}; ∂Q/∂a sign at π(s): ${gradSign}/${nGrad}`);
