import assert from "node:assert/strict";
import { test } from "node:test";
import { InputError } from "../src/common/errors.ts";
import { cartpole } from "../src/envs/control/cartpole.ts";
import { type ControlEnv, type EnvParams, resolveParams, type StepResult } from "../src/envs/control/env.ts";
import {
  actionScale,
  applyGaps,
  damping,
  latency,
  massScale,
  obsNoise,
  sgftFriction,
  sgftFrictionAccel,
} from "../src/envs/control/gaps.ts";
import { pendulum } from "../src/envs/control/pendulum.ts";
import { reacher } from "../src/envs/control/reacher.ts";
import { GAPS, makeEnv, parseGap, parseGaps } from "../src/envs/control/registry.ts";
import { VecEnv } from "../src/envs/control/vec-env.ts";
import { Rng } from "../src/math/rng.ts";

const out = (): StepResult => ({ reward: 0, terminated: false });

/** Next state (base part: the first `n` entries) after one step from s under a. */
function next(
  env: ControlEnv,
  s: ArrayLike<number>,
  a: ArrayLike<number>,
  params: EnvParams = env.defaultParams,
) {
  const state = new Float64Array(env.stateSize);
  state.set(s);
  env.step(params, state, Float64Array.from(a), Rng.fromSeed(0), out());
  return state;
}

/** Δ(velocity entry i) over one step from s under a. */
const dv = (env: ControlEnv, s: number[], a: number[], i: number, params?: EnvParams) =>
  next(env, s, a, params)[i] - s[i];

test("massScale: doubling the masses halves the acceleration a torque/force produces", () => {
  // Pendulum upright at rest (sin θ = 0): Δθ̇ = dt·3u/(m l²) exactly, so mass×2 halves it.
  const p = pendulum();
  const ratio = dv(massScale(2)(p), [0, 0], [1.5], 1) / dv(p, [0, 0], [1.5], 1);
  assert.ok(Math.abs(ratio - 0.5) < 1e-12, `pendulum Δθ̇ ratio ${ratio}`);
  // Gravity alone is mass-independent (m cancels): from rest at θ = 1 with u = 0 nothing changes.
  assert.equal(dv(massScale(2)(p), [1, 0], [0], 1), dv(p, [1, 0], [0], 1), "gravity term unchanged by mass");
  // Cart-pole upright at rest: temp = F/M, ϑ̈ and ẍ scale as 1/M with m_p/M fixed → ×½ for both.
  const c = cartpole();
  for (const i of [1, 3]) {
    const r = dv(massScale(2)(c), [0, 0, 0, 0], [0.7], i) / dv(c, [0, 0, 0, 0], [0.7], i);
    assert.ok(Math.abs(r - 0.5) < 1e-12, `cartpole velocity ${i} ratio ${r}`);
  }
  // Reacher without damping from rest: M doubles, q̇′ = dt M⁻¹ τ halves.
  const r = reacher();
  const pr = resolveParams(r, { damping: 0 });
  const s = [0.3, 0.8, 0, 0, 0, 0];
  for (const i of [2, 3]) {
    const q = dv(massScale(2)(r), s, [0.5, -0.4], i, pr) / dv(r, s, [0.5, -0.4], i, pr);
    assert.ok(Math.abs(q - 0.5) < 1e-12, `reacher joint velocity ${i} ratio ${q}`);
  }
});

test("damping: adds a viscous torque −c·q̇ (pendulum: Δθ̇ changes by −dt·3c θ̇/(m l²))", () => {
  const p = pendulum();
  const c = 0.3;
  const diff = dv(damping(c)(p), [0, 2], [0], 1) - dv(p, [0, 2], [0], 1);
  const want = -0.05 * 3 * c * 2;
  assert.ok(Math.abs(diff - want) < 1e-12, `Δθ̇ difference ${diff} vs ${want}`);
  // Cart-pole: slows a moving cart and a turning pole.
  const cp = cartpole();
  assert.ok(dv(damping(0.5)(cp), [0, 1, 0, 0], [0], 1) < dv(cp, [0, 1, 0, 0], [0], 1), "cart slowed");
  assert.ok(dv(damping(0.05)(cp), [0, 0, 0, 1], [0], 3) < dv(cp, [0, 0, 0, 1], [0], 3), "pole slowed");
  // Reacher: a spinning arm loses more speed.
  const r = reacher();
  const s = [0, 0, 3, 0, 0, 0];
  assert.ok(next(damping(0.1)(r), s, [0, 0])[2] < next(r, s, [0, 0])[2], "reacher shoulder slowed");
});

test("actionScale: the actuator delivers k × the command", () => {
  const p = pendulum();
  const ratio = dv(actionScale(0.6)(p), [0, 0], [1], 1) / dv(p, [0, 0], [1], 1);
  assert.ok(Math.abs(ratio - 0.6) < 1e-12, `pendulum Δθ̇ ratio ${ratio}`);
  const c = cartpole();
  const rc = dv(actionScale(0.6)(c), [0, 0, 0, 0], [1], 1) / dv(c, [0, 0, 0, 0], [1], 1);
  assert.ok(Math.abs(rc - 0.6) < 1e-12, `cartpole Δẋ ratio ${rc}`);
  // The command is clipped first, then scaled: 1e9 → 1 → 0.6 of the full force.
  assert.deepEqual(
    next(actionScale(0.6)(c), [0, 0, 0, 0], [1e9]),
    next(actionScale(0.6)(c), [0, 0, 0, 0], [1]),
    "clip before scale",
  );
  // The reward's action cost stays on the command (not the delivered torque).
  const o1 = out();
  const o2 = out();
  actionScale(0.5)(p).step(p.defaultParams, Float64Array.of(0.2, 0), Float64Array.of(2), Rng.fromSeed(0), o1);
  p.step(p.defaultParams, Float64Array.of(0.2, 0), Float64Array.of(2), Rng.fromSeed(0), o2);
  assert.equal(o1.reward, o2.reward, "reward on the command");
});

test("latency(1): each step applies the previous action (zero first); extra state holds it", () => {
  for (const base of [pendulum(), cartpole(), reacher()]) {
    const env = latency(1)(base);
    const m = base.actionSpace.low.length;
    assert.equal(env.stateSize, base.stateSize + m, `${base.id}: one action of extra state`);
    const rng = Rng.fromSeed(7);
    const s = new Float64Array(env.stateSize);
    env.reset(env.defaultParams, s, Rng.fromSeed(8));
    const ref = s.slice(0, base.stateSize);
    assert.ok(
      s.subarray(base.stateSize).every((x) => x === 0),
      `${base.id}: buffer zero at reset`,
    );
    let prev = new Float64Array(m);
    for (let t = 0; t < 20; t++) {
      const a = Float64Array.from({ length: m }, () => 3 * rng.uniform() - 1.5); // some out of the box
      const o1 = out();
      const o2 = out();
      env.step(env.defaultParams, s, a, Rng.fromSeed(0), o1);
      base.step(base.defaultParams, ref, prev, Rng.fromSeed(0), o2);
      assert.deepEqual(
        s.slice(0, base.stateSize),
        ref,
        `${base.id} step ${t}: the previous action was applied`,
      );
      assert.equal(o1.reward, o2.reward, `${base.id} step ${t}: reward of the applied action`);
      const clipped = a.map((x, j) =>
        Math.min(Math.max(x, base.actionSpace.low[j]), base.actionSpace.high[j]),
      );
      assert.deepEqual(
        s.slice(base.stateSize),
        clipped,
        `${base.id} step ${t}: buffer holds the clipped command`,
      );
      prev = clipped;
    }
  }
});

test("latency(2) delays by two steps and equals latency(1) applied twice", () => {
  const base = pendulum();
  const l2 = latency(2)(base);
  const l11 = applyGaps(base, [latency(1), latency(1)]);
  assert.equal(l2.stateSize, 4, "two pending actions");
  const s2 = new Float64Array(4);
  const s11 = new Float64Array(4);
  const ref = new Float64Array(2);
  l2.reset(base.defaultParams, s2, Rng.fromSeed(1));
  l11.reset(base.defaultParams, s11, Rng.fromSeed(1));
  ref.set(s2.subarray(0, 2));
  const acts = [0.5, -1, 1.5, 2, -0.3, 0.1, 1];
  const applied = [0, 0, ...acts];
  for (let t = 0; t < acts.length; t++) {
    l2.step(base.defaultParams, s2, Float64Array.of(acts[t]), Rng.fromSeed(0), out());
    l11.step(base.defaultParams, s11, Float64Array.of(acts[t]), Rng.fromSeed(0), out());
    base.step(base.defaultParams, ref, Float64Array.of(applied[t]), Rng.fromSeed(0), out());
    assert.deepEqual(s2.slice(0, 2), ref, `step ${t}: latency 2 applies the action of t − 2`);
    assert.deepEqual(s11.slice(0, 2), ref, `step ${t}: latency 1 ∘ latency 1 is the same`);
  }
});

test("obsNoise(σ): zero-mean Gaussian noise of std σ on each entry; dynamics untouched", () => {
  const sigma = 0.2;
  const base = reacher();
  const env = obsNoise(sigma)(base);
  const s = Float64Array.of(0.4, -0.7, 1, 2, 0.05, -0.1);
  const clean = new Float64Array(10);
  base.observe(base.defaultParams, s, clean, Rng.fromSeed(0));
  const rng = Rng.fromSeed(9);
  const N = 20_000;
  const sum = new Float64Array(10);
  const sq = new Float64Array(10);
  const o = new Float64Array(10);
  for (let k = 0; k < N; k++) {
    env.observe(env.defaultParams, s, o, rng);
    for (let i = 0; i < 10; i++) {
      const e = o[i] - clean[i];
      sum[i] += e;
      sq[i] += e * e;
    }
  }
  for (let i = 0; i < 10; i++) {
    const mean = sum[i] / N;
    const sd = Math.sqrt(sq[i] / N - mean * mean);
    // Standard errors: mean σ/√N ≈ 0.0014, sd ≈ σ/√(2N) ≈ 0.001; allow 4.5 of them.
    assert.ok(Math.abs(mean) < 4.5 * (sigma / Math.sqrt(N)), `entry ${i}: noise mean ${mean}`);
    assert.ok(
      Math.abs(sd - sigma) < 4.5 * (sigma / Math.sqrt(2 * N)),
      `entry ${i}: noise sd ${sd} vs ${sigma}`,
    );
  }
  assert.deepEqual(next(env, s, [0.3, 0.3]), next(base, s, [0.3, 0.3]), "the state evolves as without noise");
});

test("sgft-friction: θ̈ gains e(s₁, s₂) = −c[(1 + sin²s₁)s₂ + ½tanh(s₂/0.1)], opposing the motion", () => {
  const p = pendulum();
  const c = 0.8;
  for (const [th, w] of [
    [0.3, 1.2],
    [2, -0.5],
    [-1, 0.02],
  ]) {
    const e = sgftFrictionAccel(c, th, w);
    const sn = Math.sin(th);
    const want = -c * ((1 + sn * sn) * w + 0.5 * Math.tanh(w / 0.1));
    assert.ok(Math.abs(e - want) < 1e-15, `e(${th}, ${w}) = ${e}`);
    assert.ok(e * w < 0, `e opposes the motion at (${th}, ${w})`);
    const diff = dv(sgftFriction(c)(p), [th, w], [0.4], 1) - dv(p, [th, w], [0.4], 1);
    assert.ok(Math.abs(diff - 0.05 * e) < 1e-12, `Δθ̇ gains dt·e: ${diff} vs ${0.05 * e}`);
  }
  assert.throws(
    () => sgftFriction(1)(cartpole()),
    (e: unknown) => e instanceof InputError && /only to the pendulum/.test(e.message),
    "sgft-friction on the cart-pole is an InputError",
  );
});

test("parameter gaps act on the parameters the caller passes (the outer level still faces the gap)", () => {
  const p = pendulum();
  const custom = resolveParams(p, { m: 3 });
  const gapped = dv(massScale(2)(p), [0, 0], [1], 1, custom);
  const direct = dv(p, [0, 0], [1], 1, resolveParams(p, { m: 6 }));
  assert.equal(gapped, direct, "mass×2 on m = 3 behaves as m = 6");
  assert.equal(massScale(2)(p).defaultParams, p.defaultParams, "defaultParams stay the wrapped env's");
});

test("composition: applyGaps(env, [A, B]) = B(A(env)); order fixes id and state layout, not trajectories", () => {
  const base = pendulum();
  const ab = applyGaps(base, [massScale(2), latency(1), obsNoise(0.1)]);
  assert.equal(ab.id, "pendulum+mass:2+latency:1+obs-noise:0.1", "id lists the gaps in order");
  const manual = obsNoise(0.1)(latency(1)(massScale(2)(base)));
  assert.equal(manual.id, ab.id, "same as nested application");
  const ba = applyGaps(base, [obsNoise(0.1), latency(1), massScale(2)]);
  assert.equal(ba.id, "pendulum+obs-noise:0.1+latency:1+mass:2", "reversed order, reversed id");
  // Same observations (and rewards) in either order: these gaps commute.
  const run = (env: ControlEnv) => {
    const vec = new VecEnv(env, {}, 2, Rng.fromSeed(3));
    const log = [Array.from(vec.reset())];
    const arng = Rng.fromSeed(4);
    const a = new Float64Array(2);
    for (let t = 0; t < 50; t++) {
      a[0] = 4 * arng.uniform() - 2;
      a[1] = 4 * arng.uniform() - 2;
      const r = vec.step(a);
      log.push(Array.from(r.obs), Array.from(r.reward));
    }
    return log;
  };
  assert.deepEqual(run(ab), run(ba), "both orders give the same observed trajectories");
  assert.deepEqual(run(ab), run(manual), "applyGaps equals the nested calls");
  // Products compose: mass×2 then mass×3 is mass×6.
  const s = [0.4, -1];
  assert.deepEqual(
    next(applyGaps(base, [massScale(2), massScale(3)]), s, [1]),
    next(massScale(6)(base), s, [1]),
    "mass:2,mass:3 = mass:6",
  );
  // State layout: [env, first gap's extra state, second gap's].
  const lat = applyGaps(cartpole(), [latency(1), latency(2)]);
  assert.equal(lat.stateSize, 4 + 1 + 2, "extra state of both latencies");
});

test("parseGap / parseGaps: `name` or `name:value`, comma lists, clear errors naming the field", () => {
  assert.equal(parseGap("mass:2").label, "mass:2", "explicit magnitude");
  assert.equal(parseGap(" latency ").label, `latency:${GAPS.latency.defaultMagnitude}`, "default magnitude");
  assert.equal(parseGap("sgft-friction").label, "sgft-friction:1", "SGFT friction default c = 1");
  assert.deepEqual(
    parseGaps("mass:2, obs-noise:0.01").map((g) => g.label),
    ["mass:2", "obs-noise:0.01"],
    "list in order",
  );
  assert.deepEqual(parseGaps(""), [], "empty list");
  const bad: [string, RegExp, string][] = [
    ["friction:2", /unknown gap 'friction'.*known: mass, damping/, "gaps[0]"],
    ["mass:abc", /needs a number after ':', got 'abc'/, "gaps[0]"],
    ["mass:", /needs a number/, "gaps[0]"],
    ["mass:-1", /mass scale must be a positive number, got -1/, "gaps[0]"],
    ["mass:2,latency:1.5", /latency must be a non-negative integer/, "gaps[1]"],
    ["obs-noise:-0.1", /obs-noise must be a non-negative number/, "gaps[0]"],
  ];
  for (const [text, msg, field] of bad)
    assert.throws(
      () => parseGaps(text),
      (e: unknown) =>
        e instanceof InputError && e.field === field && msg.test(e.message) && e.message.startsWith(field),
      `'${text}' rejected with field ${field} and a clear message`,
    );
  const env = makeEnv("pendulum", "mass:2,latency:1");
  assert.equal(env.id, "pendulum+mass:2+latency:1", "makeEnv applies a gap list");
  assert.equal(env.stateSize, 3, "with the latency state");
  assert.throws(
    () => makeEnv("reacher", "sgft-friction"),
    (e: unknown) => e instanceof InputError && /not reacher/.test(e.message),
    "SGFT friction refused on the reacher",
  );
});
