/** SGFT diagnostic (docs/results/sgft/README.md, "Follow-up diagnostics"): node --import tsx scripts/sgft-diag/greedy-return.ts <H> [gap] */
import { readFileSync } from "node:fs";
import { makeEnv } from "../../src/envs/control/registry.ts";
import { SacAgent } from "../../src/inner/sac.ts";
import { Rng } from "../../src/math/rng.ts";
import { valueFromCheckpoint } from "../../src/sgft/sim-bundle.ts";
const b = JSON.parse(readFileSync("docs/results/sgft/pendulum-friction/bundle.json", "utf8"));
const agent = SacAgent.fromCheckpoint(b.sac, {}, Rng.fromSeed(0));
const V = valueFromCheckpoint(b.sac);
const gap = process.argv[3] ?? "";
const env = makeEnv("pendulum", gap);
const p = env.defaultParams;
const H = Number(process.argv[2] ?? 1);
const rng = Rng.fromSeed(5);
const out = { reward: 0, terminated: false };
const o = new Float64Array(3), v = new Float64Array(1), a = new Float64Array(1);
function q(st: Float64Array, u: number): number {
  const s2 = Float64Array.from(st); let ret = 0, disc = 1; a[0] = u;
  for (let k = 0; k < H; k++) { env.step(p, s2, a, rng, out); ret += disc * out.reward; disc *= 0.99; env.observe(p, s2, o, rng); agent.act(o, 1, a, true); }
  env.observe(p, s2, o, rng); V(o, 1, v); return ret + disc * v[0];
}
let total = 0; const E = 6;
for (let e = 0; e < E; e++) {
  const st = new Float64Array(env.stateSize); env.reset(p, st, rng); let R = 0;
  for (let t = 0; t < 200; t++) {
    let best = -Infinity, bu = 0;
    for (let u = -2; u <= 2.0001; u += 0.1) { const x = q(st, u); if (x > best) { best = x; bu = u; } }
    a[0] = bu; env.step(p, st, a, rng, out); R += out.reward;
  }
  total += R;
}
// the sim policy itself on the same env
let totalPi = 0;
for (let e = 0; e < E; e++) {
  const st = new Float64Array(env.stateSize); env.reset(p, st, rng); let R = 0;
  for (let t = 0; t < 200; t++) { env.observe(p, st, o, rng); agent.act(o, 1, a, true); env.step(p, st, a, rng, out); R += out.reward; }
  totalPi += R;
}
console.log(`gap '${gap}' H=${H}: greedy-on-V_sim with the true model ${(total / E).toFixed(1)}; π_sim ${(totalPi / E).toFixed(1)}`);
