import assert from "node:assert/strict";
import { test } from "node:test";
import { dot, relativeError } from "../src/math/linalg.ts";
import { Rng } from "../src/math/rng.ts";
import { LinearGaussianPolicy } from "../src/policies/linear-gaussian.ts";
import { CategoricalMlpPolicy, GaussianMlpPolicy } from "../src/policies/mlp-policies.ts";
import {
  bindBatch,
  type DifferentiablePolicy,
  LinearGaussianPolicyAdapter,
  TabularSoftmaxPolicy,
} from "../src/policies/policy.ts";
import { softmaxPolicy } from "../src/policies/tabular-softmax.ts";
import { fdGradient } from "../src/sensitivity/finite-difference.ts";
import { maxZ } from "./helpers.ts";

/** Central differences with h = 1e-5: truncation and rounding both near 1e-10 for these smooth maps. */
const H = 1e-5;
const TOL = 1e-6;

function randn(rng: Rng, n: number, scale = 1): Float64Array {
  return Float64Array.from({ length: n }, () => scale * rng.normal());
}

interface Case {
  name: string;
  policy: DifferentiablePolicy;
  phi: Float64Array;
  obs: Float64Array;
  n: number;
}

function cases(): Case[] {
  const rng = Rng.fromSeed(11);
  const n = 7;
  const gFixed = new GaussianMlpPolicy(
    { sizes: [3, 5, 4, 2], activations: ["tanh", "softplus", "linear"] },
    { logStd: [-0.3, 0.2] },
  );
  const gLearned = new GaussianMlpPolicy(
    { sizes: [3, 5, 3], activations: ["tanh", "linear"] },
    { logStd: 0, learnLogStd: true },
  );
  const phiLearned = gLearned.init(rng);
  phiLearned.set(randn(rng, 3, 0.4), gLearned.netParams); // random log-std too
  const cat = new CategoricalMlpPolicy({ sizes: [3, 6, 5, 4], activations: ["tanh", "softplus", "linear"] });
  const tab = new TabularSoftmaxPolicy(3, 4);
  const lin = new LinearGaussianPolicyAdapter(3, 2, [0.5, 0.1, 0.1, 0.3]);
  return [
    { name: "gaussian-mlp fixed log-std", policy: gFixed, phi: gFixed.init(rng), obs: randn(rng, n * 3), n },
    { name: "gaussian-mlp learned log-std", policy: gLearned, phi: phiLearned, obs: randn(rng, n * 3), n },
    { name: "categorical-mlp", policy: cat, phi: randn(rng, cat.nParams, 0.7), obs: randn(rng, n * 3), n },
    {
      name: "tabular",
      policy: tab,
      phi: randn(rng, 12),
      obs: Float64Array.from({ length: n }, (_, i) => i % 3),
      n,
    },
    { name: "linear-gaussian", policy: lin, phi: randn(rng, 6, 0.5), obs: randn(rng, n * 3), n },
  ];
}

function score(c: Case, phi: Float64Array, actions: Float64Array, w: Float64Array | null): Float64Array {
  const g = new Float64Array(c.policy.nParams);
  c.policy.scoreSum(phi, c.obs, actions, c.n, w, g);
  return g;
}

function hv(c: Case, actions: Float64Array, w: Float64Array | null, v: Float64Array): Float64Array {
  const out = new Float64Array(c.policy.nParams);
  c.policy.hessianVectorSum(c.phi, c.obs, actions, c.n, w, v, out);
  return out;
}

for (const c of cases()) {
  test(`${c.name}: score and HVP match central differences; HVP symmetric`, (t) => {
    const rng = Rng.fromSeed(5);
    const actions = c.policy.sample(c.phi, c.obs, c.n, rng);
    const w = Float64Array.from({ length: c.n }, () => rng.normal());
    const logLik = (phi: Float64Array) => dot(c.policy.logProb(phi, c.obs, actions, c.n), w);
    const fdScore = fdGradient(logLik, c.phi, H);
    const errScore = relativeError(score(c, c.phi, actions, w), fdScore);
    assert.ok(errScore < TOL, `score rel. error ${errScore}`);
    // default weights = 1
    const fd1 = fdGradient(
      (phi) => dot(c.policy.logProb(phi, c.obs, actions, c.n), new Array(c.n).fill(1)),
      c.phi,
      H,
    );
    const err1 = relativeError(score(c, c.phi, actions, null), fd1);
    assert.ok(err1 < TOL, `unweighted score rel. error ${err1}`);

    let worstH = 0;
    for (let k = 0; k < 3; k++) {
      const v = randn(rng, c.policy.nParams);
      const plus = Float64Array.from(c.phi, (p, i) => p + H * v[i]);
      const minus = Float64Array.from(c.phi, (p, i) => p - H * v[i]);
      const sp = score(c, plus, actions, w);
      const sm = score(c, minus, actions, w);
      const fdHv = Float64Array.from(sp, (x, i) => (x - sm[i]) / (2 * H));
      worstH = Math.max(worstH, relativeError(hv(c, actions, w, v), fdHv));
    }
    assert.ok(worstH < TOL, `HVP rel. error ${worstH}`);

    const v = randn(rng, c.policy.nParams);
    const u = randn(rng, c.policy.nParams);
    const a = dot(v, hv(c, actions, w, u));
    const b = dot(u, hv(c, actions, w, v));
    const asym = Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b));
    assert.ok(asym < 1e-12, `vᵀHu ${a} vs uᵀHv ${b}`);

    // ADDED into out: a second call doubles the result
    const twice = score(c, c.phi, actions, w);
    c.policy.scoreSum(c.phi, c.obs, actions, c.n, w, twice);
    assert.ok(
      relativeError(
        twice,
        Float64Array.from(fdScore, (x) => 2 * x),
      ) < TOL,
      "scoreSum adds into out",
    );
    t.diagnostic(`score FD rel. error ${errScore.toExponential(2)}, HVP ${worstH.toExponential(2)}`);
  });

  test(`${c.name}: scoreDot equals per-sample score · u and central differences along u`, (t) => {
    const rng = Rng.fromSeed(17);
    const actions = c.policy.sample(c.phi, c.obs, c.n, rng);
    let worstExact = 0;
    let worstFd = 0;
    for (let k = 0; k < 3; k++) {
      const u = randn(rng, c.policy.nParams);
      const sd = c.policy.scoreDot(c.phi, c.obs, actions, c.n, u);
      assert.equal(sd.length, c.n, "fresh output has one entry per sample");
      // (a) exact: the one-hot weighted scoreSum, dotted with u
      for (let i = 0; i < c.n; i++) {
        const onehot = new Float64Array(c.n);
        onehot[i] = 1;
        const ref = dot(score(c, c.phi, actions, onehot), u);
        const err = Math.abs(sd[i] - ref) / Math.max(Math.abs(ref), 1e-300);
        worstExact = Math.max(worstExact, err);
        assert.ok(err < 1e-12, `sample ${i}: scoreDot ${sd[i]} vs score·u ${ref} (rel. ${err})`);
      }
      // (b) central differences of the per-sample log-likelihoods along u
      const plus = Float64Array.from(c.phi, (p, i) => p + H * u[i]);
      const minus = Float64Array.from(c.phi, (p, i) => p - H * u[i]);
      const lp = c.policy.logProb(plus, c.obs, actions, c.n);
      const lm = c.policy.logProb(minus, c.obs, actions, c.n);
      const fd = Float64Array.from(lp, (x, i) => (x - lm[i]) / (2 * H));
      const errFd = relativeError(sd, fd);
      worstFd = Math.max(worstFd, errFd);
      assert.ok(errFd < TOL, `scoreDot vs central differences rel. error ${errFd}`);
      // WRITTEN, not added: a pre-filled buffer (longer than n) is overwritten on its first n entries only
      const buf = new Float64Array(c.n + 2).fill(123);
      const ret = c.policy.scoreDot(c.phi, c.obs, actions, c.n, u, buf);
      assert.equal(ret, buf, "scoreDot returns the given out");
      assert.deepEqual(Array.from(buf.subarray(0, c.n)), Array.from(sd), "out is overwritten, not added to");
      assert.deepEqual(Array.from(buf.subarray(c.n)), [123, 123], "entries past n are untouched");
    }
    t.diagnostic(`scoreDot exact rel. error ${worstExact.toExponential(2)}, FD ${worstFd.toExponential(2)}`);
  });

  test(`${c.name}: a bound batch equals the unbound methods, interleaved and across other batches`, (t) => {
    const rng = Rng.fromSeed(23);
    const P = c.policy.nParams;
    const actions = c.policy.sample(c.phi, c.obs, c.n, rng);
    // another batch, larger (so the policy's own workspace grows while the bound batch is alive)
    const n2 = c.n + 5;
    const obs2 =
      c.policy instanceof TabularSoftmaxPolicy
        ? Float64Array.from({ length: n2 }, (_, i) => (i * 2) % 3)
        : randn(rng, n2 * c.policy.obsSize);
    const actions2 = c.policy.sample(c.phi, obs2, n2, rng);
    const isMlp = c.policy instanceof GaussianMlpPolicy || c.policy instanceof CategoricalMlpPolicy;
    assert.equal(typeof c.policy.bind === "function", isMlp, "only the MLP families implement bind");
    const bound = bindBatch(c.policy, c.phi, c.obs, actions, c.n);
    assert.equal(bound.n, c.n, "bound.n is the batch size");

    let worst = 0;
    let bitwise = true;
    const same = (got: Float64Array, ref: Float64Array, what: string) => {
      const err = relativeError(got, ref);
      worst = Math.max(worst, err);
      bitwise &&= got.every((x, i) => Object.is(x, ref[i]));
      assert.ok(err <= 1e-13, `${what}: bound vs unbound rel. error ${err}`);
    };
    // a pre-filled out shows that scoreSum / hessianVectorSum add and scoreDot writes, as unbound
    const filled = (len: number) => Float64Array.from({ length: len }, (_, i) => 0.25 * i - 1);
    const hvpBoth = (w: Float64Array | null, v: Float64Array, what: string) => {
      const got = filled(P);
      bound.hessianVectorSum(w, v, got);
      const ref = filled(P);
      c.policy.hessianVectorSum(c.phi, c.obs, actions, c.n, w, v, ref);
      same(got, ref, what);
    };
    const dotBoth = (u: Float64Array, what: string) => {
      const got = filled(c.n + 2);
      bound.scoreDot(u, got);
      const ref = filled(c.n + 2);
      c.policy.scoreDot(c.phi, c.obs, actions, c.n, u, ref);
      same(got, ref, what);
      assert.deepEqual(
        Array.from(got.subarray(c.n)),
        [0.25 * c.n - 1, 0.25 * (c.n + 1) - 1],
        `${what}: tail`,
      );
    };
    const sumBoth = (w: Float64Array | null, what: string) => {
      const got = filled(P);
      bound.scoreSum(w, got);
      const ref = filled(P);
      c.policy.scoreSum(c.phi, c.obs, actions, c.n, w, ref);
      same(got, ref, what);
    };
    const other = () => {
      const w = randn(rng, n2);
      c.policy.hessianVectorSum(c.phi, obs2, actions2, n2, w, randn(rng, P), new Float64Array(P));
      c.policy.scoreDot(c.phi, obs2, actions2, n2, randn(rng, P));
      c.policy.scoreSum(c.phi, obs2, actions2, n2, w, new Float64Array(P));
      c.policy.logProb(c.phi, obs2, actions2, n2);
      c.policy.sample(c.phi, obs2, n2, rng);
    };
    const w1 = randn(rng, c.n);
    const w2 = randn(rng, c.n);
    const v1 = randn(rng, P);
    const v2 = randn(rng, P);
    const u1 = randn(rng, P);
    const u2 = randn(rng, P);
    // bound first (nothing else has touched the policy since bind but sampling), then interleaved
    hvpBoth(w1, v1, "hvp #1");
    dotBoth(u1, "scoreDot #1");
    sumBoth(w1, "scoreSum #1");
    hvpBoth(w2, v2, "hvp #2 (other weights and vector)");
    other();
    dotBoth(u2, "scoreDot #2 after another batch");
    other();
    sumBoth(null, "scoreSum #2 (unit weights) after another batch");
    other();
    hvpBoth(null, v1, "hvp #3 (unit weights) after another batch");
    hvpBoth(w1, v2, "hvp #4");
    dotBoth(u1, "scoreDot #3 (first u again)");
    sumBoth(w2, "scoreSum #3");
    // the bound results are also unchanged by the unbound calls made just above
    const again = new Float64Array(P);
    bound.hessianVectorSum(w1, v1, again);
    const first = new Float64Array(P);
    c.policy.hessianVectorSum(c.phi, c.obs, actions, c.n, w1, v1, first);
    same(again, first, "hvp #1 repeated at the end");
    // two bound batches of one policy are independent too
    const bound2 = bindBatch(c.policy, c.phi, obs2, actions2, n2);
    const sd2 = new Float64Array(n2);
    bound2.scoreDot(u1, sd2);
    dotBoth(u2, "scoreDot #4 after binding a second batch");
    same(sd2, c.policy.scoreDot(c.phi, obs2, actions2, n2, u1), "second bound batch's scoreDot");
    t.diagnostic(`worst rel. error ${worst.toExponential(2)}, bitwise equal: ${bitwise}`);
  });

  test(`${c.name}: bindBatch checks its arguments`, () => {
    const actions = c.policy.sample(c.phi, c.obs, c.n, Rng.fromSeed(1));
    const P = c.policy.nParams;
    assert.throws(
      () => bindBatch(c.policy, new Float64Array(P + 1), c.obs, actions, c.n),
      RangeError,
      `${c.name}: bind rejects a wrong-length phi`,
    );
    assert.throws(
      () => bindBatch(c.policy, c.phi, c.obs, actions.subarray(1), c.n),
      RangeError,
      `${c.name}: bind rejects short actions`,
    );
    const bound = bindBatch(c.policy, c.phi, c.obs, actions, c.n);
    assert.throws(
      () => bound.scoreDot(new Float64Array(P + 1), new Float64Array(c.n)),
      RangeError,
      `${c.name}: bound scoreDot rejects a wrong-length u`,
    );
    assert.throws(
      () => bound.scoreDot(new Float64Array(P), new Float64Array(c.n - 1)),
      RangeError,
      `${c.name}: bound scoreDot rejects a short out`,
    );
    assert.throws(
      () => bound.hessianVectorSum(null, new Float64Array(P), new Float64Array(P - 1)),
      RangeError,
      `${c.name}: bound hessianVectorSum rejects a wrong-length out`,
    );
    assert.throws(
      () => bound.scoreSum(null, new Float64Array(P + 1)),
      RangeError,
      `${c.name}: bound scoreSum rejects a wrong-length out`,
    );
  });

  test(`${c.name}: sampling is deterministic given the seed`, () => {
    const a1 = c.policy.sample(c.phi, c.obs, c.n, Rng.fromSeed(9));
    const a2 = c.policy.sample(c.phi, c.obs, c.n, Rng.fromSeed(9));
    assert.deepEqual(a1, a2);
    assert.equal(a1.length, c.n * c.policy.actionSize);
    const a3 = c.policy.sample(c.phi, c.obs, c.n, Rng.fromSeed(10));
    assert.notDeepEqual(a1, a3);
  });
}

test("E[score] = 0 exactly for the discrete families (weights = π)", () => {
  for (const c of cases().filter((x) => x.policy.discrete)) {
    const K =
      c.policy instanceof TabularSoftmaxPolicy ? c.policy.A : (c.policy as CategoricalMlpPolicy).nActions;
    // every (state, action) pair, weighted by π(a|s)
    const d = c.policy.obsSize;
    const obs = Float64Array.from(
      { length: c.n * K * d },
      (_, i) => c.obs[Math.floor(i / (K * d)) * d + (i % d)],
    );
    const actions = Float64Array.from({ length: c.n * K }, (_, i) => i % K);
    const pi = c.policy.logProb(c.phi, obs, actions, c.n * K).map(Math.exp);
    const g = new Float64Array(c.policy.nParams);
    c.policy.scoreSum(c.phi, obs, actions, c.n * K, pi, g);
    assert.ok(Math.max(...g.map(Math.abs)) < 1e-12, `${c.name}: E[score] = ${g}`);
    // Fisher identity: E[∇² log π] v = −E[score scoreᵀ] v
    const v = randn(Rng.fromSeed(3), c.policy.nParams);
    const hvSum = new Float64Array(c.policy.nParams);
    c.policy.hessianVectorSum(c.phi, obs, actions, c.n * K, pi, v, hvSum);
    const fisher = new Float64Array(c.policy.nParams);
    for (let i = 0; i < c.n * K; i++) {
      const gi = new Float64Array(c.policy.nParams);
      c.policy.scoreSum(c.phi, obs.subarray(i * d, (i + 1) * d), actions.subarray(i, i + 1), 1, null, gi);
      const s = pi[i] * dot(gi, v);
      for (let j = 0; j < gi.length; j++) fisher[j] -= s * gi[j];
    }
    assert.ok(relativeError(hvSum, fisher) < 1e-10, `${c.name}: Fisher identity`);
  }
});

test("E[score] ≈ 0 for the Gaussian families (Monte Carlo z-test)", () => {
  for (const c of cases().filter((x) => !x.policy.discrete)) {
    const rng = Rng.fromSeed(21);
    const reps = 20;
    const obs = Float64Array.from(
      { length: c.n * reps * c.policy.obsSize },
      (_, i) => c.obs[i % c.obs.length],
    );
    const rows = c.n * reps;
    const estimates: Float64Array[] = [];
    for (let k = 0; k < 300; k++) {
      const actions = c.policy.sample(c.phi, obs, rows, rng);
      const g = new Float64Array(c.policy.nParams);
      c.policy.scoreSum(c.phi, obs, actions, rows, null, g);
      estimates.push(g.map((x) => x / rows));
    }
    const z = maxZ(estimates, new Float64Array(c.policy.nParams));
    assert.ok(z < 4.5, `${c.name}: max |z| = ${z}`);
  }
});

test("tabular policy agrees with softmaxPolicy to 1e-12", () => {
  const S = 4;
  const A = 3;
  const rng = Rng.fromSeed(2);
  const phi = randn(rng, S * A, 2);
  const pol = new TabularSoftmaxPolicy(S, A);
  const ref = softmaxPolicy(phi, S, A);
  const obs = Float64Array.from({ length: S * A }, (_, i) => Math.floor(i / A));
  const actions = Float64Array.from({ length: S * A }, (_, i) => i % A);
  const lp = pol.logProb(phi, obs, actions, S * A);
  assert.ok(relativeError(lp, ref.logPi) < 1e-12, "log π vs softmaxPolicy");
  const v = randn(rng, S * A);
  for (let i = 0; i < S * A; i++) {
    const s = obs[i];
    const a = actions[i];
    const g = new Float64Array(S * A);
    pol.scoreSum(phi, obs.subarray(i, i + 1), actions.subarray(i, i + 1), 1, null, g);
    const gRef = new Float64Array(S * A);
    for (let b = 0; b < A; b++) gRef[s * A + b] = (b === a ? 1 : 0) - ref.pi[s * A + b];
    assert.ok(relativeError(g, gRef) < 1e-12, `score, sample ${i}`);
    const h = new Float64Array(S * A);
    pol.hessianVectorSum(phi, obs.subarray(i, i + 1), actions.subarray(i, i + 1), 1, null, v, h);
    const hRef = new Float64Array(S * A);
    let pv = 0;
    for (let b = 0; b < A; b++) pv += ref.pi[s * A + b] * v[s * A + b];
    for (let b = 0; b < A; b++) hRef[s * A + b] = -ref.pi[s * A + b] * v[s * A + b] + ref.pi[s * A + b] * pv;
    assert.ok(relativeError(h, hRef) < 1e-12, `HVP, sample ${i}`);
  }
  // same draws as Rng.categorical on softmaxPolicy's π
  const r1 = Rng.fromSeed(4);
  const r2 = Rng.fromSeed(4);
  const states = Float64Array.from({ length: 200 }, (_, i) => i % S);
  const drawn = pol.sample(phi, states, 200, r1);
  for (let i = 0; i < 200; i++) assert.equal(drawn[i], r2.categorical(ref.pi, states[i] * A, A));
});

test("linear-Gaussian adapter agrees with LinearGaussianPolicy to 1e-12", () => {
  const n = 3;
  const m = 2;
  const cov = [0.5, 0.1, 0.1, 0.3];
  const rng = Rng.fromSeed(8);
  const K = randn(rng, m * n);
  const ref = new LinearGaussianPolicy(K, cov, n, m);
  const pol = new LinearGaussianPolicyAdapter(n, m, cov);
  const N = 5;
  const obs = randn(rng, N * n);
  const r1 = Rng.fromSeed(12);
  const r2 = Rng.fromSeed(12);
  const actions = pol.sample(K, obs, N, r1);
  const lp = pol.logProb(K, obs, actions, N);
  const v = randn(rng, m * n);
  for (let i = 0; i < N; i++) {
    const s = obs.subarray(i * n, i * n + n);
    const a = actions.subarray(i * m, i * m + m);
    assert.ok(relativeError(a, ref.sample(s, r2)) < 1e-12, `sample ${i}: draws`);
    assert.ok(Math.abs(lp[i] - ref.logProb(s, a)) <= 1e-12 * Math.abs(lp[i]), `sample ${i}: log π`);
    const g = new Float64Array(m * n);
    pol.scoreSum(K, s, a, 1, null, g);
    assert.ok(relativeError(g, ref.scoreK(s, a)) < 1e-12, `sample ${i}: score`);
    const h = new Float64Array(m * n);
    pol.hessianVectorSum(K, s, a, 1, null, v, h);
    const Hm = ref.hessianK(s);
    const hRef = Float64Array.from({ length: m * n }, (_, r) =>
      dot(Hm.subarray(r * m * n, (r + 1) * m * n), v),
    );
    assert.ok(relativeError(h, hRef) < 1e-12, `sample ${i}: HVP`);
  }
});

test("Gaussian MLP with learned log-std: layout is [MLP params, log σ]", () => {
  const pol = new GaussianMlpPolicy(
    { sizes: [2, 3, 2], activations: ["tanh", "linear"] },
    { logStd: [-1, 0.5], learnLogStd: true },
  );
  assert.equal(pol.netParams, pol.net.nParams);
  assert.equal(pol.nParams, pol.net.nParams + 2);
  const phi = pol.init(Rng.fromSeed(1));
  assert.deepEqual(Array.from(phi.subarray(pol.netParams)), [-1, 0.5]);
  // a huge log σ on dimension 0 spreads its draws; dimension 1 stays tight
  phi[pol.netParams] = 3;
  phi[pol.netParams + 1] = -5;
  const obs = new Float64Array(2 * 400);
  const a = pol.sample(phi, obs, 400, Rng.fromSeed(2));
  const spread = (j: number) =>
    Math.sqrt(a.filter((_, i) => i % 2 === j).reduce((s, x) => s + x * x, 0) / 400);
  assert.ok(spread(0) > 10 && spread(1) < 0.1, `spreads ${spread(0)}, ${spread(1)}`);
});

test("argument checks", () => {
  const pol = new TabularSoftmaxPolicy(2, 3);
  const phi = new Float64Array(6);
  assert.throws(() => pol.logProb(phi, Float64Array.of(2), Float64Array.of(0), 1), RangeError);
  assert.throws(() => pol.logProb(phi, Float64Array.of(0), Float64Array.of(3), 1), RangeError);
  assert.throws(
    () => pol.scoreSum(new Float64Array(5), Float64Array.of(0), Float64Array.of(0), 1, null, phi),
    RangeError,
  );
  const cat = new CategoricalMlpPolicy({ sizes: [2, 3], activations: ["linear"] });
  assert.throws(
    () => cat.logProb(new Float64Array(cat.nParams), new Float64Array(2), Float64Array.of(0.5), 1),
    RangeError,
  );
  for (const c of cases()) {
    const actions = c.policy.sample(c.phi, c.obs, c.n, Rng.fromSeed(1));
    const u = new Float64Array(c.policy.nParams);
    assert.throws(
      () => c.policy.scoreDot(c.phi, c.obs, actions, c.n, new Float64Array(c.policy.nParams + 1)),
      RangeError,
      `${c.name}: scoreDot rejects a wrong-length u`,
    );
    assert.throws(
      () => c.policy.scoreDot(c.phi, c.obs, actions, c.n, u, new Float64Array(c.n - 1)),
      RangeError,
      `${c.name}: scoreDot rejects a short out`,
    );
    assert.throws(
      () => c.policy.scoreDot(c.phi, c.obs, actions.subarray(1), c.n, u),
      RangeError,
      `${c.name}: scoreDot rejects short actions`,
    );
  }
});
