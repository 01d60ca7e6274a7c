/** SGFT diagnostic: the delta model against the true pendulum. node --import tsx scripts/sgft-diag/model-diag.ts */
import { readFileSync } from "node:fs";
import { makeEnv } from "../../src/envs/control/registry.ts";
import { Rng } from "../../src/math/rng.ts";
import { DeltaDynamicsModel } from "../../src/sgft/dynamics-model.ts";
import { valueFromCheckpoint } from "../../src/sgft/sim-bundle.ts";
const b = JSON.parse(readFileSync("docs/results/sgft/pendulum-friction/bundle.json", "utf8"));
const m = DeltaDynamicsModel.fromJson(b.model, {}, Rng.fromSeed(0));
const V = valueFromCheckpoint(b.sac);
const env = makeEnv("pendulum");
const p = env.defaultParams; const out = { reward: 0, terminated: false };
const rng = Rng.fromSeed(1);
let agreeDv = 0, agreeQ = 0; const N = 50; let errSum = 0, trueSum = 0;
for (let k = 0; k < N; k++) {
  const st = Float64Array.of(Math.PI * (2 * rng.uniform() - 1), 8 * (2 * rng.uniform() - 1) * 0.5);
  const o = Float64Array.of(Math.cos(st[0]), Math.sin(st[0]), st[1]);
  const res: number[][] = [];
  for (const u of [-1, 1]) {
    const s2 = Float64Array.from(st); env.step(p, s2, Float64Array.of(u), rng, out);
    const o2 = Float64Array.of(Math.cos(s2[0]), Math.sin(s2[0]), s2[1]);
    const n = new Float64Array(3), r = new Float64Array(1), c = new Float64Array(1);
    m.predict(o, Float64Array.of(u), 1, n, r, c);
    const vt = new Float64Array(1), vm = new Float64Array(1); V(o2, 1, vt); V(n, 1, vm);
    res.push([o2[2], n[2], out.reward + 0.99 * vt[0], r[0] + 0.99 * vm[0]]);
  }
  const dTrue = res[1][0] - res[0][0], dModel = res[1][1] - res[0][1];
  if (Math.sign(dTrue) === Math.sign(dModel)) agreeDv++;
  const qTrue = res[1][2] - res[0][2], qModel = res[1][3] - res[0][3];
  if (Math.sign(qTrue) === Math.sign(qModel)) agreeQ++;
  errSum += Math.abs(qTrue - qModel); trueSum += Math.abs(qTrue);
  if (k < 5) console.log(`Δθ̇(u=1)−Δθ̇(u=−1): true ${dTrue.toFixed(3)} model ${dModel.toFixed(3)}; ΔQ1 true ${qTrue.toFixed(3)} model ${qModel.toFixed(3)}`);
}
console.log(`sign agreement: Δθ̇ ${agreeDv}/${N}, ΔQ_1 ${agreeQ}/${N}; mean |ΔQ err| ${(errSum / N).toFixed(3)} vs mean |ΔQ true| ${(trueSum / N).toFixed(3)}`);
