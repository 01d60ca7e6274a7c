import assert from "node:assert/strict";
import { test } from "node:test";
import { envsCommand, envsListing } from "../src/cli/envs.ts";
import { InputError } from "../src/common/errors.ts";
import { cartpole } from "../src/envs/control/cartpole.ts";
import { type ControlEnv, type EnvParams, resolveParams, type StepResult } from "../src/envs/control/env.ts";
import { latency, obsNoise } from "../src/envs/control/gaps.ts";
import { CONTROL_MODELS, cartpoleModel, pendulumModel, reacherModel } from "../src/envs/control/models.ts";
import { pendulum } from "../src/envs/control/pendulum.ts";
import { reacher, reacherKineticEnergy } from "../src/envs/control/reacher.ts";
import { ENVS, makeEnv } from "../src/envs/control/registry.ts";
import { VecEnv } from "../src/envs/control/vec-env.ts";
import { relativeError } from "../src/math/linalg.ts";
import { Rng } from "../src/math/rng.ts";
import { fdGradient, fdJacobian } from "../src/sensitivity/finite-difference.ts";

const out = (): StepResult => ({ reward: 0, terminated: false });

function stepOnce(env: ControlEnv, params: EnvParams, s: ArrayLike<number>, a: ArrayLike<number>) {
  const state = Float64Array.from(s);
  const o = out();
  env.step(params, state, Float64Array.from(a), Rng.fromSeed(0), o);
  return { state, reward: o.reward, terminated: o.terminated };
}

test("pendulum: one step equals Gymnasium Pendulum-v1 (values from its formulas)", () => {
  const env = pendulum();
  const r = stepOnce(env, env.defaultParams, [2.0, -1.5], [1.3]);
  // Gymnasium: newthdot = thdot + (3g/(2l) sin th + 3/(ml²) u) dt, newth = th + newthdot dt.
  assert.ok(Math.abs(r.state[0] - 1.968848653505963) < 1e-14, `θ′ = ${r.state[0]}`);
  assert.ok(Math.abs(r.state[1] - -0.6230269298807385) < 1e-14, `θ̇′ = ${r.state[1]}`);
  assert.ok(Math.abs(r.reward - -4.22669) < 1e-12, `reward = ${r.reward}`);
  assert.equal(r.terminated, false, "pendulum never terminates");
  // Speed clip: θ̇ = 7.9 + (15 sin 1.5 + 6)·0.05 > 8 → 8, θ′ = 1.5 + 8·0.05; reward −(1.5² + 0.1·7.9² + 0.001·4).
  const c = stepOnce(env, env.defaultParams, [1.5, 7.9], [2]);
  assert.equal(c.state[1], 8, "θ̇ clipped to maxSpeed");
  assert.ok(Math.abs(c.state[0] - 1.9) < 1e-14, `θ′ = ${c.state[0]}`);
  assert.ok(Math.abs(c.reward - -8.495) < 1e-12, `reward = ${c.reward}`);
  // The reward normalises the angle: θ = 2π + 0.5 costs like θ = 0.5.
  const w = stepOnce(env, env.defaultParams, [2 * Math.PI + 0.5, 0], [0]);
  assert.ok(Math.abs(w.reward - -0.25) < 1e-12, `angle-normalised reward ${w.reward}`);
});

test("pendulum: energy ½(ml²/3)θ̇² + mg(l/2)cos θ is conserved without damping and control", () => {
  // I θ̈ = m g (l/2) sin θ with I = m l²/3 (θ̈ = 3g/(2l) sin θ, Gymnasium's law) ⇒ dE/dt = 0.
  const env = pendulum();
  const p = resolveParams(env, { dt: 0.001, maxSpeed: 1e9, m: 1.3, l: 0.8 });
  const energy = (s: Float64Array) =>
    0.5 * ((p.m * p.l * p.l) / 3) * s[1] ** 2 + p.m * p.g * (p.l / 2) * Math.cos(s[0]);
  const s = Float64Array.of(2.5, 0.7); // a large swing through the bottom
  const e0 = energy(s);
  const zero = new Float64Array(1);
  const o = out();
  const rng = Rng.fromSeed(1);
  let worst = 0;
  // 10 s = 10⁴ steps of 1 ms; semi-implicit Euler keeps the energy error bounded (O(dt)), no drift.
  for (let t = 0; t < 10_000; t++) {
    env.step(p, s, zero, rng, o);
    worst = Math.max(worst, Math.abs(energy(s) - e0));
  }
  const scale = p.m * p.g * (p.l / 2);
  assert.ok(worst / scale < 2e-3, `max |ΔE| / (mgl/2) over 10 s = ${worst / scale}`);
  assert.ok(Math.abs(energy(s) - e0) / scale < 2e-3, "no drift at the end");
  // Damping dissipates it.
  const pd = resolveParams(env, { dt: 0.001, maxSpeed: 1e9, m: 1.3, l: 0.8, damping: 0.05 });
  const sd = Float64Array.of(2.5, 0.7);
  for (let t = 0; t < 10_000; t++) env.step(pd, sd, zero, rng, o);
  assert.ok(energy(sd) < e0 - 0.05 * scale, `damped energy ${energy(sd)} < ${e0}`);
});

test("reacher: zero torque, zero damping conserves kinetic energy ½q̇ᵀM(q)q̇ (no gravity)", () => {
  const env = reacher();
  const p = resolveParams(env, { dt: 1e-4, damping: 0, m1: 0.7, m2: 1.4 });
  const s = Float64Array.of(0.3, 1.1, 2, -3, 0.05, 0.05);
  const scratch = new Float64Array(3);
  const k0 = reacherKineticEnergy(p, s, scratch);
  const zero = new Float64Array(2);
  const o = out();
  const rng = Rng.fromSeed(2);
  let worst = 0;
  // 1 s = 10⁴ steps of 0.1 ms, through many relative turns of the elbow.
  for (let t = 0; t < 10_000; t++) {
    env.step(p, s, zero, rng, o);
    worst = Math.max(worst, Math.abs(reacherKineticEnergy(p, s, scratch) - k0));
  }
  assert.ok(worst / k0 < 1e-3, `max relative KE error over 1 s = ${worst / k0}`);
  assert.ok(Math.abs(s[1] - 1.1) > 1, "the elbow actually moved");
});

test("cartpole: one step equals Gymnasium CartPole-v1 (values from its formulas, force 10·u)", () => {
  const env = cartpole();
  const r = stepOnce(env, env.defaultParams, [0.01, -0.02, 0.03, 0.04], [0.5]);
  const want = [0.009600000000000001, 0.07712464253496908, 0.030799999999999998, -0.0968027325259963];
  for (let i = 0; i < 4; i++)
    assert.ok(Math.abs(r.state[i] - want[i]) < 1e-15, `state[${i}] = ${r.state[i]}, want ${want[i]}`);
  assert.equal(r.reward, 1, "+1 per step");
  assert.equal(r.terminated, false, "not terminated near upright");
  // Termination: |x| > 2.4 or |ϑ| > 12° after the step; the terminating step still pays +1.
  const fell = stepOnce(env, env.defaultParams, [0, 0, 0.2095, 1], [0]);
  assert.equal(fell.terminated, true, "ϑ past 12° terminates");
  assert.equal(fell.reward, 1, "the step that ends the episode pays +1 (Gymnasium)");
  const out2 = stepOnce(env, env.defaultParams, [2.4, 1, 0, 0], [0]);
  assert.equal(out2.terminated, true, "x past 2.4 terminates");
  // Viscous friction: cart friction slows a moving cart.
  const fr = stepOnce(env, resolveParams(env, { cartFriction: 1 }), [0, 1, 0, 0], [0]);
  const nf = stepOnce(env, env.defaultParams, [0, 1, 0, 0], [0]);
  assert.ok(fr.state[1] < nf.state[1], `friction slows the cart: ${fr.state[1]} < ${nf.state[1]}`);
});

test("reacher: reward −‖tip − target‖ − 0.1‖u‖², observation layout, targets within reach", () => {
  const env = reacher();
  const p = env.defaultParams;
  // q = 0: tip at (0.2, 0); target (0, 0.1) → distance √(0.04 + 0.01).
  const r = stepOnce(env, p, [0, 0, 0, 0, 0, 0.1], [0.5, -1]);
  assert.ok(Math.abs(r.reward - (-Math.sqrt(0.05) - 0.1 * 1.25)) < 1e-14, `reward ${r.reward}`);
  const rng = Rng.fromSeed(3);
  const s = new Float64Array(6);
  const obs = new Float64Array(10);
  for (let i = 0; i < 200; i++) {
    env.reset(p, s, rng);
    assert.ok(Math.hypot(s[4], s[5]) < 0.2, `target ${s[4]}, ${s[5]} within reach 0.2`);
    assert.ok(Math.abs(s[0]) <= 0.1 && Math.abs(s[1]) <= 0.1, "initial angles in ±0.1");
  }
  env.observe(p, s, obs, rng);
  const tip = [
    0.1 * Math.cos(s[0]) + 0.1 * Math.cos(s[0] + s[1]),
    0.1 * Math.sin(s[0]) + 0.1 * Math.sin(s[0] + s[1]),
  ];
  const want = [Math.cos(s[0]), Math.cos(s[1]), Math.sin(s[0]), Math.sin(s[1]), s[2], s[3], s[4], s[5]];
  want.push(tip[0] - s[4], tip[1] - s[5]);
  for (let i = 0; i < 10; i++)
    assert.ok(Math.abs(obs[i] - want[i]) < 1e-15, `obs[${i}] = ${obs[i]} vs ${want[i]}`);
});

test("every env clips actions: 1e9 acts like the upper bound, −1e9 like the lower, NaN like the lower", () => {
  for (const name of Object.keys(ENVS)) {
    const env = makeEnv(name);
    const m = env.actionSpace.low.length;
    const s0 = new Float64Array(env.stateSize);
    env.reset(env.defaultParams, s0, Rng.fromSeed(4));
    const run = (a: number) => stepOnce(env, env.defaultParams, s0, new Float64Array(m).fill(a));
    const hi = run(env.actionSpace.high[0]);
    const lo = run(env.actionSpace.low[0]);
    assert.deepEqual(run(1e9).state, hi.state, `${name}: 1e9 clipped to the upper bound`);
    assert.deepEqual(run(-1e9).state, lo.state, `${name}: −1e9 clipped to the lower bound`);
    assert.deepEqual(run(Number.NaN).state, lo.state, `${name}: NaN goes to the lower bound`);
    assert.ok(run(Number.NaN).state.every(Number.isFinite), `${name}: NaN never reaches the physics`);
    assert.equal(run(1e9).reward, hi.reward, `${name}: the reward sees the clipped action`);
    const a = new Float64Array(m).fill(1e9);
    env.step(env.defaultParams, Float64Array.from(s0), a, Rng.fromSeed(0), out());
    assert.equal(a[0], 1e9, `${name}: the caller's action array is not modified`);
  }
});

/** Plays `steps` steps of a VecEnv with seeded random actions; returns every returned array, copied. */
function playVec(env: ControlEnv, params: EnvParams | EnvParams[], n: number, seed: number, steps: number) {
  const vec = new VecEnv(env, params, n, Rng.fromSeed(seed));
  const arng = Rng.fromSeed(seed + 1000);
  const log: number[][] = [Array.from(vec.reset())];
  const actions = new Float64Array(n * vec.actionSize);
  for (let t = 0; t < steps; t++) {
    for (let i = 0; i < actions.length; i++) actions[i] = 2.4 * arng.uniform() - 1.2;
    const r = vec.step(actions);
    log.push(Array.from(r.obs), Array.from(r.reward), Array.from(r.terminated), Array.from(r.truncated));
    log.push(Array.from(r.finalObs));
  }
  return log;
}

/** The same as playVec with n independent env copies driven one call at a time. */
function playSingle(
  env: ControlEnv,
  params: EnvParams | EnvParams[],
  n: number,
  seed: number,
  steps: number,
) {
  const root = Rng.fromSeed(seed);
  const rngs = Array.from({ length: n }, () => root.split());
  const ps = Array.from({ length: n }, (_, i) =>
    resolveParams(env, Array.isArray(params) ? params[i] : params),
  );
  const k = env.observationSpace.low.length;
  const m = env.actionSpace.low.length;
  const states = Array.from({ length: n }, () => new Float64Array(env.stateSize));
  const obs = Array.from({ length: n }, () => new Float64Array(k));
  const ts = new Array(n).fill(0);
  for (let i = 0; i < n; i++) {
    env.reset(ps[i], states[i], rngs[i]);
    env.observe(ps[i], states[i], obs[i], rngs[i]);
  }
  const log: number[][] = [obs.flatMap((o) => Array.from(o))];
  const arng = Rng.fromSeed(seed + 1000);
  const actions = new Float64Array(n * m);
  for (let t = 0; t < steps; t++) {
    for (let i = 0; i < actions.length; i++) actions[i] = 2.4 * arng.uniform() - 1.2;
    const rew: number[] = [];
    const term: number[] = [];
    const trunc: number[] = [];
    const fin: number[] = [];
    for (let i = 0; i < n; i++) {
      const o = out();
      env.step(ps[i], states[i], actions.slice(i * m, (i + 1) * m), rngs[i], o);
      env.observe(ps[i], states[i], obs[i], rngs[i]);
      fin.push(...obs[i]);
      ts[i]++;
      rew.push(o.reward);
      term.push(o.terminated ? 1 : 0);
      trunc.push(ts[i] >= env.maxSteps ? 1 : 0);
      if (o.terminated || ts[i] >= env.maxSteps) {
        env.reset(ps[i], states[i], rngs[i]);
        env.observe(ps[i], states[i], obs[i], rngs[i]);
        ts[i] = 0;
      }
    }
    log.push(
      obs.flatMap((o) => Array.from(o)),
      rew,
      term,
      trunc,
      fin,
    );
  }
  return log;
}

test("VecEnv: a batched step equals n single env.step calls with the same streams, bit for bit", () => {
  // cartpole terminates under random forces; pendulum truncates at 200; a noisy, delayed reacher draws
  // from the stream in observe and keeps extra state.
  const cases: [string, ControlEnv, number, EnvParams | EnvParams[]][] = [
    ["cartpole", cartpole(), 400, {}],
    ["pendulum", pendulum(), 420, [{}, { m: 1.5 }, { damping: 0.1, g: 9.81 }]],
    ["reacher+latency+noise", obsNoise(0.01)(latency(1)(reacher())), 120, {}],
  ];
  for (const [name, env, steps, params] of cases) {
    const n = 3;
    const a = playVec(env, params, n, 11, steps);
    const b = playSingle(env, params, n, 11, steps);
    assert.equal(a.length, b.length, `${name}: same log length`);
    for (let i = 0; i < a.length; i++) assert.deepEqual(a[i], b[i], `${name}: log entry ${i} differs`);
    const flat = a.filter((_, i) => i % 5 === 3).flat(); // terminated
    const trunc = a.filter((_, i) => i % 5 === 4).flat();
    if (name === "cartpole")
      assert.ok(flat.includes(1), "cartpole: some episode terminated (auto-reset exercised)");
    if (name === "pendulum") assert.ok(trunc.includes(1), "pendulum: some episode truncated at 200 steps");
  }
});

test("VecEnv: finalObs is the pre-reset observation, obs the new episode's; truncation at maxSteps", () => {
  const env = pendulum();
  const vec = new VecEnv(env, {}, 2, Rng.fromSeed(5));
  vec.reset();
  const zero = new Float64Array(2);
  for (let t = 1; t < env.maxSteps; t++) {
    const r = vec.step(zero);
    assert.deepEqual(Array.from(r.finalObs), Array.from(r.obs), `step ${t}: no reset, finalObs = obs`);
    assert.equal(r.truncated[0], 0, `step ${t}: not truncated yet`);
  }
  const before = Float64Array.from(vec.states[0]);
  const r = vec.step(zero);
  assert.equal(r.truncated[0], 1, "truncated at step 200");
  assert.equal(r.terminated[0], 0, "pendulum does not terminate");
  const expectFinal = Float64Array.from(before);
  env.step(vec.params(0), expectFinal, new Float64Array(1), Rng.fromSeed(0), out());
  assert.ok(Math.abs(r.finalObs[2] - expectFinal[1]) < 1e-15, "finalObs holds the last step's θ̇");
  assert.notDeepEqual(
    Array.from(r.finalObs),
    Array.from(r.obs),
    "obs is the new episode's first observation",
  );
  assert.equal(vec.episodeStep[0], 0, "episode counter restarted");
  assert.equal(r.obs, vec.obs, "step returns the VecEnv's own obs buffer (reused)");
});

test("VecEnv: deterministic (same seed → identical trajectories), different seeds differ", () => {
  const a = playVec(reacher(), {}, 4, 21, 60);
  const b = playVec(reacher(), {}, 4, 21, 60);
  const c = playVec(reacher(), {}, 4, 22, 60);
  assert.deepEqual(a, b, "same seed, same trajectories");
  assert.notDeepEqual(a[0], c[0], "another seed, other initial states");
});

test("VecEnv: validates n, params and the action length", () => {
  const env = pendulum();
  assert.throws(
    () => new VecEnv(env, { mass: 2 }, 2, Rng.fromSeed(0)),
    (e: unknown) =>
      e instanceof InputError && e.field === "params.mass" && /unknown parameter 'mass'/.test(e.message),
    "unknown parameter named",
  );
  assert.throws(
    () => new VecEnv(env, { m: Number.NaN }, 2, Rng.fromSeed(0)),
    (e: unknown) => e instanceof InputError && e.field === "params.m",
    "non-finite parameter named",
  );
  assert.throws(() => new VecEnv(env, [{}, {}], 3, Rng.fromSeed(0)), InputError, "one record per sub-env");
  assert.throws(() => new VecEnv(env, {}, 0, Rng.fromSeed(0)), InputError, "n ≥ 1");
  const vec = new VecEnv(env, {}, 2, Rng.fromSeed(0));
  vec.reset();
  assert.throws(() => vec.step(new Float64Array(3)), RangeError, "n × actionSize actions");
  assert.equal(vec.obsSize, 3, "pendulum obsSize");
  assert.equal(vec.actionSize, 1, "pendulum actionSize");
  vec.setParams({ m: 2 });
  assert.equal(vec.params(1).m, 2, "setParams applies to every sub-env");
});

/** Random θ near the nominal one, random state and in-box action. */
function randomPoint(model: ReturnType<typeof pendulumModel>, rng: Rng, stateScale: number[]) {
  const theta = Float64Array.from(model.theta0, (t) =>
    t === 0 ? 0.05 + 0.2 * rng.uniform() : t * (0.7 + 0.6 * rng.uniform()),
  );
  const s = Float64Array.from(stateScale, (sc) => sc * (2 * rng.uniform() - 1));
  const a = Float64Array.from({ length: model.actionSize }, () => 1.8 * rng.uniform() - 0.9);
  return { theta, s, a };
}

const MODEL_CASES = [
  { name: "pendulum", make: pendulumModel, scale: [3, 3] },
  { name: "cartpole", make: cartpoleModel, scale: [1, 1, 0.2, 1] },
  { name: "reacher", make: reacherModel, scale: [3, 3, 5, 5, 0.15, 0.15] },
] as const;

test("models: the mean is the env's step bit for bit, the reward the env's reward", () => {
  for (const { name, make, scale } of MODEL_CASES) {
    const model = make();
    const env = makeEnv(name);
    const rng = Rng.fromSeed(31);
    for (let k = 0; k < 5; k++) {
      const { theta, s, a } = randomPoint(model, rng, [...scale]);
      const mu = new Float64Array(model.obsSize);
      model.mean(theta, s, a, mu);
      const r = stepOnce(env, model.paramsFromTheta(theta), s, a);
      assert.deepEqual(mu, r.state, `${name}: μ_θ(s, a) equals env.step`);
      assert.equal(model.reward(theta, s, a), r.reward, `${name}: reward equals the env's`);
    }
    assert.deepEqual(
      Array.from(model.thetaFromParams(model.paramsFromTheta(model.theta0))),
      Array.from(model.theta0),
      `${name}: θ ↔ params round trip`,
    );
    assert.equal(CONTROL_MODELS[name], make, `${name}: listed in CONTROL_MODELS`);
  }
});

test("models: ∂μ/∂θ matches central differences at random (θ, s, a)", () => {
  for (const { name, make, scale } of MODEL_CASES) {
    const model = make();
    const rng = Rng.fromSeed(41);
    for (let k = 0; k < 6; k++) {
      const { theta, s, a } = randomPoint(model, rng, [...scale]);
      const J = new Float64Array(model.obsSize * model.nTheta);
      model.meanJacobianTheta(theta, s, a, J);
      const fd = fdJacobian(
        (th) => {
          const mu = new Float64Array(model.obsSize);
          model.mean(th, s, a, mu);
          return mu;
        },
        theta,
        1e-6,
      );
      const err = relativeError(J, fd);
      assert.ok(err < 1e-7, `${name} point ${k}: relative error ${err}`);
      assert.ok(
        J.some((x) => x !== 0),
        `${name} point ${k}: Jacobian not trivially zero`,
      );
    }
  }
});

test("models: ∇_θ log f matches central differences of logProb; reward gradient is zero", () => {
  for (const { name, make, scale } of MODEL_CASES) {
    const model = make();
    const rng = Rng.fromSeed(51);
    for (let k = 0; k < 5; k++) {
      const { theta, s, a } = randomPoint(model, rng, [...scale]);
      const s2 = model.sampleNext(theta, s, a, rng);
      const g = new Float64Array(model.nTheta);
      model.gradLogProb(theta, s, a, s2, g);
      const fd = fdGradient((th) => model.logProb(th, s, a, s2), theta, 1e-6);
      const err = relativeError(g, fd);
      assert.ok(err < 1e-5, `${name} point ${k}: ∇ log f relative error ${err}`);
      const gr = new Float64Array(model.nTheta);
      model.gradReward(theta, s, a, gr);
      assert.ok(
        gr.every((x) => x === 0),
        `${name}: the reward does not depend on θ`,
      );
    }
  }
});

test("models: the pendulum Jacobian is zero where the speed clip is active", () => {
  const model = pendulumModel();
  const J = new Float64Array(10);
  model.meanJacobianTheta(model.theta0, [1.5, 7.9], [2], J);
  assert.ok(
    J.every((x) => x === 0),
    "clipped θ̇′ does not depend on θ",
  );
  assert.throws(() => pendulumModel({ noiseStd: [1e-3] }), RangeError, "noiseStd length checked");
});

test("registry and `envs` listing: tasks, sizes, bounds, gaps; unknown names are InputErrors", async () => {
  assert.throws(
    () => makeEnv("acrobot"),
    (e: unknown) =>
      e instanceof InputError && e.field === "env" && /known: pendulum, cartpole, reacher/.test(e.message),
    "unknown env lists the known ones",
  );
  const data = await envsListing();
  const byName = Object.fromEntries(data.envs.map((e) => [e.name, e]));
  assert.equal(byName.pendulum.obsSize, 3, "pendulum obs size");
  assert.equal(byName.cartpole.horizon, 500, "cartpole horizon");
  assert.deepEqual(byName.reacher.actionSpace, { low: [-1, -1], high: [1, 1] }, "reacher action box");
  assert.equal(byName.cartpole.observationSpace.high[1], null, "unbounded limits are null in JSON");
  assert.equal(byName["mj-puck"]?.horizon, 40, "the MuJoCo puck task is listed with its 40-step episodes");
  assert.ok(
    data.gaps.some((g) => g.name === "sgft-friction"),
    "gaps listed",
  );
  const written: string[] = [];
  const orig = process.stdout.write;
  process.stdout.write = ((s: string) => {
    written.push(s);
    return true;
  }) as typeof process.stdout.write;
  try {
    await envsCommand({ json: true });
    await envsCommand({});
  } finally {
    process.stdout.write = orig;
  }
  assert.deepEqual(JSON.parse(written[0]), JSON.parse(JSON.stringify(data)), "--json prints the listing");
  assert.match(
    written[1],
    /pendulum .*\n.*obs 3 .*horizon 200/,
    "text lists the pendulum's sizes and horizon",
  );
  assert.match(written[1], /latency +action latency/, "text lists the gaps");
});
