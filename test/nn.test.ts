import assert from "node:assert/strict";
import { test } from "node:test";
import { dot, relativeError } from "../src/math/linalg.ts";
import { Rng } from "../src/math/rng.ts";
import {
  type Activation,
  Adam,
  categoricalLogProbLoss,
  concatParams,
  gaussianLogProbLoss,
  initParams,
  layerViews,
  Mlp,
  type MlpSpec,
  type OutputLoss,
  paramCount,
  splitParams,
  squaredErrorLoss,
} from "../src/nn/index.ts";

/** Central differences: h ≈ 1e-5 puts truncation (h²) and rounding (ε/h) errors near 1e-10. */
const H = 1e-5;
const TOL = 1e-6;

const ACTS: Activation[] = ["tanh", "softplus", "linear", "relu"];

/** Shapes: one layer, multi-output, two hidden layers with odd widths, a nonlinear output layer. */
function specsFor(act: Activation): MlpSpec[] {
  return [
    { sizes: [3, 2], activations: [act] },
    { sizes: [3, 5, 2], activations: [act, "linear"] },
    { sizes: [4, 6, 5, 3], activations: [act, act, "linear"] },
    { sizes: [2, 4, 3], activations: [act, act] },
  ];
}

function randn(rng: Rng, n: number, scale = 1): Float64Array {
  return Float64Array.from({ length: n }, () => scale * rng.normal());
}

/** Plain per-sample reference forward; also returns every pre-activation (for the relu kink guard). */
function referenceForward(spec: MlpSpec, params: Float64Array, X: Float64Array, n: number) {
  const views = layerViews(spec, params);
  const out: number[] = [];
  const pre: number[] = [];
  for (let r = 0; r < n; r++) {
    let a = Array.from(X.subarray(r * spec.sizes[0], (r + 1) * spec.sizes[0]));
    views.forEach((v, l) => {
      const z = Array.from({ length: v.nOut }, (_, o) => {
        let s = v.b[o];
        for (let i = 0; i < v.nIn; i++) s += v.W[o * v.nIn + i] * a[i];
        return s;
      });
      pre.push(...z);
      const act = spec.activations[l];
      a = z.map((x) =>
        act === "tanh"
          ? Math.tanh(x)
          : act === "relu"
            ? Math.max(x, 0)
            : act === "softplus"
              ? Math.log1p(Math.exp(x))
              : x,
      );
    });
    out.push(...a);
  }
  return { out: Float64Array.from(out), minAbsPre: Math.min(...pre.map(Math.abs)) };
}

/**
 * A random problem (params away from init so biases are non-zero, inputs, batch n). The seed is advanced
 * until no pre-activation is within 1e-3 of 0, so finite differences never straddle a relu kink
 * (perturbations below move pre-activations by ≲ 1e-4).
 */
function problem(spec: MlpSpec, seed: number, n: number) {
  for (let s = seed; ; s += 1000) {
    const rng = Rng.fromSeed(s);
    const params = initParams(spec, rng);
    for (let i = 0; i < params.length; i++) params[i] += 0.5 * rng.normal();
    const X = randn(rng, n * spec.sizes[0]);
    const ref = referenceForward(spec, params, X, n);
    if (ref.minAbsPre > 1e-3) return { rng, params, X, ref };
  }
}

type LossKind = "sum" | "gaussian" | "categorical" | "squared";

/** Per-problem data of each loss (fixed while params move), and the loss at given outputs. */
function makeLoss(kind: LossKind, rng: Rng, n: number, K: number): (out: Float64Array) => OutputLoss {
  const c = randn(rng, n * K);
  const w = randn(rng, n); // signed, like advantages
  if (kind === "sum") {
    return () => ({ value: 0, grad: c, hess: (_r, hr) => hr.fill(0) });
  }
  if (kind === "gaussian") {
    const actions = randn(rng, n * K);
    const sigma = Float64Array.from({ length: K }, () => 0.5 + rng.uniform());
    return (out) => gaussianLogProbLoss(out, actions, sigma, n, K, w);
  }
  if (kind === "categorical") {
    const actions = Array.from({ length: n }, () => Math.floor(rng.uniform() * K));
    return (out) => categoricalLogProbLoss(out, actions, n, K, w);
  }
  const y = randn(rng, n * K);
  return (out) => squaredErrorLoss(out, y, n, K, w.map(Math.abs));
}

/** ∂L/∂params (and value) through forward + backward on a fresh workspace. */
function lossGrad(
  net: Mlp,
  params: Float64Array,
  X: Float64Array,
  n: number,
  loss: (o: Float64Array) => OutputLoss,
) {
  const ws = net.workspace();
  const out = net.forward(params, X, n, ws);
  const l = loss(out);
  const grad = new Float64Array(net.nParams);
  net.backward(params, ws, l.grad, grad);
  return { value: l.value, grad };
}

function axpy(x: Float64Array, a: number, v: Float64Array): Float64Array {
  return x.map((xi, i) => xi + a * v[i]);
}

test("spec validation, parameter count and layout", () => {
  const bad: unknown[] = [
    { sizes: [4], activations: [] },
    { sizes: [4, 0, 2], activations: ["tanh", "linear"] },
    { sizes: [4, 2.5, 2], activations: ["tanh", "linear"] },
    { sizes: [4, 3, 2], activations: ["tanh"] },
    { sizes: [4, 3, 2], activations: ["tanh", "sigmoid"] },
    { sizes: "4,2", activations: ["linear"] },
  ];
  for (const spec of bad) {
    assert.throws(() => new Mlp(spec as MlpSpec), RangeError, JSON.stringify(spec));
    assert.throws(() => paramCount(spec as MlpSpec), RangeError);
  }
  const spec: MlpSpec = { sizes: [3, 5, 2], activations: ["tanh", "linear"] };
  assert.equal(paramCount(spec), 5 * 3 + 5 + 2 * 5 + 2);
  const params = Float64Array.from({ length: paramCount(spec) }, (_, i) => i);
  const [l1, l2] = layerViews(spec, params);
  // W1 [5×3] row-major, b1 [5], W2 [2×5], b2 [2]
  assert.deepEqual(
    [l1.offset, l1.W[3 * 1 + 2], l1.b[0], l2.offset, l2.W[5 * 1 + 4], l2.b[1]],
    [0, 5, 15, 20, 29, 31],
  );
  l2.b[1] = -1;
  assert.equal(params[31], -1, "views write through");
  assert.throws(() => layerViews(spec, new Float64Array(3)), RangeError);
  const net = new Mlp(spec);
  const other = new Mlp({ sizes: [3, 4, 2], activations: ["tanh", "linear"] });
  assert.throws(() => net.forward(params, new Float64Array(6), 2, other.workspace()), /another network/);
  assert.throws(() => net.forward(new Float64Array(5), new Float64Array(6), 2, net.workspace()), RangeError);
  assert.throws(() => net.forward(params, new Float64Array(5), 2, net.workspace()), RangeError);
});

test("init: same seed gives identical parameters; scaling, zero biases and output gain", () => {
  const spec: MlpSpec = { sizes: [50, 200, 3], activations: ["relu", "linear"] };
  const a = initParams(spec, Rng.fromSeed(7));
  assert.deepEqual(a, initParams(spec, Rng.fromSeed(7)));
  assert.notDeepEqual(a, initParams(spec, Rng.fromSeed(8)));
  const [l1, l2] = layerViews(spec, a);
  assert.ok(l1.b.every((x) => x === 0) && l2.b.every((x) => x === 0));
  const std = (w: Float64Array) => Math.sqrt(dot(w, w) / w.length);
  assert.ok(Math.abs(std(l1.W) / Math.sqrt(2 / 50) - 1) < 0.05, "He scaling before relu");
  const small = initParams(spec, Rng.fromSeed(7), { outputGain: 0.01 });
  const [s1, s2] = layerViews(spec, small);
  assert.deepEqual(s1.W, l1.W);
  assert.ok(
    relativeError(
      s2.W,
      l2.W.map((x) => 0.01 * x),
    ) < 1e-15,
  );
});

test("forward matches a per-sample reference; a workspace is reused across calls and batch sizes", () => {
  for (const act of ACTS) {
    for (const spec of specsFor(act)) {
      const net = new Mlp(spec);
      const ws = net.workspace();
      for (const n of [7, 1, 13, 7, 0]) {
        const { params, X, ref } = problem(spec, 1, n);
        const out = net.forward(params, X, n, ws);
        assert.equal(out.length, n * net.outSize);
        assert.ok(relativeError(out, ref.out) < 1e-14 || n === 0, `${act} ${spec.sizes} n=${n}`);
      }
      const { params, X } = problem(spec, 2, 5);
      const o1 = net.forward(params, X, 5, ws);
      assert.equal(net.forward(params, X, 5, ws), o1, "same N returns the same buffer (no allocation)");
      // X longer than n rows: only the first n are used
      const more = concatParams([X, randn(Rng.fromSeed(3), 2 * net.inSize)]);
      assert.deepEqual(Array.from(net.forward(params, more, 5, ws)), Array.from(o1));
    }
  }
});

test("tanh layer agrees with Math.tanh to 2 ulp (the kernel uses its own inlinable tanh)", () => {
  const net = new Mlp({ sizes: [1, 1], activations: ["tanh"] });
  const params = Float64Array.of(1, 0); // out = tanh(x)
  const rng = Rng.fromSeed(9);
  const xs: number[] = [0, -0, 0.625, 22, 19.1, 1e-300, 5e-324, Number.MAX_VALUE];
  for (const b of [0.625, 22])
    for (let k = 1; k <= 50; k++) xs.push(b * (1 + k * 1e-16), b * (1 - k * 1e-16));
  for (let i = 0; i < 100_000; i++) xs.push(30 * rng.uniform(), Math.exp(-50 * rng.uniform()));
  const X = Float64Array.from([...xs, ...xs.map((x) => -x)]);
  const out = net.forward(params, X, X.length, net.workspace());
  const buf = new Float64Array(2);
  const bits = new BigInt64Array(buf.buffer);
  let worst = 0n;
  for (let i = 0; i < X.length; i++) {
    buf[0] = out[i] + 0; // −0 → +0
    buf[1] = Math.tanh(X[i]) + 0;
    if (buf[0] * buf[1] < 0) assert.fail(`sign of tanh(${X[i]})`);
    const d = bits[0] > bits[1] ? bits[0] - bits[1] : bits[1] - bits[0];
    if (d > worst) worst = d;
  }
  assert.ok(worst <= 2n, `worst ${worst} ulp`);
  const special = net.forward(
    params,
    Float64Array.of(Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN),
    3,
    net.workspace(),
  );
  assert.deepEqual(Array.from(special), [1, -1, Number.NaN]);
});

test("backward: parameter and input gradients of Σ c ⊙ out against central differences", (t) => {
  let worst = 0;
  for (const act of ACTS) {
    for (const spec of specsFor(act)) {
      const net = new Mlp(spec);
      const n = 7;
      const { rng, params, X } = problem(spec, 11, n);
      const c = randn(rng, n * net.outSize);
      const ws = net.workspace();
      const f = (p: Float64Array, x: Float64Array) => dot(c, net.forward(p, x, n, ws));
      f(params, X);
      const grad = new Float64Array(net.nParams);
      const dX = new Float64Array(n * net.inSize);
      net.backward(params, ws, c, grad, dX);
      const fdP = params.map((_, i) => {
        const e = new Float64Array(params.length);
        e[i] = H;
        return (f(axpy(params, 1, e), X) - f(axpy(params, -1, e), X)) / (2 * H);
      });
      const fdX = X.map((_, i) => {
        const e = new Float64Array(X.length);
        e[i] = H;
        return (f(params, axpy(X, 1, e)) - f(params, axpy(X, -1, e))) / (2 * H);
      });
      const eP = relativeError(grad, fdP);
      const eX = relativeError(dX, fdX);
      worst = Math.max(worst, eP, eX);
      assert.ok(eP < TOL, `${act} ${spec.sizes}: param gradient error ${eP}`);
      assert.ok(eX < TOL, `${act} ${spec.sizes}: input gradient error ${eX}`);
      // accumulates; grad may be skipped when only the input gradient is wanted
      f(params, X);
      net.backward(params, ws, c, grad);
      assert.ok(
        relativeError(
          grad,
          fdP.map((x) => 2 * x),
        ) < TOL,
      );
      const dX2 = new Float64Array(n * net.inSize);
      net.backward(params, ws, c, null, dX2);
      assert.deepEqual(dX2, dX);
    }
  }
  t.diagnostic(`worst relative error ${worst.toExponential(2)}`);
});

test("jvp: directional derivative of the outputs along parameters and inputs", (t) => {
  let worst = 0;
  for (const act of ACTS) {
    for (const spec of specsFor(act)) {
      const net = new Mlp(spec);
      const n = 6;
      const { rng, params, X } = problem(spec, 21, n);
      const v = randn(rng, net.nParams);
      const xDot = randn(rng, X.length);
      const ws = net.workspace();
      const out = (p: Float64Array, x: Float64Array) => Float64Array.from(net.forward(p, x, n, ws));
      net.forward(params, X, n, ws);
      const cases: [string, Float64Array | null, Float64Array | undefined][] = [
        ["params", v, undefined],
        ["inputs", null, xDot],
        ["both", v, xDot],
      ];
      for (const [name, dv, dx] of cases) {
        net.forward(params, X, n, ws);
        const j = Float64Array.from(net.jvp(params, ws, dv, dx));
        const pv = dv ?? new Float64Array(net.nParams);
        const xv = dx ?? new Float64Array(X.length);
        const plus = out(axpy(params, H, pv), axpy(X, H, xv));
        const minus = out(axpy(params, -H, pv), axpy(X, -H, xv));
        const fd = plus.map((p, i) => (p - minus[i]) / (2 * H));
        const e = relativeError(j, fd);
        worst = Math.max(worst, e);
        assert.ok(e < TOL, `${act} ${spec.sizes} ${name}: jvp error ${e}`);
      }
    }
  }
  t.diagnostic(`worst relative error ${worst.toExponential(2)}`);
});

test("loss helpers: value, output gradient and output Hessian against differences in output space", () => {
  const rng = Rng.fromSeed(5);
  const n = 4;
  const K = 3;
  for (const kind of ["gaussian", "categorical", "squared"] as const) {
    const loss = makeLoss(kind, rng, n, K);
    const o = randn(rng, n * K);
    const l = loss(o);
    const r = randn(rng, n * K);
    const hr = new Float64Array(n * K);
    if (typeof l.hess !== "function") throw new Error("expected a function");
    l.hess(r, hr, n, K);
    const fdG = o.map((_, i) => {
      const e = new Float64Array(o.length);
      e[i] = H;
      return (loss(axpy(o, 1, e)).value - loss(axpy(o, -1, e)).value) / (2 * H);
    });
    const gp = loss(axpy(o, H, r)).grad;
    const gm = Float64Array.from(loss(axpy(o, -H, r)).grad);
    const fdH = gp.map((g, i) => (g - gm[i]) / (2 * H));
    assert.ok(relativeError(l.grad, fdG) < TOL, kind);
    assert.ok(relativeError(hr, fdH) < TOL, kind);
  }
  // values against closed forms
  const g = gaussianLogProbLoss(Float64Array.of(1, 2), Float64Array.of(1.5, 1), [0.5, 2], 1, 2);
  const lp = (x: number, m: number, s: number) =>
    -0.5 * ((x - m) / s) ** 2 - Math.log(s) - 0.5 * Math.log(2 * Math.PI);
  assert.ok(Math.abs(g.value - lp(1.5, 1, 0.5) - lp(1, 2, 2)) < 1e-14);
  const perRow = gaussianLogProbLoss(Float64Array.of(1, 2), Float64Array.of(1.5, 1), [0.5, 2], 2, 1);
  assert.ok(Math.abs(perRow.value - g.value) < 1e-14, "sigma per row");
  const c = categoricalLogProbLoss(Float64Array.of(0, Math.log(3)), [1], 1, 2);
  assert.ok(Math.abs(c.value - Math.log(0.75)) < 1e-15);
  assert.ok(relativeError(c.grad, [-0.25, 0.25]) < 1e-15);
  assert.throws(() => categoricalLogProbLoss(Float64Array.of(0, 0), [2], 1, 2), RangeError);
  assert.throws(
    () => gaussianLogProbLoss(Float64Array.of(0, 0), Float64Array.of(0, 0), [1, 1, 1], 1, 2),
    RangeError,
  );
  assert.equal(squaredErrorLoss(Float64Array.of(1, 2), Float64Array.of(0, 0), 1, 2).value, 2.5);
});

test("hvp (R-operator) against differences of the gradient, for the three losses, and symmetric", (t) => {
  let worst = 0;
  let worstSym = 0;
  for (const act of ACTS) {
    for (const spec of specsFor(act)) {
      const net = new Mlp(spec);
      const K = net.outSize;
      for (const kind of ["gaussian", "categorical", "squared", "sum"] as const) {
        const n = 5;
        const { rng, params, X } = problem(spec, 31, n);
        const loss = makeLoss(kind, rng, n, K);
        const v = randn(rng, net.nParams);
        const w = randn(rng, net.nParams);
        const ws = net.workspace();
        const hvpOf = (dir: Float64Array) => {
          const l = loss(net.forward(params, X, n, ws));
          const hv = new Float64Array(net.nParams);
          const grad = new Float64Array(net.nParams);
          net.hvp(params, ws, dir, l.grad, l.hess, hv, { grad });
          return { hv, grad };
        };
        const { hv, grad } = hvpOf(v);
        const gp = lossGrad(net, axpy(params, H, v), X, n, loss).grad;
        const gm = lossGrad(net, axpy(params, -H, v), X, n, loss).grad;
        const fd = gp.map((g, i) => (g - gm[i]) / (2 * H));
        const e = relativeError(hv, fd);
        worst = Math.max(worst, e);
        const label = `${act} ${spec.sizes} ${kind}`;
        assert.ok(e < TOL, `${label}: hvp error ${e}`);
        assert.ok(relativeError(grad, lossGrad(net, params, X, n, loss).grad) < 1e-13, `${label}: grad`);
        // vᵀ H w = wᵀ H v: both sides are exact, so only rounding separates them.
        const hw = hvpOf(w).hv;
        const sym =
          Math.abs(dot(v, hw) - dot(w, hv)) / Math.max(Math.hypot(...v) * Math.hypot(...hw), 1e-300);
        worstSym = Math.max(worstSym, sym);
        assert.ok(sym < 1e-12, `${label}: asymmetry ${sym}`);
      }
    }
  }
  t.diagnostic(
    `worst relative error ${worst.toExponential(2)}, worst asymmetry ${worstSym.toExponential(2)}`,
  );
});

test("hvp: explicit output Hessians, the mixed params×inputs term, and accumulation", () => {
  const spec: MlpSpec = { sizes: [3, 6, 4], activations: ["tanh", "linear"] };
  const net = new Mlp(spec);
  const n = 5;
  const K = 4;
  const { rng, params, X } = problem(spec, 41, n);
  const loss = makeLoss("categorical", rng, n, K);
  const v = randn(rng, net.nParams);
  const ws = net.workspace();
  const out = net.forward(params, X, n, ws);
  const l = loss(out);
  const viaFn = new Float64Array(net.nParams);
  net.hvp(params, ws, v, l.grad, l.hess, viaFn);
  // per-row matrices −w (diag p − p pᵀ), built by applying the callback to unit vectors
  const mats = new Float64Array(n * K * K);
  const hess = l.hess;
  if (typeof hess !== "function") throw new Error("expected a function");
  for (let k = 0; k < K; k++) {
    const e = new Float64Array(n * K);
    for (let r = 0; r < n; r++) e[r * K + k] = 1;
    const col = new Float64Array(n * K);
    hess(e, col, n, K);
    for (let r = 0; r < n; r++) for (let j = 0; j < K; j++) mats[(r * K + j) * K + k] = col[r * K + j];
  }
  const viaMat = new Float64Array(net.nParams);
  net.hvp(params, ws, v, l.grad, mats, viaMat);
  assert.ok(relativeError(viaMat, viaFn) < 1e-14);
  net.hvp(params, ws, v, l.grad, mats, viaMat);
  assert.ok(
    relativeError(
      viaMat,
      viaFn.map((x) => 2 * x),
    ) < 1e-14,
    "accumulates",
  );
  // mixed term: d/dε ∇_params L(params, X + ε xDot)
  const xDot = randn(rng, X.length);
  net.forward(params, X, n, ws);
  const mixed = new Float64Array(net.nParams);
  net.hvp(params, ws, null, l.grad, l.hess, mixed, { xDot });
  const gp = lossGrad(net, params, axpy(X, H, xDot), n, loss).grad;
  const gm = lossGrad(net, params, axpy(X, -H, xDot), n, loss).grad;
  assert.ok(
    relativeError(
      mixed,
      gp.map((g, i) => (g - gm[i]) / (2 * H)),
    ) < TOL,
  );
  assert.throws(() => net.hvp(params, ws, v, l.grad, new Float64Array(3), viaMat), RangeError);
});

test("concatParams / splitParams", () => {
  const a = Float64Array.of(1, 2, 3);
  const b = Float64Array.of(4, 5);
  const flat = concatParams([a, b]);
  assert.deepEqual(Array.from(flat), [1, 2, 3, 4, 5]);
  const [x, y] = splitParams(flat, [3, 2]);
  assert.deepEqual(
    [Array.from(x), Array.from(y)],
    [
      [1, 2, 3],
      [4, 5],
    ],
  );
  y[0] = 9;
  assert.equal(flat[3], 9, "views");
  assert.throws(() => splitParams(flat, [3, 3]), RangeError);
  assert.throws(() => splitParams(flat, [6, -1]), RangeError);
});

test("Adam: closed-form first step, sign convention, validation", () => {
  const g = Float64Array.of(3, -0.2, 1e-9, 0, -50);
  for (const maximize of [false, true]) {
    const x = Float64Array.of(1, 1, 1, 1, 1);
    const opt = new Adam(5, { lr: 0.01, maximize });
    opt.step(x, g);
    const sign = maximize ? 1 : -1;
    const expected = g.map((gi) => 1 + (sign * 0.01 * gi) / (Math.abs(gi) + 1e-8));
    assert.ok(relativeError(x, expected) < 1e-15, `maximize=${maximize}`);
    assert.equal(opt.steps, 1);
  }
  assert.throws(() => new Adam(2, { lr: 0 }), RangeError);
  assert.throws(() => new Adam(2, { lr: Number.NaN }), RangeError);
  assert.throws(() => new Adam(2, { lr: 0.1, beta1: 1 }), RangeError);
  assert.throws(() => new Adam(2, { lr: 0.1, beta2: -0.1 }), RangeError);
  assert.throws(() => new Adam(2, { lr: 0.1, eps: -1 }), RangeError);
  assert.throws(() => new Adam(-1, { lr: 0.1 }), RangeError);
  const opt = new Adam(2, { lr: 0.1 });
  assert.throws(() => {
    opt.lr = -1;
  }, RangeError);
  const x = Float64Array.of(1, 2);
  assert.throws(() => opt.step(x, Float64Array.of(1, Number.NaN)), RangeError);
  assert.deepEqual(Array.from(x), [1, 2], "a rejected step changes nothing");
  assert.equal(opt.steps, 0);
  assert.throws(() => opt.step(x, Float64Array.of(1)), RangeError);
});

test("Adam minimises a quadratic to 1e-6; state round-trips through JSON to an identical continuation", () => {
  const a = [0.5, 1, 2, 3, 5];
  const c = [1, -2, 0.5, 3, -0.7];
  const gradAt = (x: Float64Array) => x.map((xi, i) => a[i] * (xi - c[i]));
  const x = new Float64Array(5);
  const opt = new Adam(5, { lr: 0.1 });
  for (let k = 0; k < 1500; k++) opt.step(x, gradAt(x));
  assert.ok(Math.max(...x.map((xi, i) => Math.abs(xi - c[i]))) < 1e-6);

  const y = Float64Array.of(5, -5, 2, 0, 1);
  const o1 = new Adam(5, { lr: 0.05, beta1: 0.8, maximize: false });
  for (let k = 0; k < 10; k++) o1.step(y, gradAt(y));
  const saved = JSON.stringify({ opt: o1.state(), y: Array.from(y) });
  for (let k = 0; k < 10; k++) o1.step(y, gradAt(y));
  const restored = JSON.parse(saved);
  const o2 = Adam.fromState(restored.opt);
  const y2 = Float64Array.from(restored.y);
  for (let k = 0; k < 10; k++) o2.step(y2, gradAt(y2));
  assert.deepEqual(y2, y);
  assert.deepEqual(o2.state(), o1.state());
  assert.throws(() => Adam.fromState({ ...o1.state(), m: [1] }), RangeError);
  assert.throws(() => Adam.fromState({ ...o1.state(), t: -1 }), RangeError);
  assert.throws(() => Adam.fromState({ ...o1.state(), v: [1, 1, 1, 1, -1] }), RangeError);
});
