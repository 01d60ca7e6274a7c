import assert from "node:assert/strict";
import { test } from "node:test";
import { box, type ControlEnv, type EnvParams, type StepResult } from "../src/envs/control/env.ts";
import { VecEnv } from "../src/envs/control/vec-env.ts";
import {
  computeGae,
  PpoAgent,
  type PpoCheckpoint,
  PpoConfigSchema,
  ppoSurrogate,
  trainPpo,
} from "../src/inner/ppo.ts";
import { clipGradNorm, evaluateEpisodes } from "../src/inner/rl-common.ts";
import { Rng } from "../src/math/rng.ts";
import { GaussianMlpPolicy } from "../src/policies/mlp-policies.ts";
import { BanditEnv } from "./rl-envs.ts";

/** Constant observation 0.5, reward 1 every step; each episode is one step, ended by `mode`. */
class OneStepEnv implements ControlEnv {
  readonly id = "one-step";
  readonly description = "reward 1, one-step episodes";
  readonly stateSize = 1;
  readonly observationSpace = box([0], [1]);
  readonly actionSpace = box([-1], [1]);
  readonly maxSteps = 1;
  readonly defaultParams: EnvParams = {};
  constructor(private readonly mode: "terminate" | "truncate") {}
  reset(_p: EnvParams, s: Float64Array): void {
    s[0] = 0.5;
  }
  observe(_p: EnvParams, s: Float64Array, o: Float64Array): void {
    o[0] = s[0];
  }
  step(_p: EnvParams, _s: Float64Array, _a: Float64Array, _rng: Rng, out: StepResult): void {
    out.reward = 1;
    out.terminated = this.mode === "terminate";
  }
}

function vec(env: ControlEnv, n: number, seed: number): VecEnv {
  return new VecEnv(env, {}, n, Rng.fromSeed(seed));
}

test("GAE: hand-computed example with a termination and a truncation (2 envs × 4 steps)", () => {
  // time-major: index t·2 + i. γ = 0.9, λ = 0.8 (γλ = 0.72).
  // env 0: r = 1, 2, 3, 4; V = .5, .6, .7, .8; terminated (and ended) at t = 1; V(s_4) = 0.9 bootstraps the cut.
  //   t3: δ = 4 + .9·.9 − .8 = 4.01                 Â = 4.01
  //   t2: δ = 3 + .9·.8 − .7 = 3.02                 Â = 3.02 + .72·4.01 = 5.9072
  //   t1: δ = 2 − .6 = 1.4 (terminated: no V(s′))  Â = 1.4 (episode ends: no carry)
  //   t0: δ = 1 + .9·.6 − .5 = 1.04                 Â = 1.04 + .72·1.4 = 2.048
  // env 1: r = 0, 0, 1, 0; V = 1 everywhere; truncated at t = 2 with V(finalObs) = 2; V(s_4) = 3.
  //   t3: δ = 0 + .9·3 − 1 = 1.7                    Â = 1.7
  //   t2: δ = 1 + .9·2 − 1 = 1.8 (bootstrapped)     Â = 1.8 (episode ends)
  //   t1: δ = 0 + .9·1 − 1 = −0.1                   Â = −0.1 + .72·1.8 = 1.196
  //   t0: δ = −0.1                                  Â = −0.1 + .72·1.196 = 0.76112
  const rewards = [1, 0, 2, 0, 3, 1, 4, 0];
  const values = [0.5, 1, 0.6, 1, 0.7, 1, 0.8, 1];
  const nextValues = [0.6, 1, 99, 1, 0.8, 2, 0.9, 3]; // 99: ignored, the step terminated
  const terminated = [0, 0, 1, 0, 0, 0, 0, 0];
  const ended = [0, 0, 1, 0, 0, 1, 0, 0];
  const adv = new Float64Array(8);
  const ret = new Float64Array(8);
  computeGae(4, 2, rewards, values, nextValues, terminated, ended, 0.9, 0.8, adv, ret);
  const expected = [2.048, 0.76112, 1.4, 1.196, 5.9072, 1.8, 4.01, 1.7];
  expected.forEach((e, k) => {
    assert.ok(Math.abs(adv[k] - e) < 1e-12, `advantage ${k}: ${adv[k]} vs ${e}`);
    assert.ok(Math.abs(ret[k] - (e + values[k])) < 1e-12, `return ${k} = Â + V`);
  });
  // λ = 1, γ = 1 without bootstrap values is the plain Monte-Carlo return minus V
  computeGae(3, 1, [1, 1, 1], [0, 0, 0], [0, 0, 0], [0, 0, 1], [0, 0, 1], 1, 1, adv, ret);
  assert.deepEqual(Array.from(ret.subarray(0, 3)), [3, 2, 1], "Monte-Carlo returns to go");
});

test("PPO clipped surrogate: gradient matches finite differences (clipped and unclipped samples)", () => {
  const rng = Rng.fromSeed(21);
  const policy = new GaussianMlpPolicy(
    { sizes: [3, 6, 2], activations: ["tanh", "linear"] },
    { logStd: [-0.3, 0.2], learnLogStd: true },
  );
  const phi = policy.init(rng);
  const n = 12;
  const obs = Float64Array.from({ length: n * 3 }, () => rng.normal());
  const actions = policy.sample(phi, obs, n, rng);
  const lpNow = policy.logProb(phi, obs, actions, n);
  // old log-probs: ratios spread over [0.6, 1.45] so some samples are clipped on each side
  const logpOld = Float64Array.from(lpNow, (x, i) => x - Math.log(0.6 + (0.85 * i) / (n - 1)));
  const adv = Float64Array.from({ length: n }, (_, i) => (i % 3 === 0 ? -1 : 1) * (0.5 + rng.uniform()));
  const clip = 0.2;
  for (let i = 0; i < n; i++) {
    const rho = Math.exp(lpNow[i] - logpOld[i]);
    assert.ok(
      Math.abs(rho - 1 - clip) > 1e-3 && Math.abs(rho - 1 + clip) > 1e-3,
      `sample ${i} away from the kinks`,
    );
  }
  const grad = new Float64Array(policy.nParams);
  const stats = ppoSurrogate(policy, phi, obs, actions, logpOld, adv, n, clip, 0.01, grad);
  assert.ok(
    stats.clipFraction > 0.2 && stats.clipFraction < 0.8,
    `a mix of clipped samples (${stats.clipFraction})`,
  );
  const h = 1e-6;
  let worst = 0;
  for (let k = 0; k < phi.length; k++) {
    const p = Float64Array.from(phi);
    p[k] += h;
    const up = ppoSurrogate(policy, p, obs, actions, logpOld, adv, n, clip, 0.01, null).loss;
    p[k] -= 2 * h;
    const down = ppoSurrogate(policy, p, obs, actions, logpOld, adv, n, clip, 0.01, null).loss;
    const fd = (up - down) / (2 * h);
    worst = Math.max(worst, Math.abs(fd - grad[k]) / (1e-6 + Math.abs(fd)));
  }
  assert.ok(worst < 1e-5, `worst relative error of the surrogate gradient: ${worst}`);
  // at ρ = 1 the surrogate gradient is the policy gradient −mean Â ∇log π, and the KL estimate is 0
  const g1 = new Float64Array(policy.nParams);
  const s1 = ppoSurrogate(policy, phi, obs, actions, lpNow, adv, n, clip, 0, g1);
  assert.ok(
    Math.abs(s1.approxKl) < 1e-15 && s1.clipFraction === 0,
    "no clipping and zero KL at the old policy",
  );
  const g2 = new Float64Array(policy.nParams);
  policy.scoreSum(
    phi,
    obs,
    actions,
    n,
    Float64Array.from(adv, (a) => -a / n),
    g2,
  );
  for (let k = 0; k < g1.length; k++)
    assert.ok(Math.abs(g1[k] - g2[k]) < 1e-12, `policy-gradient entry ${k}`);
});

test("PPO config: documented defaults and validation", () => {
  const cfg = PpoConfigSchema.parse({});
  assert.equal(cfg.nSteps, 2048, "2048 steps per rollout");
  assert.equal(cfg.clipRange, 0.2, "ε = 0.2");
  assert.equal(cfg.lambda, 0.95, "λ = 0.95");
  assert.equal(cfg.epochs, 10, "10 epochs");
  assert.equal(cfg.minibatchSize, 64, "minibatches of 64");
  assert.deepEqual(cfg.hidden, [64, 64], "2×64 networks");
  assert.ok(PpoConfigSchema.description?.includes("PPO"), "the schema is described");
  assert.throws(() => PpoConfigSchema.parse({ clipRange: -1 }), "negative clip range rejected");
  assert.throws(() => PpoConfigSchema.parse({ lambda: 2 }), "λ > 1 rejected");
});

const BANDIT = {
  nSteps: 64,
  epochs: 10,
  minibatchSize: 64,
  hidden: [32, 32],
  actorLr: 3e-3,
  criticLr: 3e-3,
  annealLr: false,
  evalInterval: 0,
};

test("PPO learns the optimum of a one-step continuous bandit", () => {
  const metrics: Record<string, number>[] = [];
  const t0 = performance.now();
  const res = trainPpo(
    { env: vec(new BanditEnv(), 4, 1), actionSpace: box([-1], [1]), evalEnv: vec(new BanditEnv(), 16, 2) },
    { ...BANDIT, totalSteps: 25_600 },
    Rng.fromSeed(1),
    (_s, m) => metrics.push(m),
  );
  const seconds = (performance.now() - t0) / 1000;
  const grid = [-0.9, -0.5, 0, 0.4, 0.8];
  const a = new Float64Array(grid.length);
  res.agent.act(Float64Array.from(grid), grid.length, a, true);
  for (const [i, c] of grid.entries())
    assert.ok(Math.abs(a[i] - c / 2) < 0.08, `mean action at c = ${c}: ${a[i]} (optimum ${c / 2})`);
  const first = metrics[0]["train/std"];
  const last = metrics.filter((m) => "train/std" in m).at(-1)?.["train/std"] ?? Number.NaN;
  assert.ok(last < 0.5 * first, `the policy's σ shrinks on a quadratic reward (${first} → ${last})`);
  const evalReturn = metrics.filter((m) => "eval/return" in m).at(-1)?.["eval/return"] ?? Number.NaN;
  assert.ok(evalReturn > -0.01, `final deterministic return ${evalReturn}`);
  assert.ok(seconds < 20, `took ${seconds.toFixed(1)} s`);
});

test("PPO bootstraps truncated episodes from V(finalObs) and not terminated ones", () => {
  for (const [mode, expected] of [
    ["truncate", 2],
    ["terminate", 1],
  ] as const) {
    const res = trainPpo(
      { env: vec(new OneStepEnv(mode), 2, 1), actionSpace: box([-1], [1]) },
      { ...BANDIT, hidden: [8], gamma: 0.5, nSteps: 32, totalSteps: 3200, criticLr: 1e-2 },
      Rng.fromSeed(0),
    );
    const v = new Float64Array(1);
    res.value(Float64Array.of(0.5), 1, v);
    assert.ok(Math.abs(v[0] - expected) < 0.05, `${mode}: V = ${v[0]}, expected ${expected}`);
  }
});

test("PPO: same seed gives bit-identical metrics; another seed differs", () => {
  const run = (seed: number) => {
    const out: string[] = [];
    trainPpo(
      {
        env: vec(new BanditEnv(), 2, seed),
        actionSpace: box([-1], [1]),
        evalEnv: vec(new BanditEnv(), 4, seed + 1),
      },
      { ...BANDIT, nSteps: 32, totalSteps: 256, evalInterval: 128 },
      Rng.fromSeed(seed),
      (s, m) => out.push(JSON.stringify([s, m])),
    );
    return out;
  };
  const a = run(5);
  assert.ok(a.length >= 6, "metrics were reported");
  assert.deepEqual(run(5), a, "same seed, same metrics");
  assert.notDeepEqual(run(6), a, "another seed, other metrics");
});

test("PPO checkpoint: JSON round-trip restores actions and values bit for bit", () => {
  const res = trainPpo(
    { env: vec(new BanditEnv(), 2, 3), actionSpace: box([-1], [1]) },
    { ...BANDIT, nSteps: 32, totalSteps: 256 },
    Rng.fromSeed(3),
  );
  const text = JSON.stringify(res.checkpoint());
  const back = PpoAgent.fromCheckpoint(JSON.parse(text) as PpoCheckpoint, Rng.fromSeed(0));
  assert.equal(JSON.stringify(back.checkpoint()), text, "re-serialised checkpoint is identical");
  const n = 32;
  const obs = Float64Array.from({ length: n }, (_, i) => -1 + (2 * i) / (n - 1));
  const same = (x: Float64Array, y: Float64Array, what: string) => {
    for (let i = 0; i < x.length; i++) assert.ok(Object.is(x[i], y[i]), `${what}[${i}]: ${x[i]} vs ${y[i]}`);
  };
  const a1 = new Float64Array(n);
  const a2 = new Float64Array(n);
  res.agent.act(obs, n, a1, true);
  back.act(obs, n, a2, true);
  same(a1, a2, "deterministic action");
  res.agent.act(obs, n, a1, false, Rng.fromSeed(4));
  back.act(obs, n, a2, false, Rng.fromSeed(4));
  same(a1, a2, "sampled action");
  res.value(obs, n, a1);
  back.value(obs, n, a2);
  same(a1, a2, "V");
  assert.throws(() => res.agent.act(obs, n, a1, false), RangeError, "a stochastic action needs an rng");
});

test("gradient-norm clipping and deterministic evaluation helpers", () => {
  const g = Float64Array.of(3, 4);
  assert.equal(clipGradNorm(g, 1), 5, "returns the norm before clipping");
  assert.ok(Math.abs(g[0] - 0.6) < 1e-12 && Math.abs(g[1] - 0.8) < 1e-12, `scaled to norm 1: ${g}`);
  const h = Float64Array.of(3, 4);
  clipGradNorm(h, 10);
  assert.deepEqual(Array.from(h), [3, 4], "a gradient within the bound is unchanged");
  clipGradNorm(h, 0);
  assert.deepEqual(Array.from(h), [3, 4], "maxNorm 0 disables clipping");
  // one episode per copy: the bandit's return under the optimal action c/2 is exactly 0
  const env = vec(new BanditEnv(), 5, 3);
  const res = evaluateEpisodes(env, (obs, n, out) => {
    for (let i = 0; i < n; i++) out[i] = obs[i] / 2;
  });
  assert.equal(res.returns.length, 5, "one return per copy");
  assert.equal(res.mean, 0, "optimal actions give return 0");
  assert.equal(res.length, 1, "one-step episodes");
  const bad = evaluateEpisodes(env, (obs, n, out) => {
    for (let i = 0; i < n; i++) out[i] = obs[i] / 2 + 0.1;
  });
  assert.ok(Math.abs(bad.mean + 0.01) < 1e-12, `an offset of 0.1 costs 0.01 per episode (${bad.mean})`);
});
