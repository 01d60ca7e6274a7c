/**
 * The simulator-side baselines of issue 8: the domain-randomised env, the pendulum gap fit, and the
 * domain-randomisation / system-identification runners on the fine-tuning grid.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { InputError } from "../src/common/errors.ts";
import type { StepResult } from "../src/envs/control/env.ts";
import { cartpoleModel } from "../src/envs/control/models.ts";
import { normalisedObservations } from "../src/envs/control/normalised.ts";
import { domainRandomised } from "../src/envs/control/randomised.ts";
import { makeEnv } from "../src/envs/control/registry.ts";
import { VecEnv } from "../src/envs/control/vec-env.ts";
import { ReplayBuffer } from "../src/inner/replay-buffer.ts";
import { evaluateEpisodes } from "../src/inner/rl-common.ts";
import { SacAgent } from "../src/inner/sac.ts";
import { Rng } from "../src/math/rng.ts";
import { runFinetuneMethod } from "../src/sgft/methods.ts";
import { runDomainRandomisation, runSysIdRetrain } from "../src/sgft/sim-baselines.ts";
import type { SimBundle } from "../src/sgft/sim-bundle.ts";
import { fitModelParams, fitPendulumGap } from "../src/sgft/system-identification.ts";

/** n transitions of `env` under uniform actions in [−2.5, 2.5] (beyond the box, to exercise the clip). */
function transitions(gaps: string, n: number, seed: number): ReplayBuffer {
  const env = new VecEnv(makeEnv("pendulum", gaps), {}, 1, Rng.fromSeed(seed));
  const rng = Rng.fromSeed(seed + 1);
  const buf = new ReplayBuffer(n, 3, 1);
  const obs = Float64Array.from(env.reset());
  const a = new Float64Array(1);
  for (let t = 0; t < n; t++) {
    a[0] = 5 * rng.uniform() - 2.5;
    const r = env.step(a);
    buf.add(obs, a, r.reward[0], r.truncated[0] ? r.finalObs : r.obs, false, 0);
    obs.set(r.obs);
  }
  return buf;
}

describe("domainRandomised", () => {
  it("draws each episode's parameters in range and steps exactly like the base env with that draw", () => {
    const base = makeEnv("pendulum");
    const dr = domainRandomised(base, { gain: [0.25, 1], sgftFriction: [0, 1] });
    assert.equal(dr.stateSize, base.stateSize + 2, "two drawn parameters appended to the state");
    const rng = Rng.fromSeed(3);
    const draws = new Set<number>();
    const out: StepResult = { reward: 0, terminated: false };
    const out2: StepResult = { reward: 0, terminated: false };
    for (let ep = 0; ep < 20; ep++) {
      const s = new Float64Array(dr.stateSize);
      dr.reset(base.defaultParams, s, rng);
      const [gain, c] = [s[2], s[3]];
      assert.ok(gain >= 0.25 && gain <= 1 && c >= 0 && c <= 1, `draw (${gain}, ${c}) outside the ranges`);
      draws.add(gain);
      const ref = s.slice(0, 2);
      const p = { ...base.defaultParams, gain, sgftFriction: c };
      for (let t = 0; t < 10; t++) {
        const a = Float64Array.of(Math.sin(t + ep) * 2);
        dr.step(base.defaultParams, s, a, rng, out);
        base.step(p, ref, a, rng, out2);
        assert.equal(s[0], ref[0], `episode ${ep} step ${t}: angle differs from the base env with the draw`);
        assert.equal(s[1], ref[1], `episode ${ep} step ${t}: speed differs`);
        assert.equal(out.reward, out2.reward, "reward differs");
      }
      assert.equal(s[2], gain, "the draw is held for the whole episode");
    }
    assert.equal(draws.size, 20, "every episode draws anew");
  });

  it("rejects unknown parameters and bad ranges with an InputError naming the field", () => {
    const base = makeEnv("pendulum");
    assert.throws(
      () => domainRandomised(base, { mass: [1, 2] }),
      (e: unknown) => e instanceof InputError && /ranges\.mass/.test(e.message),
    );
    assert.throws(
      () => domainRandomised(base, { gain: [1, 0.5] }),
      (e: unknown) => e instanceof InputError && /ranges\.gain/.test(e.message),
    );
    assert.throws(() => domainRandomised(base, {}), InputError);
  });
});

describe("fitPendulumGap: least squares on the one-step velocity change", () => {
  it("recovers the generating gain and SGFT friction exactly from noise-free real data", () => {
    const data = transitions("sgft-friction:0.5,action-scale:0.3", 400, 5);
    const nominal = makeEnv("pendulum").defaultParams;
    const fit = fitPendulumGap(data, nominal, ["gain", "sgftFriction"]);
    assert.ok(Math.abs(fit.gain - 0.3) < 1e-9, `gain ${fit.gain} vs 0.3`);
    assert.ok(Math.abs(fit.sgftFriction - 0.5) < 1e-9, `c ${fit.sgftFriction} vs 0.5`);
    assert.equal(fit.m, nominal.m, "unfitted parameters stay nominal");
  });

  it("finds no gap in the simulator's own data, and a viscous damping gap", () => {
    const nominal = makeEnv("pendulum").defaultParams;
    const none = fitPendulumGap(transitions("", 300, 7), nominal, ["gain", "sgftFriction", "damping"]);
    assert.ok(
      Math.abs(none.gain - 1) < 1e-9 && Math.abs(none.sgftFriction) < 1e-9 && Math.abs(none.damping) < 1e-9,
      JSON.stringify(none),
    );
    const damp = fitPendulumGap(transitions("damping:0.1", 300, 9), nominal, ["damping"]);
    assert.ok(Math.abs(damp.damping - 0.1) < 1e-9, `damping ${damp.damping} vs 0.1`);
  });

  it("says so when the data cannot identify a parameter", () => {
    const nominal = makeEnv("pendulum").defaultParams;
    const data = transitions("", 50, 11);
    data.actions.fill(0);
    assert.throws(
      () => fitPendulumGap(data, nominal, ["gain"]),
      (e: unknown) => e instanceof InputError && /identify|usable/.test(e.message),
    );
  });
});

describe("sim-side baselines on the fine-tuning grid (small budgets)", () => {
  const bundle = JSON.parse(
    readFileSync("docs/results/sgft/pendulum-friction/bundle.json", "utf8"),
  ) as SimBundle;
  const task = (gaps: string, seed: number) => ({
    env: new VecEnv(makeEnv("pendulum", gaps), {}, 1, Rng.fromSeed(1000 + seed)),
    actionSpace: makeEnv("pendulum").actionSpace,
    evalEnv: new VecEnv(makeEnv("pendulum", gaps), {}, 3, Rng.fromSeed(20_000 + seed)),
  });
  // sysid warm-starts from the bundle's 2×64 agent (the default); domain-rand runs from scratch at 16×16.
  const small = { simSteps: 300, learningStarts: 100, hidden: [16, 16], realSteps: 600, evalInterval: 250 };

  it("sysid: counts its real transitions, identifies the gap, and starts from the sim policy's zero-shot return", () => {
    const t = task("sgft-friction:0.5", 0);
    let stepped = 0;
    const env = t.env;
    const spy = {
      ...t,
      env: {
        n: env.n,
        obsSize: env.obsSize,
        actionSize: env.actionSize,
        reset: () => env.reset(),
        step: (a: Float64Array) => {
          stepped++;
          return env.step(a);
        },
      },
    };
    const res = runSysIdRetrain(
      { simEnv: "pendulum", task: spy, bundle, rng: Rng.fromSeed(1) },
      { ...small, hidden: [64, 64], initialSteps: 200 },
    );
    assert.equal(stepped, 200, "exactly initialSteps real steps");
    assert.equal(res.info.realTransitionsUsed, 200);
    const id = res.info.identified as Record<string, number>;
    assert.ok(Math.abs(id.sgftFriction - 0.5) < 1e-8 && Math.abs(id.gain - 1) < 1e-8, JSON.stringify(id));
    assert.deepEqual(
      res.points.map((p) => p.realTransitions),
      [0, 200, 250, 500, 600],
      "grid plus the deployment point",
    );
    const agent = SacAgent.fromCheckpoint(bundle.sac, {}, Rng.fromSeed(0));
    const zero = evaluateEpisodes(task("sgft-friction:0.5", 0).evalEnv, (o, n, out) =>
      agent.act(o, n, out, true),
    );
    assert.equal(res.points[0].return, zero.mean, "point 0 = an independent evaluation of the sim policy");
    assert.equal(res.points[2].return, res.points[1].return, "the retrained policy is held after deployment");
  });

  it("runFinetuneMethod merges a config's mppi fields over H and V_sim's γ instead of replacing them", () => {
    const res = runFinetuneMethod({
      method: "sgft-mpc",
      task: task("sgft-friction:0.5", 1),
      bundle,
      seed: 1,
      horizon: 2,
      realSteps: 1,
      evalInterval: 1,
      config: { mppi: { samples: 32, iterations: 1 } },
    });
    const mppi = res.config.mppi as Record<string, unknown>;
    assert.deepEqual(
      [mppi.horizon, mppi.gamma, mppi.samples, mppi.iterations],
      [2, bundle.gamma, 32, 1],
      "H from the argument, γ from the bundle, the rest from the config",
    );
    assert.equal(res.label, "sgft-mpc-H2");
  });

  it("domain randomisation: no real data, the same value across the grid, deterministic per seed", () => {
    const a = runDomainRandomisation(
      { simEnv: "pendulum", bundle, task: task("action-scale:0.3", 2), rng: Rng.fromSeed(4) },
      { ...small, warmStart: false },
    );
    const b = runDomainRandomisation(
      { simEnv: "pendulum", bundle, task: task("action-scale:0.3", 2), rng: Rng.fromSeed(4) },
      { ...small, warmStart: false },
    );
    assert.deepEqual(a.points, b.points, "same seed, same run");
    assert.ok(
      a.points.every((p) => p.return === a.points[0].return),
      "held constant",
    );
    assert.equal(a.points.at(-1)?.realTransitions, 600);
  });
});

describe("fitModelParams: Levenberg–Marquardt on the task's parametric model", () => {
  /** Cart-pole transitions (observation = state) under uniform forces, episodes restarted when they end. */
  function cartpoleData(gaps: string, n: number, seed: number): ReplayBuffer {
    const env = new VecEnv(makeEnv("cartpole", gaps), {}, 1, Rng.fromSeed(seed));
    const rng = Rng.fromSeed(seed + 1);
    const buf = new ReplayBuffer(n, 4, 1);
    const obs = Float64Array.from(env.reset());
    const a = new Float64Array(1);
    for (let t = 0; t < n; t++) {
      a[0] = 2 * rng.uniform() - 1;
      const r = env.step(a);
      const ended = r.terminated[0] === 1 || r.truncated[0] === 1;
      buf.add(obs, a, r.reward[0], ended ? r.finalObs : r.obs, r.terminated[0] === 1, 0);
      obs.set(r.obs);
    }
    return buf;
  }

  it("recovers the cart-pole's doubled masses from noise-free data, starting from the nominal ones", () => {
    const fit = fitModelParams(cartpoleModel(), cartpoleData("mass:2", 300, 3), ["massCart", "massPole"]);
    assert.ok(Math.abs(fit.massCart - 2) < 1e-6, `massCart ${fit.massCart} vs 2`);
    assert.ok(Math.abs(fit.massPole - 0.2) < 1e-7, `massPole ${fit.massPole} vs 0.2`);
    assert.equal(fit.length, 0.5, "unfitted parameters stay nominal");
  });

  it("leaves the nominal parameters on the simulator's own data and names unknown parameters", () => {
    const fit = fitModelParams(cartpoleModel(), cartpoleData("", 200, 5), ["massCart", "gain"]);
    assert.ok(Math.abs(fit.massCart - 1) < 1e-9 && Math.abs(fit.gain - 1) < 1e-9, JSON.stringify(fit));
    assert.throws(
      () => fitModelParams(cartpoleModel(), cartpoleData("", 20, 5), ["mass"]),
      (e: unknown) => e instanceof InputError && /no identifiable parameter 'mass'/.test(e.message),
    );
  });
});

describe("normalisedObservations", () => {
  it("observes (obs − mean)/std of the base env's observation and leaves dynamics and rewards alone", () => {
    const base = makeEnv("pendulum", "sgft-friction:0.5");
    const stats = { mean: [0.1, -0.2, 0.5], std: [0.5, 2, 4] };
    const env = normalisedObservations(base, stats);
    const a = new VecEnv(env, {}, 2, Rng.fromSeed(3));
    const b = new VecEnv(makeEnv("pendulum", "sgft-friction:0.5"), {}, 2, Rng.fromSeed(3));
    const oa = Float64Array.from(a.reset());
    const ob = Float64Array.from(b.reset());
    for (let t = 0; t < 30; t++) {
      for (let i = 0; i < 6; i++)
        assert.ok(
          Math.abs(oa[i] - (ob[i] - stats.mean[i % 3]) / stats.std[i % 3]) < 1e-15,
          `t ${t}, entry ${i}`,
        );
      const act = Float64Array.of(Math.sin(t), -1.5);
      const ra = a.step(act);
      const rb = b.step(act);
      assert.deepEqual(Array.from(ra.reward), Array.from(rb.reward), "same rewards");
      oa.set(ra.obs);
      ob.set(rb.obs);
    }
    assert.equal(env.observationSpace.low[2], (-8 - 0.5) / 4, "the box is mapped too");
    assert.throws(() => normalisedObservations(base, { mean: [0, 0], std: [1, 1] }), InputError);
    assert.throws(() => normalisedObservations(base, { mean: [0, 0, 0], std: [1, 0, 1] }), InputError);
  });
});
