import assert from "node:assert/strict";
import { before, test } from "node:test";
import type { ControlEnv, EnvParams, StepResult } from "../src/envs/control/env.ts";
import { resolveParams } from "../src/envs/control/env.ts";
import { actionScale, applyGaps, damping, massScale } from "../src/envs/control/gaps.ts";
import { parseGaps } from "../src/envs/control/registry.ts";
import { VecEnv } from "../src/envs/control/vec-env.ts";
import {
  loadMujoco,
  MJ_CARTPOLE_HALF_LENGTH,
  MJ_CARTPOLE_STATE,
  MJ_PENDULUM_LENGTH,
  MJ_PUCK_STATE,
  MjCartPoleEnv,
  MjPendulumEnv,
  MjPuckEnv,
  MUJOCO_TASKS,
  type Mujoco,
  type MujocoEnv,
  mjPendulumEnergy,
  mujocoEnvs,
  PUCK,
  puckTerms,
} from "../src/envs/mujoco/index.ts";
import { Rng } from "../src/math/rng.ts";

let mj: Mujoco;
before(async () => {
  mj = await loadMujoco();
});

const out = (): StepResult => ({ reward: 0, terminated: false });
const made: MujocoEnv[] = [];
function make<T extends MujocoEnv>(ctor: new (m: Mujoco) => T): T {
  const e = new ctor(mj);
  made.push(e);
  return e;
}
const CTORS: readonly (new (m: Mujoco) => MujocoEnv)[] = [MjPendulumEnv, MjCartPoleEnv, MjPuckEnv];

/** Random actions in a box slightly larger than the action space (exercises the clip too). */
function randomAction(env: ControlEnv, rng: Rng, a: Float64Array): Float64Array {
  for (let j = 0; j < a.length; j++) {
    const lo = env.actionSpace.low[j];
    const hi = env.actionSpace.high[j];
    a[j] = lo + (hi - lo) * (1.2 * rng.uniform() - 0.1);
  }
  return a;
}

/** One episode prefix of `steps` steps: states, observations and rewards concatenated. */
function rollout(env: ControlEnv, params: EnvParams, seed: number, steps: number): number[] {
  const rng = Rng.fromSeed(seed).split();
  const actRng = Rng.fromSeed(seed + 1000).split();
  const s = new Float64Array(env.stateSize);
  const obs = new Float64Array(env.observationSpace.low.length);
  const a = new Float64Array(env.actionSpace.low.length);
  const o = out();
  const trace: number[] = [];
  env.reset(params, s, rng);
  for (let t = 0; t < steps; t++) {
    env.step(params, s, randomAction(env, actRng, a), rng, o);
    env.observe(params, s, obs, rng);
    trace.push(...s, ...obs, o.reward, o.terminated ? 1 : 0);
  }
  return trace;
}

function sameBits(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

test("mujoco: task descriptors, factories and the env contract fields", async () => {
  const names = MUJOCO_TASKS.map((t) => t.name);
  assert.deepEqual(names, ["mj-pendulum", "mj-cartpole", "mj-puck"], "the three tasks, in order");
  const factories = await mujocoEnvs();
  for (const t of MUJOCO_TASKS) {
    assert.ok(t.description.length > 20, `${t.name} has a description`);
    const env = factories[t.name]();
    made.push(env);
    assert.equal(env.id, t.name, `factory for ${t.name} builds that task`);
    const created = await t.create();
    made.push(created);
    assert.equal(created.id, t.name, `async create() for ${t.name}`);
    assert.equal(env.stateSize, env.sim.stateSize, `${t.name}: state = the MuJoCo integration state`);
    const roles = env.paramRoles;
    for (const k of [...roles.masses, roles.gain, ...roles.damping])
      assert.ok(k in env.defaultParams, `${t.name}: role parameter '${k}' is a default parameter`);
    assert.ok(
      ["timestep", "frameSkip"].every((k) => k in env.defaultParams),
      `${t.name}: timestep and frameSkip are parameters`,
    );
    // reset/observe/step write finite numbers of the right sizes
    const s = new Float64Array(env.stateSize);
    const obs = new Float64Array(env.observationSpace.low.length);
    const rng = Rng.fromSeed(1).split();
    env.reset(env.defaultParams, s, rng);
    env.observe(env.defaultParams, s, obs, rng);
    const o = out();
    env.step(env.defaultParams, s, new Float64Array(env.actionSpace.low.length), rng, o);
    assert.ok(s.every(Number.isFinite) && obs.every(Number.isFinite), `${t.name}: finite state/obs`);
    assert.ok(Number.isFinite(o.reward), `${t.name}: finite reward`);
  }
  assert.equal(await loadMujoco(), mj, "the module is loaded once and shared");
  assert.equal(made[0].sim.model !== made[1].sim.model, true, "each instance owns its model copy");
});

test("mujoco: same seed → identical trajectories, across instances (bit for bit)", () => {
  for (const C of CTORS) {
    const a = make(C);
    const b = make(C);
    const steps = C === MjPuckEnv ? 40 : 60;
    const t1 = rollout(a, a.defaultParams, 3, steps);
    const t2 = rollout(b, b.defaultParams, 3, steps);
    const t3 = rollout(a, a.defaultParams, 3, steps);
    assert.ok(sameBits(t1, t2), `${a.id}: two instances, same seed → same trajectory`);
    assert.ok(sameBits(t1, t3), `${a.id}: the same instance replays identically`);
    const t4 = rollout(a, a.defaultParams, 4, steps);
    assert.ok(!sameBits(t1, t4), `${a.id}: another seed gives another trajectory`);
  }
});

test("mujoco: saving and restoring MjData through the state vector is bit-exact", () => {
  // Raw level: one MjData stepped continuously vs. a second instance that is re-loaded from the saved
  // state before every step. The puck has contacts (the solver's warm start matters).
  for (const C of CTORS) {
    const a = make(C);
    const b = make(C);
    const p = a.defaultParams;
    const s = new Float64Array(a.stateSize);
    const rng = Rng.fromSeed(11).split();
    a.reset(p, s, rng);
    if (C === MjPuckEnv) {
      // start with the end-effector touching the puck from behind, so that contacts act
      s[MJ_PUCK_STATE.eeX] = s[MJ_PUCK_STATE.puckX] - PUCK.radius - PUCK.eeRadius;
      s[MJ_PUCK_STATE.eeY] = s[MJ_PUCK_STATE.puckY] + 0.005;
    }
    a.sim.sync(p);
    b.sim.sync(p);
    a.sim.load(s);
    const ctrl = (e: MujocoEnv, k: number) => {
      const v = e.sim.views();
      for (let j = 0; j < e.sim.nu; j++)
        v.ctrl[j] = C === MjPuckEnv ? s[1 + j] + 0.002 * k : 0.3 * Math.sin(k);
    };
    const cont = new Float64Array(a.stateSize);
    const rest = new Float64Array(a.stateSize);
    let contacts = 0;
    for (let k = 0; k < 300; k++) {
      a.sim.save(cont);
      b.sim.load(cont);
      ctrl(a, k);
      ctrl(b, k);
      a.sim.advance(1);
      b.sim.advance(1);
      contacts = Math.max(contacts, a.sim.data.ncon);
      a.sim.save(cont);
      b.sim.save(rest);
      assert.ok(sameBits(cont, rest), `${a.id}: restored step ${k} equals the continued one bit for bit`);
    }
    if (C === MjPuckEnv) {
      assert.ok(contacts >= 5, `puck: contacts were active (max ncon ${contacts})`);
      // The warm start is needed: drop it and the next step differs (in the last bits at least).
      const cut = Float64Array.from(cont);
      const w0 = 1 + a.sim.nq + a.sim.nv + a.sim.na;
      cut.fill(0, w0, w0 + a.sim.nv);
      b.sim.load(cut);
      a.sim.load(cont);
      ctrl(a, 300);
      ctrl(b, 300);
      a.sim.advance(1);
      b.sim.advance(1);
      a.sim.save(cont);
      b.sim.save(rest);
      assert.ok(!sameBits(cont, rest), "puck: without the warm start the step is not reproduced exactly");
    }
  }
  // Env level: a state copied mid-episode continues identically in another instance.
  const e1 = make(MjPuckEnv);
  const e2 = make(MjPuckEnv);
  const p = e1.defaultParams;
  const s1 = new Float64Array(e1.stateSize);
  const r1 = Rng.fromSeed(5).split();
  e1.reset(p, s1, r1);
  const a = Float64Array.of(0.8, 0.1);
  const o = out();
  for (let t = 0; t < 7; t++) e1.step(p, s1, a, r1, o);
  const s2 = Float64Array.from(s1);
  for (let t = 0; t < 10; t++) {
    e1.step(p, s1, a, r1, o);
    e2.step(p, s2, a, r1, o);
  }
  assert.ok(sameBits(s1, s2), "puck: a copied state continues bit-identically in another instance");
});

test("mj-pendulum: energy is conserved without damping or control (RK4, timestep 1 ms)", () => {
  const env = make(MjPendulumEnv);
  const p = resolveParams(env, { timestep: 0.001, frameSkip: 10 });
  const s = new Float64Array(env.stateSize);
  s[MjPendulumEnv.TH] = 2.5; // a large swing through the bottom
  s[MjPendulumEnv.THD] = 1;
  const E0 = mjPendulumEnergy(p, s);
  const scale = (p.m * p.g * MJ_PENDULUM_LENGTH) / 2;
  const o = out();
  let worst = 0;
  let minTh = Number.POSITIVE_INFINITY;
  for (let k = 0; k < 1000; k++) {
    env.step(p, s, Float64Array.of(0), Rng.fromSeed(0), o); // 10 s in all
    worst = Math.max(worst, Math.abs(mjPendulumEnergy(p, s) - E0) / scale);
    minTh = Math.min(minTh, Math.cos(s[MjPendulumEnv.TH]));
  }
  assert.ok(minTh < -0.99, "the pendulum swung through the bottom");
  // RK4's local error is O((ω h)⁵) with ω ≈ 4 rad/s: measured 1.1e-13 of m g l/2 over 10 s at h = 1 ms.
  assert.ok(worst < 1e-11, `relative energy drift ${worst} over 10 s must stay below 1e-11`);
  // At the task's own timestep (10 ms) the drift is measured 9.2e-9 over 10 s.
  const pt = env.defaultParams;
  const s2 = new Float64Array(env.stateSize);
  s2[MjPendulumEnv.TH] = 2.5;
  s2[MjPendulumEnv.THD] = 1;
  const E2 = mjPendulumEnergy(pt, s2);
  let worst2 = 0;
  for (let k = 0; k < 200; k++) {
    env.step(pt, s2, Float64Array.of(0), Rng.fromSeed(0), o);
    worst2 = Math.max(worst2, Math.abs(mjPendulumEnergy(pt, s2) - E2) / scale);
  }
  assert.ok(worst2 < 1e-7, `drift ${worst2} over 10 s at the default timestep must stay below 1e-7`);
  // And with damping the energy decreases monotonically.
  const pd = resolveParams(env, { timestep: 0.001, frameSkip: 10, damping: 0.05 });
  let prev = mjPendulumEnergy(pd, s);
  for (let k = 0; k < 200; k++) {
    env.step(pd, s, Float64Array.of(0), Rng.fromSeed(0), o);
    const e = mjPendulumEnergy(pd, s);
    assert.ok(e <= prev + 1e-12, `damped energy does not increase (step ${k}: ${prev} → ${e})`);
    prev = e;
  }
});

test("mj-pendulum: acceleration matches I = m l²/3; mass ×2 halves it, gain and damping act as stated", () => {
  const env = make(MjPendulumEnv);
  const l = MJ_PENDULUM_LENGTH;
  const acc = new Float64Array(1);
  const s = new Float64Array(env.stateSize);
  s[MjPendulumEnv.TH] = 0.7;
  s[MjPendulumEnv.THD] = -0.4;
  for (const [m, g, b, k, u] of [
    [1, 10, 0, 1, 1.5],
    [2, 10, 0, 1, 1.5],
    [1, 9.81, 0.3, 0.5, -2],
    [3, 4, 0.1, 2, 0.25],
  ]) {
    const p = resolveParams(env, { m, g, damping: b, gain: k });
    env.acceleration(p, s, [u], acc);
    const I = (m * l * l) / 3;
    const th = s[MjPendulumEnv.TH];
    const expected = (m * g * (l / 2) * Math.sin(th) + k * u - b * s[MjPendulumEnv.THD]) / I;
    assert.ok(
      Math.abs(acc[0] - expected) < 1e-12 * Math.max(1, Math.abs(expected)),
      `θ̈ = ${acc[0]} vs (m g l/2 sin θ + k u − b θ̇)/I = ${expected} for m=${m}, g=${g}, b=${b}, k=${k}, u=${u}`,
    );
  }
  // Through the gaps and `step`: with g = 0 the torque gives a constant θ̈ = k u / I from rest.
  const base = resolveParams(env, { g: 0, timestep: 0.01, frameSkip: 10 });
  const speedAfter = (e: ControlEnv, u: number) => {
    const st = new Float64Array(e.stateSize);
    e.step(base, st, Float64Array.of(u), Rng.fromSeed(0), out());
    return st[MjPendulumEnv.THD];
  };
  const w1 = speedAfter(env, 1.5);
  assert.ok(Math.abs(w1 - (1.5 * 0.1) / (1 / 3)) < 1e-12, `θ̇(0.1 s) = u t / I = 0.45, got ${w1}`);
  const w2 = speedAfter(applyGaps(env, [massScale(2)]), 1.5);
  assert.ok(Math.abs(w2 / w1 - 0.5) < 1e-12, `mass ×2 (gap) halves the response: ratio ${w2 / w1}`);
  const w3 = speedAfter(applyGaps(env, [actionScale(0.5)]), 1.5);
  assert.ok(Math.abs(w3 / w1 - 0.5) < 1e-12, `action-scale 0.5 (gap) halves it: ratio ${w3 / w1}`);
  // Damping (gap): from θ̇₀ = 2 with g = u = 0, θ̇(t) = θ̇₀ exp(−b t / I).
  const dampedEnv = applyGaps(env, [damping(0.1)]);
  const st = new Float64Array(env.stateSize);
  st[MjPendulumEnv.THD] = 2;
  const pd = resolveParams(env, { g: 0, timestep: 0.001, frameSkip: 100 });
  for (let k = 0; k < 10; k++) dampedEnv.step(pd, st, Float64Array.of(0), Rng.fromSeed(0), out());
  const exact = 2 * Math.exp((-0.1 * 1) / (1 / 3));
  assert.ok(
    Math.abs(st[MjPendulumEnv.THD] - exact) < 1e-10,
    `damped speed after 1 s ${st[MjPendulumEnv.THD]} vs 2·exp(−0.3) = ${exact}`,
  );
});

test("mj-cartpole: MuJoCo's accelerations equal Gymnasium's cart-pole equations (masses, damping)", () => {
  const env = make(MjCartPoleEnv);
  const rng = Rng.fromSeed(21).split();
  const acc = new Float64Array(2);
  const S = MJ_CARTPOLE_STATE;
  for (let trial = 0; trial < 20; trial++) {
    const p = resolveParams(env, {
      massCart: 0.5 + rng.uniform(),
      massPole: 0.05 + 0.3 * rng.uniform(),
      gravity: 9 + rng.uniform(),
      gain: 0.5 + rng.uniform(),
      cartFriction: 0.3 * rng.uniform(),
      poleDamping: 0.05 * rng.uniform(),
    });
    const s = new Float64Array(env.stateSize);
    s[S.x] = rng.uniform() - 0.5;
    s[S.theta] = 1.2 * (rng.uniform() - 0.5);
    s[S.xDot] = 2 * rng.uniform() - 1;
    s[S.thetaDot] = 4 * rng.uniform() - 2;
    const u = 2 * rng.uniform() - 1;
    env.acceleration(p, s, [u], acc);
    // Gymnasium (Florian 2007) with viscous friction, l = half pole length:
    const l = MJ_CARTPOLE_HALF_LENGTH;
    const M = p.massCart + p.massPole;
    const th = s[S.theta];
    const thd = s[S.thetaDot];
    const F = p.forceMag * p.gain * u - p.cartFriction * s[S.xDot];
    const temp = (F + p.massPole * l * thd * thd * Math.sin(th)) / M;
    const thacc =
      (p.gravity * Math.sin(th) - Math.cos(th) * temp - (p.poleDamping * thd) / (p.massPole * l)) /
      (l * (4 / 3 - (p.massPole * Math.cos(th) ** 2) / M));
    const xacc = temp - (p.massPole * l * thacc * Math.cos(th)) / M;
    assert.ok(Math.abs(acc[0] - xacc) < 1e-11 * Math.max(1, Math.abs(xacc)), `ẍ ${acc[0]} vs ${xacc}`);
    assert.ok(Math.abs(acc[1] - thacc) < 1e-11 * Math.max(1, Math.abs(thacc)), `ϑ̈ ${acc[1]} vs ${thacc}`);
  }
  // Termination as Gymnasium: with no force the pole falls past 12° and the episode ends, +1 each step.
  const s = new Float64Array(env.stateSize);
  s[S.theta] = 0.05;
  const o = out();
  let t = 0;
  let total = 0;
  while (!o.terminated && t < 500) {
    env.step(env.defaultParams, s, Float64Array.of(0), rng, o);
    total += o.reward;
    t++;
  }
  assert.ok(o.terminated && t < 100, `the unforced pole falls and terminates (after ${t} steps)`);
  assert.ok(Math.abs(s[S.theta]) > (12 * Math.PI) / 180, "terminated because |ϑ| > 12°");
  assert.equal(total, t, "+1 per step, including the last");
});

test("mujoco: actions are clipped to the action box (1e9, −1e9, NaN)", () => {
  for (const C of CTORS) {
    const env = make(C);
    const p = env.defaultParams;
    const n = env.actionSpace.low.length;
    const s0 = new Float64Array(env.stateSize);
    env.reset(p, s0, Rng.fromSeed(2).split());
    const after = (a: number[]) => {
      const s = Float64Array.from(s0);
      const o = out();
      const act = Float64Array.from(a);
      env.step(p, s, act, Rng.fromSeed(0), o);
      assert.ok(sameBits(act, a), `${env.id}: the caller's action array is not modified`);
      return [...s, o.reward];
    };
    const hi = Array.from(env.actionSpace.high);
    const lo = Array.from(env.actionSpace.low);
    assert.ok(sameBits(after(Array(n).fill(1e9)), after(hi)), `${env.id}: 1e9 acts as the upper bound`);
    assert.ok(sameBits(after(Array(n).fill(-1e9)), after(lo)), `${env.id}: −1e9 acts as the lower bound`);
    assert.ok(
      sameBits(after(Array(n).fill(Number.NaN)), after(lo)),
      `${env.id}: NaN acts as the lower bound`,
    );
    assert.ok(
      after(Array(n).fill(1e9)).every(Number.isFinite),
      `${env.id}: a huge action keeps physics finite`,
    );
  }
  // The pendulum's torque is also clipped to ±maxTorque.
  const env = make(MjPendulumEnv);
  const p = resolveParams(env, { maxTorque: 1 });
  const acc = new Float64Array(1);
  const s = new Float64Array(env.stateSize);
  const a1 = env.acceleration(p, s, [2], acc)[0];
  const a2 = env.acceleration(p, s, [1], new Float64Array(1))[0];
  assert.equal(a1, a2, "torque 2 with maxTorque 1 acts as torque 1");
});

/** Scripted pusher: get behind the puck (going around with clearance), align in y, push to x ≈ 0.54. */
function scriptedPush(s: Float64Array, a: Float64Array, step: number): void {
  const S = MJ_PUCK_STATE;
  const ex = s[S.eeX];
  const ey = s[S.eeY];
  const px = s[S.puckX];
  const py = s[S.puckY];
  const contact = PUCK.radius + PUCK.eeRadius;
  let tx: number;
  let ty: number;
  if (Math.abs(ey - py) > 0.006 || ex > px - contact + 0.002) {
    const backX = px - contact - 0.03;
    if (ex > backX && Math.abs(ey - py) > 0.006) {
      tx = backX;
      ty = ey;
    } else {
      tx = Math.min(ex, backX);
      ty = py;
    }
  } else {
    const rem = 0.54 - px;
    tx = rem < 0.004 ? ex : Math.max(ex, px - contact) + Math.min(step, 0.6 * rem);
    ty = rem < 0.004 ? ey : py;
  }
  a[0] = Math.max(-1, Math.min(1, (tx - ex) / step));
  a[1] = Math.max(-1, Math.min(1, (ty - ey) / step));
}

function puckEpisode(
  env: ControlEnv,
  params: EnvParams,
  rng: Rng,
  policy: (s: Float64Array, a: Float64Array) => void,
) {
  const s = new Float64Array(env.stateSize);
  const a = new Float64Array(2);
  const o = out();
  env.reset(params, s, rng);
  let ret = 0;
  let fell = false;
  for (let t = 0; t < env.maxSteps; t++) {
    policy(s, a);
    env.step(params, s, a, rng, o);
    ret += o.reward;
    fell ||= puckTerms(s).fallen;
  }
  return { ret, success: puckTerms(s).success, fell, state: s };
}

test("mj-puck: a scripted pusher succeeds on most seeds, a zero action never, overpushing drops the puck", () => {
  const env = make(MjPuckEnv);
  const root = Rng.fromSeed(7);
  for (const over of [{}, { puckMass: 0.25, puckFriction: 0.5 }] as Record<string, number>[]) {
    const p = resolveParams(env, over);
    let ok = 0;
    let zeroOk = 0;
    let retScripted = 0;
    let retZero = 0;
    const N = 12;
    for (let ep = 0; ep < N; ep++) {
      const rng = root.split();
      const keep = rng.state();
      const r = puckEpisode(env, p, rng, (s, a) => scriptedPush(s, a, p.stepSize));
      const z = puckEpisode(env, p, Rng.fromState(keep), (_s, a) => a.fill(0));
      if (r.success && !r.fell) ok++;
      if (z.success) zeroOk++;
      retScripted += r.ret;
      retZero += z.ret;
    }
    const tag = JSON.stringify(over);
    assert.ok(ok >= N - 1, `${tag}: scripted pusher succeeds on ${ok}/${N} seeds (needs ≥ ${N - 1})`);
    assert.equal(zeroOk, 0, `${tag}: a zero action never reaches the goal`);
    assert.ok(retScripted > retZero + 20 * N, `${tag}: scripted return ${retScripted} ≫ zero ${retZero}`);
  }
  // Pushing straight through: the puck goes over the edge, falls, and r_table costs 1 per step.
  const p = env.defaultParams;
  const r = puckEpisode(env, p, root.split(), (s, a) => {
    scriptedPush(s, a, p.stepSize);
    if (Math.abs(s[MJ_PUCK_STATE.eeY] - s[MJ_PUCK_STATE.puckY]) < 0.006) a[0] = 1;
  });
  assert.ok(r.fell && !r.success, "overpushing knocks the puck off the table");
  assert.ok(
    r.state[MJ_PUCK_STATE.puckZ] < -0.5,
    `the fallen puck lies on the floor (z ${r.state[MJ_PUCK_STATE.puckZ]})`,
  );
  const t = puckTerms(r.state);
  assert.ok(
    Math.abs(t.reward - (-t.eeToPuck - t.puckToGoal - 1)) < 1e-15,
    "fallen: reward = −r_ee − r_obj − 1, no success bonus",
  );
  // Contacts while pushing, sliding and falling used well under the arena set by <size memory>.
  const used = Number(env.sim.data.maxuse_arena);
  const arena = Number(env.sim.data.narena);
  assert.ok(used < arena / 2, `arena high-water mark ${used} B < half of ${arena} B`);
});

test("mj-puck: a sliding puck stops after v₀²/(2μg) (Coulomb); friction and mass act as expected", () => {
  const env = make(MjPuckEnv);
  const S = MJ_PUCK_STATE;
  const qvel = 1 + env.sim.nq; // puck linear velocity at qvel[2..4]
  // A puck launched at v₀ along x (end-effector out of the way) slides to rest after v₀²/(2μg).
  const freeSlide = (e: ControlEnv, over: Record<string, number>) => {
    const p = resolveParams(env, { timestep: 0.002, frameSkip: 100, ...over });
    const s = new Float64Array(env.stateSize);
    e.reset(p, s, Rng.fromSeed(3).split());
    s[S.puckX] = 0;
    s[S.puckY] = 0;
    s[S.eeX] = -0.15;
    s[S.eeY] = 0.3;
    s[qvel + 2] = 0.5;
    for (let k = 0; k < 5; k++) e.step(p, s, Float64Array.of(0, 0), Rng.fromSeed(0), out());
    assert.ok(Math.abs(s[qvel + 2]) < 1e-6, `the puck came to rest (v ${s[qvel + 2]})`);
    return { d: s[S.puckX], exact: 0.25 / (2 * p.puckFriction * p.gravity) };
  };
  for (const over of [{}, { puckFriction: 0.15 }, { puckFriction: 0.6 }, { gravity: 5 }] as Record<
    string,
    number
  >[]) {
    const { d, exact } = freeSlide(env, over);
    // MuJoCo's soft contacts and the pyramidal cone: measured 0.5-1.2 % short at timestep 2 ms.
    assert.ok(
      Math.abs(d / exact - 1) < 0.02,
      `${JSON.stringify(over)}: slide ${d} m vs v₀²/(2μg) = ${exact} m`,
    );
  }
  const base = freeSlide(env, {}).d;
  const heavy = freeSlide(applyGaps(env, [massScale(3)]), {}).d;
  assert.ok(
    Math.abs(heavy / base - 1) < 1e-6,
    `Coulomb friction: a 3× heavier puck slides as far (${heavy} vs ${base})`,
  );
  const draggy = freeSlide(applyGaps(env, [damping(0.2)]), {}).d;
  assert.ok(draggy < 0.9 * base, `viscous drag (damping gap) shortens the slide (${draggy} < ${base})`);
  // Pushed by the end-effector (one full step, then back off): less friction or a lighter puck goes further.
  const push = (e: ControlEnv, over: Record<string, number>) => {
    const p = resolveParams(env, over);
    const s = new Float64Array(env.stateSize);
    e.reset(p, s, Rng.fromSeed(3).split());
    s[S.puckX] = 0.1;
    s[S.puckY] = 0;
    s[S.eeX] = 0.1 - PUCK.radius - PUCK.eeRadius - 0.001;
    s[S.eeY] = 0;
    e.step(p, s, Float64Array.of(1, 0), Rng.fromSeed(0), out());
    e.step(p, s, Float64Array.of(-1, 0), Rng.fromSeed(0), out());
    for (let k = 0; k < 3; k++) e.step(p, s, Float64Array.of(0, 0), Rng.fromSeed(0), out());
    return s[S.puckX] - 0.1;
  };
  const d0 = push(env, {});
  const dHi = push(env, { puckFriction: 0.6 });
  const dLo = push(env, { puckFriction: 0.15 });
  const dHeavy = push(applyGaps(env, [massScale(3)]), {});
  assert.ok(d0 > 0.02, `the push moves the puck (by ${d0} m)`);
  assert.ok(dHi < d0 && d0 < dLo, `pushed: slide ${dLo} > ${d0} > ${dHi} as friction grows`);
  assert.ok(dHeavy < d0, `pushed: a 3× heavier puck takes the blow with less speed (${dHeavy} < ${d0})`);
});

/** The VecEnv protocol replayed by hand with one env instance per sub-env (same rng streams). */
function manualVec(
  makeOne: () => ControlEnv,
  params: readonly EnvParams[],
  seed: number,
  actions: Float64Array[],
): number[] {
  const n = params.length;
  const root = Rng.fromSeed(seed);
  const rngs = params.map(() => root.split());
  const envs = params.map(() => makeOne());
  const e0 = envs[0];
  const k = e0.observationSpace.low.length;
  const m = e0.actionSpace.low.length;
  const states = envs.map((e) => new Float64Array(e.stateSize));
  const obs = envs.map(() => new Float64Array(k));
  const t = new Int32Array(n);
  const o = out();
  const trace: number[] = [];
  for (let i = 0; i < n; i++) {
    envs[i].reset(params[i], states[i], rngs[i]);
    envs[i].observe(params[i], states[i], obs[i], rngs[i]);
  }
  for (const acts of actions) {
    for (let i = 0; i < n; i++) {
      o.reward = 0;
      o.terminated = false;
      envs[i].step(params[i], states[i], acts.subarray(i * m, (i + 1) * m), rngs[i], o);
      envs[i].observe(params[i], states[i], obs[i], rngs[i]);
      t[i]++;
      const trunc = t[i] >= envs[i].maxSteps;
      trace.push(o.reward, o.terminated ? 1 : 0, trunc ? 1 : 0);
      if (o.terminated || trunc) {
        envs[i].reset(params[i], states[i], rngs[i]);
        envs[i].observe(params[i], states[i], obs[i], rngs[i]);
        t[i] = 0;
      }
      trace.push(...obs[i]);
    }
  }
  return trace;
}

test("mujoco: VecEnv over one instance equals one instance per sub-env, bit for bit (per-env params)", () => {
  const cases: [new (m: Mujoco) => MujocoEnv, Record<string, number>[], number][] = [
    [MjPendulumEnv, [{}, { m: 2 }, { damping: 0.2, gain: 0.5 }, { g: 9.81, m: 0.5 }], 205],
    [MjCartPoleEnv, [{}, { massPole: 0.3 }, { cartFriction: 0.5 }, { massCart: 2, gravity: 9.81 }], 120],
    [MjPuckEnv, [{}, { puckMass: 0.3 }, { puckFriction: 0.1 }, { kp: 500, puckDamping: 0.2 }], 45],
  ];
  for (const [C, over, steps] of cases) {
    const env = make(C);
    const params = over.map((o) => resolveParams(env, o));
    const n = params.length;
    const m = env.actionSpace.low.length;
    const arng = Rng.fromSeed(99).split();
    const actions = Array.from({ length: steps }, () => {
      const a = new Float64Array(n * m);
      for (let i = 0; i < n; i++) randomAction(env, arng, a.subarray(i * m, (i + 1) * m));
      return a;
    });
    const vec = new VecEnv(env, params, n, Rng.fromSeed(42));
    vec.reset();
    const trace: number[] = [];
    let finished = 0;
    for (const acts of actions) {
      const r = vec.step(acts);
      for (let i = 0; i < n; i++) {
        trace.push(
          r.reward[i],
          r.terminated[i],
          r.truncated[i],
          ...r.obs.subarray(i * vec.obsSize, (i + 1) * vec.obsSize),
        );
        finished += r.terminated[i] | r.truncated[i];
      }
    }
    const single = manualVec(() => make(C), params, 42, actions);
    assert.ok(finished > 0, `${env.id}: some episode ended (auto-reset exercised)`);
    assert.equal(trace.length, single.length, `${env.id}: same trace length`);
    assert.ok(sameBits(trace, single), `${env.id}: batched == single, bit for bit`);
  }
});

test("mujoco: the classic gaps compose with the MuJoCo envs (mass gap = scaled params, bit for bit)", () => {
  const env = make(MjCartPoleEnv);
  const gapped = applyGaps(env, parseGaps("mass:2,damping:0.1,action-scale:0.5,latency:1,obs-noise:0.01"));
  assert.equal(
    gapped.id,
    "mj-cartpole+mass:2+damping:0.1+action-scale:0.5+latency:1+obs-noise:0.01",
    "id lists the gaps",
  );
  assert.equal(gapped.stateSize, env.stateSize + 1, "latency adds one action of state");
  const tr = rollout(gapped, env.defaultParams, 8, 30);
  assert.ok(tr.every(Number.isFinite), "a gapped rollout runs");
  const p = env.defaultParams;
  const viaGap = rollout(applyGaps(env, [massScale(2)]), p, 9, 40);
  const viaParams = rollout(env, { ...p, massCart: 2 * p.massCart, massPole: 2 * p.massPole }, 9, 40);
  assert.ok(sameBits(viaGap, viaParams), "mass:2 equals doubling massCart and massPole");
  assert.ok(!sameBits(viaGap, rollout(env, p, 9, 40)), "and differs from the nominal system");
  const puck = make(MjPuckEnv);
  const g = rollout(
    applyGaps(puck, parseGaps("mass:2,damping:0.1,action-scale:0.8")),
    puck.defaultParams,
    1,
    40,
  );
  assert.ok(!sameBits(g, rollout(puck, puck.defaultParams, 1, 40)), "puck gaps change the puck task");
});

test("mujoco: frameSkip must be a positive integer; a disposed env refuses to step", () => {
  const env = new MjPendulumEnv(mj);
  const s = new Float64Array(env.stateSize);
  for (const bad of [0, 2.5, -1, Number.NaN])
    assert.throws(
      () => env.step({ ...env.defaultParams, frameSkip: bad }, s, Float64Array.of(0), Rng.fromSeed(0), out()),
      RangeError,
      `frameSkip ${bad} is rejected`,
    );
  env.dispose();
  assert.throws(
    () => env.step(env.defaultParams, s, Float64Array.of(0), Rng.fromSeed(0), out()),
    /dispose/,
    "disposed",
  );
});

test("mujoco: 1024 puck envs fit in a small heap; live envs survive the heap growing under them", () => {
  const first = make(MjPuckEnv);
  const p = first.defaultParams;
  // A reference trajectory, computed before the heap grows.
  const ref = rollout(first, p, 13, 20);
  const probe = first.sim.views().qpos;
  const heap0 = probe.buffer.byteLength;
  const rss0 = process.memoryUsage().rss;
  const many: MjPuckEnv[] = [];
  for (let i = 0; i < 1024; i++) many.push(new MjPuckEnv(mj));
  const rss1 = process.memoryUsage().rss;
  const heapNow = first.sim.views().qpos.buffer.byteLength;
  const perEnvHeap = (heapNow - heap0) / 1024;
  const rssGrowth = rss1 - rss0;
  assert.ok(
    heapNow > heap0 && probe.buffer.byteLength === 0,
    "the heap grew and detached the old views (trap 2)",
  );
  assert.ok(
    Number(many[0].sim.data.narena) === 128 * 1024,
    `the arena is the model's <size memory> (${many[0].sim.data.narena} B)`,
  );
  // Without <size memory> each MjData would reserve 13 MiB (13 GiB for 1024). Here: ≈ 0.2-0.3 MB each.
  assert.ok(
    perEnvHeap < 0.5 * 2 ** 20,
    `wasm heap per env ${(perEnvHeap / 2 ** 20).toFixed(3)} MiB < 0.5 MiB`,
  );
  assert.ok(
    rssGrowth < 2 ** 30,
    `RSS grew by ${(rssGrowth / 2 ** 20).toFixed(0)} MiB for 1024 envs (< 1 GiB)`,
  );
  // Every one of them steps; the first env's cached views were re-acquired and it reproduces its trajectory.
  const s = new Float64Array(first.stateSize);
  const o = out();
  for (const e of many) {
    e.reset(p, s, Rng.fromSeed(1).split());
    e.step(p, s, Float64Array.of(0.5, 0.5), Rng.fromSeed(0), o);
    assert.ok(Number.isFinite(o.reward), "each of the 1024 envs steps");
  }
  assert.ok(
    sameBits(rollout(first, p, 13, 20), ref),
    "an env built before the heap grew still reproduces its trajectory",
  );
  for (const e of many) e.dispose();
});

test("mujoco: dispose every env made by this file", () => {
  for (const e of made) e.dispose();
  assert.ok(true, "disposed");
});
