import assert from "node:assert/strict";
import { test } from "node:test";
import { box, type ControlEnv, type EnvParams, type StepResult } from "../src/envs/control/env.ts";
import { VecEnv } from "../src/envs/control/vec-env.ts";
import { ReplayBuffer } from "../src/inner/replay-buffer.ts";
import { polyakUpdate } from "../src/inner/rl-common.ts";
import { SacAgent, type SacCheckpoint, SacConfigSchema, trainSac } from "../src/inner/sac.ts";
import { Rng } from "../src/math/rng.ts";
import { Mlp } from "../src/nn/index.ts";
import { logOneMinusTanhSq, SquashedGaussianPolicy } from "../src/policies/squashed-gaussian.ts";
import { BanditEnv } from "./rl-envs.ts";

/**
 * Observation t/10 (t = steps taken), reward 1; terminates when the action exceeds 0.5, else the time limit
 * (3 steps) truncates. Used to check what the buffer stores at terminations and truncations.
 */
class WalkEnv implements ControlEnv {
  readonly id = "walk";
  readonly description = "counter with action-triggered termination";
  readonly stateSize = 1;
  readonly observationSpace = box([0], [1]);
  readonly actionSpace = box([-1], [1]);
  readonly maxSteps = 3;
  readonly defaultParams: EnvParams = {};
  reset(_p: EnvParams, s: Float64Array): void {
    s[0] = 0;
  }
  observe(_p: EnvParams, s: Float64Array, o: Float64Array): void {
    o[0] = s[0] / 10;
  }
  step(_p: EnvParams, s: Float64Array, action: Float64Array, _rng: Rng, out: StepResult): void {
    s[0]++;
    out.reward = 1;
    out.terminated = action[0] > 0.5;
  }
}

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

/** Small, fast settings for the unit tests. */
const SMALL = {
  hidden: [32, 32],
  batchSize: 64,
  bufferSize: 10_000,
  learningStarts: 200,
  actorLr: 3e-3,
  criticLr: 3e-3,
  alphaLr: 3e-3,
  logInterval: 500,
  evalInterval: 0,
};

function randomVector(n: number, rng: Rng, scale = 1): Float64Array {
  return Float64Array.from({ length: n }, () => scale * rng.normal());
}

test("squashed Gaussian: log π matches the numerical density of tanh(u), u ~ N(μ, σ²)", () => {
  const pol = new SquashedGaussianPolicy(1, 1, { hidden: [4], activation: "tanh" });
  const rng = Rng.fromSeed(3);
  const params = pol.init(rng);
  // push μ and the log-std output away from 0 so the test is not at a symmetric point
  params[params.length - 2] = 0.4;
  params[params.length - 1] = 0.3;
  const obs = Float64Array.of(0.7);
  const mu = new Float64Array(1);
  const sd = new Float64Array(1);
  pol.gaussian(params, obs, 1, mu, sd);
  const gauss = (u: number) => Math.exp(-0.5 * ((u - mu[0]) / sd[0]) ** 2) / (sd[0] * Math.sqrt(2 * Math.PI));
  /** P(a − h < A < a + h)/(2h), the Gaussian mass of [atanh(a − h), atanh(a + h)] by Simpson's rule. */
  const numericalDensity = (a: number, h: number) => {
    const u0 = Math.atanh(a - h);
    const u1 = Math.atanh(a + h);
    const m = 200;
    const du = (u1 - u0) / m;
    let s = gauss(u0) + gauss(u1);
    for (let k = 1; k < m; k++) s += (k % 2 === 1 ? 4 : 2) * gauss(u0 + k * du);
    return (s * du) / 3 / (2 * h);
  };
  const lp = new Float64Array(1);
  let total = 0;
  for (const a of [-0.95, -0.6, -0.2, 0, 0.1, 0.35, 0.5, 0.8, 0.97]) {
    pol.logProb(params, obs, Float64Array.of(a), 1, lp);
    const p = Math.exp(lp[0]);
    const ref = numericalDensity(a, 1e-5);
    assert.ok(
      Math.abs(p - ref) <= 1e-6 * ref + 1e-12,
      `density at a = ${a}: log-prob gives ${p}, numerical ${ref}`,
    );
  }
  // and it integrates to 1 over (−1, 1) (midpoint rule in u-space avoids the endpoint singularity)
  for (let k = 0; k < 20000; k++) {
    const a = -1 + (k + 0.5) * (2 / 20000);
    pol.logProb(params, obs, Float64Array.of(a), 1, lp);
    total += Math.exp(lp[0]) * (2 / 20000);
  }
  assert.ok(Math.abs(total - 1) < 1e-3, `the density integrates to ${total}`);
  // the stable log(1 − tanh²u) agrees with the naive formula where the latter is accurate, and stays finite
  for (const u of [-3, -0.5, 0, 0.2, 2.5])
    assert.ok(
      Math.abs(logOneMinusTanhSq(u) - Math.log(1 - Math.tanh(u) ** 2)) < 1e-12,
      `log(1 − tanh²(${u}))`,
    );
  assert.ok(
    Math.abs(logOneMinusTanhSq(40) - (2 * Math.log(2) - 80)) < 1e-9,
    "log(1 − tanh²(40)) ≈ 2 log 2 − 80",
  );
});

test("squashed Gaussian: sample's log-prob equals logProb of the returned action (2-D)", () => {
  const pol = new SquashedGaussianPolicy(3, 2, { hidden: [8], activation: "tanh" });
  const rng = Rng.fromSeed(5);
  const params = pol.init(rng);
  const n = 50;
  const obs = randomVector(n * 3, rng);
  const actions = new Float64Array(n * 2);
  const lpSample = new Float64Array(n);
  pol.sample(params, obs, n, rng, actions, lpSample);
  const lp = new Float64Array(n);
  pol.logProb(params, obs, actions, n, lp);
  for (let r = 0; r < n; r++) {
    assert.ok(
      Math.abs(actions[2 * r]) < 1 && Math.abs(actions[2 * r + 1]) < 1,
      `row ${r}: actions inside (−1, 1)`,
    );
    assert.ok(
      Math.abs(lp[r] - lpSample[r]) < 1e-8 * (1 + Math.abs(lp[r])),
      `row ${r}: ${lpSample[r]} vs ${lp[r]}`,
    );
  }
});

test("squashed Gaussian: reparameterised gradient of a loss in (a, log π) matches finite differences", () => {
  const pol = new SquashedGaussianPolicy(2, 2, { hidden: [6, 5], activation: "tanh" });
  const rng = Rng.fromSeed(11);
  const params = pol.init(rng, { outputGain: 2 });
  const n = 4;
  const obs = randomVector(n * 2, rng);
  const eps = randomVector(n * 2, rng);
  const c = randomVector(n * 2, rng);
  const d = randomVector(n, rng);
  const act = new Float64Array(n * 2);
  const lp = new Float64Array(n);
  const loss = (p: Float64Array) => {
    pol.sample(p, obs, n, eps, act, lp);
    let L = 0;
    for (let i = 0; i < n * 2; i++) L += c[i] * act[i] + 0.3 * act[i] * act[i];
    for (let r = 0; r < n; r++) L += d[r] * lp[r];
    return L;
  };
  loss(params);
  const dA = Float64Array.from(act, (a, i) => c[i] + 0.6 * a);
  const grad = new Float64Array(pol.nParams);
  pol.backward(params, dA, d, grad);
  const h = 1e-6;
  let worst = 0;
  for (let k = 0; k < pol.nParams; k++) {
    const p = Float64Array.from(params);
    p[k] += h;
    const up = loss(p);
    p[k] -= 2 * h;
    const down = loss(p);
    const fd = (up - down) / (2 * h);
    worst = Math.max(worst, Math.abs(fd - grad[k]) / (1e-6 + Math.abs(fd)));
  }
  assert.ok(worst < 1e-5, `worst relative error of the reparameterised gradient: ${worst}`);
});

/** Worst relative error of `grad` against central differences (h = 1e-6) of `loss` in the actor's parameters. */
function worstActorFdError(agent: SacAgent, grad: Float64Array, loss: () => number): number {
  const params = agent.actorParams;
  const h = 1e-6;
  let worst = 0;
  for (let k = 0; k < params.length; k++) {
    const keep = params[k];
    params[k] = keep + h;
    const up = loss();
    params[k] = keep - h;
    const down = loss();
    params[k] = keep;
    const fd = (up - down) / (2 * h);
    worst = Math.max(worst, Math.abs(fd - grad[k]) / (1e-6 + Math.abs(fd)));
  }
  return worst;
}

test("SAC actor objective: gradient through min(Q1, Q2) and α log π matches finite differences", () => {
  const agent = new SacAgent(
    3,
    box([-2, 0], [2, 1]),
    { hidden: [8, 8], activation: "tanh", initAlpha: 0.3 },
    Rng.fromSeed(2),
  );
  const rng = Rng.fromSeed(9);
  const n = 6;
  const obs = randomVector(n * 3, rng);
  const eps = randomVector(n * 2, rng);
  const grad = new Float64Array(agent.policy.nParams);
  agent.actorObjective(obs, n, eps, grad);
  const worst = worstActorFdError(agent, grad, () => agent.actorObjective(obs, n, eps, null).loss);
  assert.ok(worst < 1e-5, `worst relative error of the actor gradient: ${worst}`);
});

test("SAC actor objective with a behaviour-cloning anchor: loss adds λ·mean‖ã − b‖², gradient matches FD", () => {
  const agent = new SacAgent(
    3,
    box([-2, 0], [2, 1]),
    { hidden: [8, 8], activation: "tanh", initAlpha: 0.3 },
    Rng.fromSeed(3),
  );
  const rng = Rng.fromSeed(10);
  const n = 5;
  const obs = randomVector(n * 3, rng);
  const eps = randomVector(n * 2, rng);
  const b = Float64Array.from({ length: n * 2 }, () => 1.8 * rng.uniform() - 0.9);
  const anchor = { actions: b, weight: 2.5 };
  // The term on its own: the anchored loss minus the plain one, against the sampled actions recomputed here.
  const plain = agent.actorObjective(obs, n, eps, null).loss;
  const a = new Float64Array(n * 2);
  agent.policy.sample(agent.actorParams, obs, n, eps, a, new Float64Array(n));
  let bc = 0;
  for (let k = 0; k < n * 2; k++) bc += (2.5 * (a[k] - b[k]) ** 2) / n;
  const anchored = agent.actorObjective(obs, n, eps, null, anchor).loss;
  assert.ok(Math.abs(anchored - plain - bc) < 1e-12, `BC term ${anchored - plain} vs ${bc}`);
  // At a non-optimal point (b random) and at the anchor's optimum for the BC term (b = ã) the gradient
  // must match central differences.
  for (const target of [b, a.slice()]) {
    const an = { actions: target, weight: 2.5 };
    const grad = new Float64Array(agent.policy.nParams);
    agent.actorObjective(obs, n, eps, grad, an);
    const worst = worstActorFdError(agent, grad, () => agent.actorObjective(obs, n, eps, null, an).loss);
    assert.ok(worst < 1e-5, `worst relative error of the anchored actor gradient: ${worst}`);
  }
});

test("Polyak update: target ← (1 − τ) target + τ source", () => {
  const target = Float64Array.of(1, 2, -4);
  polyakUpdate(target, Float64Array.of(3, 2, 4), 0.25);
  assert.deepEqual(Array.from(target), [1.5, 2, -2], "τ = 0.25 moves a quarter of the way");
  polyakUpdate(target, Float64Array.of(7, 8, 9), 1);
  assert.deepEqual(Array.from(target), [7, 8, 9], "τ = 1 copies");
  polyakUpdate(target, Float64Array.of(0, 0, 0), 0);
  assert.deepEqual(Array.from(target), [7, 8, 9], "τ = 0 keeps");
  assert.throws(() => polyakUpdate(target, Float64Array.of(1), 0.5), RangeError, "length mismatch throws");
});

test("SAC temperature: α rises when the entropy is below the target and falls when above", () => {
  const buf = new ReplayBuffer(100, 1, 1);
  const rng = Rng.fromSeed(4);
  for (let k = 0; k < 100; k++)
    buf.add([rng.uniform()], [2 * rng.uniform() - 1], rng.normal(), [rng.uniform()], false);
  for (const [target, dir] of [
    [5, 1],
    [-50, -1],
  ] as const) {
    const agent = new SacAgent(1, box([-1], [1]), { ...SMALL, targetEntropy: target }, Rng.fromSeed(1));
    const before = agent.logAlpha;
    const stats = agent.update(buf.sample(Rng.fromSeed(0), 32));
    const entropy = stats.entropy;
    assert.equal(Math.sign(target - entropy), dir, `set-up: entropy ${entropy} vs target ${target}`);
    assert.equal(
      Math.sign(agent.logAlpha - before),
      dir,
      `target ${target}: log α went from ${before} to ${agent.logAlpha}`,
    );
  }
  const fixed = new SacAgent(
    1,
    box([-1], [1]),
    { ...SMALL, learnAlpha: false, initAlpha: 0.2 },
    Rng.fromSeed(1),
  );
  fixed.update(buf.sample(Rng.fromSeed(0), 32));
  assert.equal(fixed.alpha, Math.exp(Math.log(0.2)), "with learnAlpha false α stays at initAlpha");
});

test("SAC config: documented defaults and validation", () => {
  const cfg = SacConfigSchema.parse({});
  assert.equal(cfg.batchSize, 256, "batch 256");
  assert.equal(cfg.gamma, 0.99, "γ 0.99");
  assert.equal(cfg.tau, 0.005, "τ 0.005");
  assert.deepEqual(cfg.hidden, [256, 256], "2×256 networks");
  assert.equal(cfg.targetEntropy, "auto", "entropy target −|A|");
  assert.equal(cfg.value.enabled, true, "value network on");
  assert.equal(cfg.value.target, "policy-sample", "value target: the actor's sample");
  assert.ok(SacConfigSchema.description?.includes("Soft actor-critic"), "the schema is described");
  assert.throws(() => SacConfigSchema.parse({ gamma: 1.5 }), "γ > 1 is rejected");
  assert.throws(() => SacConfigSchema.parse({ tau: 0 }), "τ = 0 is rejected");
  assert.throws(
    () =>
      new SacAgent(
        1,
        { low: Float64Array.of(-1), high: Float64Array.of(Number.POSITIVE_INFINITY) },
        {},
        Rng.fromSeed(0),
      ),
    RangeError,
    "an unbounded action box is rejected",
  );
});

test("SAC buffer: terminations stop the bootstrap, truncations keep it with the pre-reset observation", () => {
  const res = trainSac(
    { env: vec(new WalkEnv(), 3, 1), actionSpace: box([-1], [1]) },
    { ...SMALL, totalSteps: 300, learningStarts: 300 },
    Rng.fromSeed(0),
  );
  const buf = res.buffer;
  assert.equal(buf.size, 300, "every step stored");
  let term = 0;
  let trunc = 0;
  for (let k = 0; k < buf.size; k++) {
    const t = Math.round(buf.obs[k] * 10);
    assert.equal(buf.nextObs[k], (t + 1) / 10, `row ${k}: s′ is the observation the step reached (t ${t})`);
    assert.equal(
      buf.terminated[k],
      buf.actions[k] > 0.5 ? 1 : 0,
      `row ${k}: terminated iff the action ended it`,
    );
    if (buf.terminated[k]) term++;
    else if (t === 2) trunc++;
  }
  assert.ok(term > 20 && trunc > 20, `both cases occur (terminated ${term}, truncated ${trunc})`);
});

test("SAC learns the bootstrapped value of truncated episodes and the unbootstrapped one of terminated ones", () => {
  for (const [mode, expected] of [
    ["truncate", 2],
    ["terminate", 1],
  ] as const) {
    const res = trainSac(
      { env: vec(new OneStepEnv(mode), 1, 1), actionSpace: box([-1], [1]) },
      { ...SMALL, hidden: [16], gamma: 0.5, tau: 0.05, learnAlpha: false, initAlpha: 1e-6, totalSteps: 1200 },
      Rng.fromSeed(0),
    );
    const q1 = new Float64Array(1);
    const q2 = new Float64Array(1);
    res.agent.qValues(Float64Array.of(0.5), Float64Array.of(0.3), 1, q1, q2);
    const v = new Float64Array(1);
    res.value(Float64Array.of(0.5), 1, v);
    for (const [name, x] of [
      ["Q1", q1[0]],
      ["Q2", q2[0]],
      ["V", v[0]],
    ] as const)
      assert.ok(
        Math.abs(x - expected) < 0.1,
        `${mode}: ${name} = ${x}, expected r/(1 − γ·bootstrap) = ${expected}`,
      );
  }
});

test("SAC learns the optimum of a one-step continuous bandit; critics and V learn its values", () => {
  const task = {
    env: vec(new BanditEnv(), 4, 1),
    actionSpace: box([-1], [1]),
    evalEnv: vec(new BanditEnv(), 16, 2),
  };
  const metrics: [number, Record<string, number>][] = [];
  const t0 = performance.now();
  const res = trainSac(task, { ...SMALL, totalSteps: 8000, evalInterval: 4000 }, Rng.fromSeed(1), (s, m) =>
    metrics.push([s, m]),
  );
  const seconds = (performance.now() - t0) / 1000;
  const agent = res.agent;
  const grid = [-0.9, -0.5, 0, 0.4, 0.8];
  const a = new Float64Array(grid.length);
  agent.act(Float64Array.from(grid), grid.length, a, true);
  for (const [i, c] of grid.entries())
    assert.ok(Math.abs(a[i] - c / 2) < 0.08, `mean action at c = ${c}: ${a[i]} (optimum ${c / 2})`);
  // the critics know Q(c, a) = −(a − c/2)² (terminal step: no bootstrap)
  const q1 = new Float64Array(1);
  const q2 = new Float64Array(1);
  for (const c of [-0.6, 0, 0.6])
    for (const act of [c / 2 - 0.3, c / 2, c / 2 + 0.3]) {
      agent.qValues(Float64Array.of(c), Float64Array.of(act), 1, q1, q2);
      const q = -((act - c / 2) ** 2);
      assert.ok(
        Math.abs(q1[0] - q) < 0.05 && Math.abs(q2[0] - q) < 0.05,
        `Q(${c}, ${act}) = ${q1[0]}, ${q2[0]} vs ${q}`,
      );
    }
  // V(c) ≈ E_{a~π} min_i Q_i(c, a), by Monte Carlo over the learned policy
  const rng = Rng.fromSeed(77);
  const m = 2000;
  for (const c of [-0.5, 0.5]) {
    const obs = new Float64Array(m).fill(c);
    const acts = new Float64Array(m);
    agent.actNormalised(obs, m, acts, false, rng);
    const qa = new Float64Array(m);
    const qb = new Float64Array(m);
    agent.qValues(obs, acts, m, qa, qb);
    let mc = 0;
    for (let i = 0; i < m; i++) mc += Math.min(qa[i], qb[i]) / m;
    const v = new Float64Array(1);
    res.value(Float64Array.of(c), 1, v);
    assert.ok(Math.abs(v[0] - mc) < 0.03, `V(${c}) = ${v[0]} vs E_π min Q = ${mc}`);
  }
  const evals = metrics.filter(([, mm]) => "eval/return" in mm);
  assert.equal(evals.length, 2, "evaluations at 4000 and 8000 steps");
  assert.ok(evals[1][1]["eval/return"] > -0.01, `final deterministic return ${evals[1][1]["eval/return"]}`);
  const last = metrics.filter(([, mm]) => "loss/critic" in mm).at(-1)?.[1];
  assert.ok(last !== undefined && last["train/entropy"] < 0, "entropy driven towards the target −1");
  assert.ok(
    Object.keys(last ?? {}).every((k) => /^(train|loss|eval)\//.test(k)),
    `grouped metric keys: ${Object.keys(last ?? {})}`,
  );
  assert.ok(seconds < 30, `took ${seconds.toFixed(1)} s`);
});

test("SAC: same seed gives bit-identical metrics; another seed differs", () => {
  const run = (seed: number) => {
    const out: string[] = [];
    trainSac(
      {
        env: vec(new BanditEnv(), 2, seed),
        actionSpace: box([-1], [1]),
        evalEnv: vec(new BanditEnv(), 4, seed + 1),
      },
      { ...SMALL, totalSteps: 800, logInterval: 200, evalInterval: 400 },
      Rng.fromSeed(seed),
      (s, m) => out.push(JSON.stringify([s, m])),
    );
    return out;
  };
  const a = run(5);
  assert.ok(a.length >= 4, "metrics were reported");
  assert.deepEqual(run(5), a, "same seed, same metrics");
  assert.notDeepEqual(run(6), a, "another seed, other metrics");
});

test("SAC checkpoint: JSON round-trip restores actions, Q and V bit for bit", () => {
  const res = trainSac(
    { env: vec(new BanditEnv(), 2, 3), actionSpace: box([-2], [2]) },
    { ...SMALL, totalSteps: 500, activation: "tanh", value: { target: "mean-action" } },
    Rng.fromSeed(3),
  );
  const ckpt = res.checkpoint();
  assert.equal(ckpt.value?.params.length, res.valueParams.length, "the checkpoint holds the value network");
  const text = JSON.stringify(ckpt);
  const back = SacAgent.fromCheckpoint(JSON.parse(text) as SacCheckpoint, {}, Rng.fromSeed(0));
  assert.equal(JSON.stringify(back.checkpoint()), text, "re-serialised checkpoint is identical");
  const orig = res.agent;
  const n = 64;
  const obs = randomVector(n, Rng.fromSeed(8));
  const same = (x: Float64Array, y: Float64Array, what: string) => {
    for (let i = 0; i < x.length; i++) assert.ok(Object.is(x[i], y[i]), `${what}[${i}]: ${x[i]} vs ${y[i]}`);
  };
  const a1 = new Float64Array(n);
  const a2 = new Float64Array(n);
  orig.act(obs, n, a1, true);
  back.act(obs, n, a2, true);
  same(a1, a2, "deterministic action");
  assert.ok(
    a1.every((x) => Math.abs(x) <= 2),
    "actions are in the box [−2, 2]",
  );
  orig.act(obs, n, a1, false, Rng.fromSeed(4));
  back.act(obs, n, a2, false, Rng.fromSeed(4));
  same(a1, a2, "sampled action");
  const acts = randomVector(n, Rng.fromSeed(9), 0.5);
  const qa = [new Float64Array(n), new Float64Array(n)];
  const qb = [new Float64Array(n), new Float64Array(n)];
  orig.qValues(obs, acts, n, qa[0], qa[1]);
  back.qValues(obs, acts, n, qb[0], qb[1]);
  same(qa[0], qb[0], "Q1");
  same(qa[1], qb[1], "Q2");
  orig.value(obs, n, a1);
  back.value(obs, n, a2);
  same(a1, a2, "V");
  assert.equal(back.alpha, orig.alpha, "α restored");
  const bad = { ...(JSON.parse(text) as SacCheckpoint), format: "other" } as unknown as SacCheckpoint;
  assert.throws(
    () => SacAgent.fromCheckpoint(bad, {}, Rng.fromSeed(0)),
    RangeError,
    "a foreign format is rejected",
  );
});

test("SAC value network can be disabled; the checkpoint then has none", () => {
  const res = trainSac(
    { env: vec(new BanditEnv(), 1, 3), actionSpace: box([-1], [1]) },
    { ...SMALL, totalSteps: 250, value: { enabled: false } },
    Rng.fromSeed(3),
    undefined,
  );
  assert.equal(res.valueParams.length, 0, "no value parameters");
  assert.equal(res.checkpoint().value, null, "no value network in the checkpoint");
  assert.throws(() => res.value(Float64Array.of(0), 1, new Float64Array(1)), "V is unavailable");
  const critic = new Mlp(res.checkpoint().critics[0].spec);
  assert.equal(critic.inSize, 2, "critics take (s, a)");
});
