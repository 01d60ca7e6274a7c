/**
 * The WebAssembly SIMD kernels of src/nn against the plain-TS reference: the GEMM forms Mlp uses (with
 * offsets, strides, accumulation and the bias broadcast), the element-wise kernels through Mlp, whole
 * forward / backward / jvp / hvp passes under both backends, workspace growth (a new arena, never a grown
 * memory, so no view goes stale), the jvp reuse inside hvp, and backend selection (env variables, missing
 * .wasm file). Tests that need the kernels are skipped, with the reason, when they are not built.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { relativeError } from "../src/math/linalg.ts";
import { Rng } from "../src/math/rng.ts";
import { gaussianLogProbLoss, Mlp, type MlpSpec, squaredErrorLoss } from "../src/nn/index.ts";
import { gemm, gemmTs } from "../src/nn/kernels.ts";
import {
  KernelArena,
  type KernelBackend,
  kernelBackend,
  setKernelBackend,
  wasmAvailable,
  wasmUnavailableReason,
} from "../src/nn/wasm.ts";

const skip = wasmAvailable() ? false : `WebAssembly kernels unavailable: ${wasmUnavailableReason()}`;
const EDGE = [1, 3, 5, 63, 64, 65, 129];

function randn(rng: Rng, n: number): Float64Array {
  return Float64Array.from({ length: n }, () => rng.normal());
}

/** Runs f with the backend set to b, restoring the previous one. */
function withBackend<T>(b: KernelBackend, f: () => T): T {
  const prev = kernelBackend();
  setKernelBackend(b);
  try {
    return f();
  } finally {
    setKernelBackend(prev);
  }
}

/** Operands of C (+)= A·B in one arena, with offsets and padded row strides (ars/crs > width). */
interface Case {
  m: number;
  n: number;
  k: number;
  form: "AB" | "AtB" | "ABt";
  accumulate: boolean;
  bias: boolean;
}

/**
 * Wasm result, TS result, and the per-entry bound 1e-12·(Σ_p |a||b| + |C₀| + |bias|) for one case. The TS
 * reference reads B in the layout Mlp passes it (ABt: W [n×k] row-major); the wasm kernel reads it
 * contiguous along j (ABt: Wᵀ staged, as Mlp does).
 */
function runCase(c: Case, rng: Rng) {
  const { m, n, k, form } = c;
  const aOff = 3;
  const bOff = 5;
  const cOff = 2;
  const crs = n + 3;
  // A: AB / ABt row-major [m×k] with row stride k + 1; AtB stored [k×m] (ars = 1, aps = m + 2)
  const [ars, aps] = form === "AtB" ? [1, m + 2] : [k + 1, 1];
  const aLen = aOff + (m - 1) * ars + (k - 1) * aps + 1;
  const bLen = bOff + k * n;
  const cLen = cOff + (m - 1) * crs + n;
  const A0 = randn(rng, aLen);
  const Bkn = randn(rng, bLen); // B as [k×n] (row p, column j) at bOff
  const C0 = randn(rng, cLen);
  const bias0 = randn(rng, n + 1);
  // TS reference
  const Cts = Float64Array.from(C0);
  let tsB = Bkn;
  let bjs = 1;
  let bps = n;
  if (form === "ABt") {
    // the same numbers as W [n×k] (row j, column p)
    tsB = new Float64Array(bLen);
    for (let p = 0; p < k; p++) for (let j = 0; j < n; j++) tsB[bOff + j * k + p] = Bkn[bOff + p * n + j];
    bjs = k;
    bps = 1;
  }
  if (c.bias) for (let r = 0; r < m; r++) for (let j = 0; j < n; j++) Cts[cOff + r * crs + j] = bias0[1 + j];
  gemmTs(m, n, k, A0, aOff, ars, aps, tsB, bOff, bjs, bps, Cts, cOff, crs, 1, c.accumulate || c.bias);
  // wasm, all operands in one arena
  const arena = new KernelArena(aLen + bLen + cLen + n + 1);
  const A = arena.f64(0, aLen);
  const B = arena.f64(aLen, bLen);
  const C = arena.f64(aLen + bLen, cLen);
  const bias = arena.f64(aLen + bLen + cLen, n + 1);
  A.set(A0);
  B.set(Bkn);
  C.set(C0);
  bias.set(bias0);
  withBackend("wasm", () =>
    gemm(
      m,
      n,
      k,
      A,
      aOff,
      ars,
      aps,
      B,
      bOff,
      1,
      n,
      C,
      cOff,
      crs,
      1,
      c.accumulate,
      c.bias ? bias : undefined,
      1,
    ),
  );
  // bound
  const bound = new Float64Array(cLen);
  for (let r = 0; r < m; r++)
    for (let j = 0; j < n; j++) {
      let s = c.bias ? Math.abs(bias0[1 + j]) : c.accumulate ? Math.abs(C0[cOff + r * crs + j]) : 0;
      for (let p = 0; p < k; p++) s += Math.abs(A0[aOff + r * ars + p * aps] * Bkn[bOff + p * n + j]);
      bound[cOff + r * crs + j] = 1e-12 * s;
    }
  return { wasm: Float64Array.from(C), ts: Cts, bound, C0 };
}

function checkCase(c: Case, rng: Rng, exactUpTo = 128): void {
  const { wasm, ts, bound, C0 } = runCase(c, rng);
  const label = `${c.form} ${c.m}×${c.n}×${c.k}${c.accumulate ? " +=" : ""}${c.bias ? " +bias" : ""}`;
  let exact = true;
  for (let i = 0; i < ts.length; i++) {
    assert.ok(Math.abs(wasm[i] - ts[i]) <= bound[i], `${label}: entry ${i} ${wasm[i]} vs ${ts[i]}`);
    if (!Object.is(wasm[i], ts[i])) exact = false;
  }
  // entries between rows (padding) and before cOff are untouched
  const crs = c.n + 3;
  for (let i = 0; i < 2; i++) assert.equal(wasm[i], C0[i], `${label}: C before cOff untouched`);
  for (let r = 0; r + 1 < c.m; r++)
    for (let j = c.n; j < crs; j++) {
      const i = 2 + r * crs + j;
      assert.equal(wasm[i], C0[i], `${label}: row padding ${i} untouched`);
    }
  // sums of ≤ 128 terms are added in the same order by both kernels
  if (c.k <= exactUpTo) assert.ok(exact, `${label}: expected bit-identical results for k ≤ 128`);
}

test("wasm gemm = plain-TS gemm on the MLP's forms, edge sizes 1…129, with offsets and strides", {
  skip,
}, () => {
  const rng = Rng.fromSeed(7);
  for (const m of EDGE)
    for (const n of EDGE)
      for (const k of EDGE) {
        const form = (["AB", "AtB", "ABt"] as const)[(m + 2 * n + 3 * k) % 3];
        const accumulate = (m + n + k) % 2 === 0;
        const bias = !accumulate && (m * n * k) % 3 === 0 && form !== "AtB";
        checkCase({ m, n, k, form, accumulate, bias }, rng);
      }
  // every form × accumulate × bias at a few sizes
  for (const form of ["AB", "AtB", "ABt"] as const)
    for (const accumulate of [false, true])
      for (const bias of [false, true])
        for (const [m, n, k] of [
          [5, 65, 63],
          [64, 3, 129],
          [129, 64, 1],
        ])
          checkCase({ m, n, k, form, accumulate, bias }, rng);
});

test("wasm gemm: long reductions are chunked (k = 1000, 4000) and stay within 1e-12 of Σ|a·b|", {
  skip,
}, () => {
  const rng = Rng.fromSeed(8);
  for (const [m, n, k] of [
    [64, 64, 4000],
    [2, 64, 1000],
    [65, 5, 1000],
    [3, 3, 129],
  ])
    for (const accumulate of [false, true]) checkCase({ m, n, k, form: "AtB", accumulate, bias: false }, rng);
});

test("gemm dispatch: arena operands run in wasm (bounds-checked); others, or cjs ≠ 1, run the TS kernel", () => {
  const rng = Rng.fromSeed(9);
  const A = randn(rng, 12);
  const B = randn(rng, 12);
  const ref = new Float64Array(9);
  gemmTs(3, 3, 4, A, 0, 4, 1, B, 0, 1, 3, ref, 0, 3, 1, false);
  // plain arrays: TS kernel under either backend, identical numbers
  for (const b of ["ts", "wasm"] as const) {
    if (b === "wasm" && !wasmAvailable()) continue;
    const C = new Float64Array(9);
    withBackend(b, () => gemm(3, 3, 4, A, 0, 4, 1, B, 0, 1, 3, C, 0, 3, 1, false));
    assert.deepEqual(Array.from(C), Array.from(ref), `plain arrays, backend ${b}`);
    // C transposed (cjs = 3, crs = 1): not a wasm form, same sums
    const Ct = new Float64Array(9);
    withBackend(b, () => gemm(3, 3, 4, A, 0, 4, 1, B, 0, 1, 3, Ct, 0, 1, 3, false));
    for (let r = 0; r < 3; r++)
      for (let j = 0; j < 3; j++) assert.equal(Ct[j * 3 + r], ref[r * 3 + j], `transposed C (${r}, ${j})`);
  }
  if (!wasmAvailable()) return;
  const arena = new KernelArena(64);
  const Aw = arena.f64(0, 12);
  const Bw = arena.f64(16, 12);
  const Cw = arena.f64(32, 9);
  Aw.set(A);
  Bw.set(B);
  withBackend("wasm", () => gemm(3, 3, 4, Aw, 0, 4, 1, Bw, 0, 1, 3, Cw, 0, 3, 1, false));
  assert.deepEqual(Array.from(Cw), Array.from(ref), "arena operands, k ≤ 128: bit-identical");
  // the wasm path refuses strides that leave a view (the TS kernel would read undefined → NaN)
  assert.throws(
    () => withBackend("wasm", () => gemm(3, 3, 5, Aw, 0, 4, 1, Bw, 0, 1, 3, Cw, 0, 3, 1, false)),
    RangeError,
    "A's extent checked",
  );
  assert.throws(
    () => withBackend("wasm", () => gemm(4, 3, 4, Aw, 0, 3, 1, Bw, 0, 1, 3, Cw, 0, 3, 1, false)),
    RangeError,
    "C's extent checked",
  );
  // under the ts backend the same arena operands go through the TS kernel
  Cw.fill(0);
  withBackend("ts", () => gemm(3, 3, 4, Aw, 0, 4, 1, Bw, 0, 1, 3, Cw, 0, 3, 1, false));
  assert.deepEqual(Array.from(Cw), Array.from(ref), "arena operands under the ts backend");
});

test("wasm tanh layer is bit for bit the plain-TS tanh (branches, ±0, ±∞, NaN, 0.625 and 22)", {
  skip,
}, () => {
  const net = new Mlp({ sizes: [1, 1], activations: ["tanh"] });
  const params = Float64Array.of(1, 0);
  const xs = [0, -0, 5e-324, -1e-300, 0.625, -0.625, 0.6249999999999999, 22, -22, 22.000000000000004];
  xs.push(19.1, -19.1, 1e308, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN, 0.3, 1.7);
  const rng = Rng.fromSeed(10);
  for (let i = 0; i < 20000; i++) xs.push(rng.normal() * 2 ** (12 * rng.uniform() - 6));
  for (let i = 0; i < 500; i++) xs.push(0.625 * (1 + 1e-14 * rng.normal()), -22 * (1 + 1e-14 * rng.normal()));
  xs.push(0.1); // odd count: the scalar tail of the kernel
  const X = Float64Array.from(xs);
  const run = (b: KernelBackend) =>
    withBackend(b, () => {
      const ws = net.workspace();
      const out = Float64Array.from(net.forward(params, X, X.length, ws));
      return { out, d: Float64Array.from(ws.d[1].subarray(0, X.length)), arena: ws.arena !== null };
    });
  const ts = run("ts");
  const wasm = run("wasm");
  assert.equal(ts.arena, false, "ts backend: plain buffers");
  assert.equal(wasm.arena, true, "wasm backend: buffers in an arena");
  for (let i = 0; i < X.length; i++) {
    assert.ok(Object.is(wasm.out[i], ts.out[i]), `tanh(${X[i]}): ${wasm.out[i]} vs ${ts.out[i]}`);
    assert.ok(Object.is(wasm.d[i], ts.d[i]), `tanh'(${X[i]}): ${wasm.d[i]} vs ${ts.d[i]}`);
  }
});

/** forward, backward (grad, dX), jvp (v, xDot), hvp (grad, xDot) of one network under one backend. */
function allPasses(b: KernelBackend, spec: MlpSpec, n: number, seed: number) {
  return withBackend(b, () => {
    const net = new Mlp(spec);
    const rng = Rng.fromSeed(seed);
    const params = net.init(rng);
    for (let i = 0; i < params.length; i++) params[i] += 0.1 * rng.normal(); // nonzero biases
    const X = randn(rng, n * net.inSize);
    const v = randn(rng, net.nParams);
    const xDot = randn(rng, n * net.inSize);
    const targets = randn(rng, n * net.outSize);
    const ws = net.workspace();
    const out = Float64Array.from(net.forward(params, X, n, ws));
    const loss = squaredErrorLoss(out, targets, n, net.outSize);
    const grad = new Float64Array(net.nParams).fill(0.5); // accumulates onto existing values
    const dX = new Float64Array(n * net.inSize);
    net.backward(params, ws, loss.grad, grad, dX);
    const jv = Float64Array.from(net.jvp(params, ws, v, xDot));
    const jx = Float64Array.from(net.jvp(params, ws, null, xDot));
    const hv = new Float64Array(net.nParams);
    const hgrad = new Float64Array(net.nParams);
    net.hvp(params, ws, v, loss.grad, loss.hess, hv, { grad: hgrad });
    const hx = new Float64Array(net.nParams);
    net.hvp(params, ws, v, loss.grad, loss.hess, hx, { xDot });
    return { out, grad, dX, jv, jx, hv, hgrad, hx, arena: ws.arena !== null };
  });
}

test("Mlp passes agree between the ts and wasm backends (1e-12), at edge batch sizes", { skip }, () => {
  const specs: MlpSpec[] = [
    { sizes: [4, 64, 64, 2], activations: ["tanh", "tanh", "linear"] },
    { sizes: [3, 5, 7, 2], activations: ["softplus", "relu", "tanh"] },
    { sizes: [65, 3, 1], activations: ["tanh", "linear"] },
  ];
  for (const spec of specs)
    for (const n of [1, 3, 129, 300]) {
      const ts = allPasses("ts", spec, n, n);
      const wasm = allPasses("wasm", spec, n, n);
      assert.ok(!ts.arena && wasm.arena, "buffers: plain under ts, arena under wasm");
      for (const key of ["out", "grad", "dX", "jv", "jx", "hv", "hgrad", "hx"] as const) {
        const e = relativeError(wasm[key], ts[key]);
        assert.ok(e < 1e-12, `${spec.sizes.join("→")} n=${n} ${key}: relative error ${e}`);
      }
    }
});

test("workspace growth allocates a new arena (never grows a memory): earlier views stay valid", {
  skip,
}, () => {
  withBackend("wasm", () => {
    const spec: MlpSpec = { sizes: [4, 64, 64, 2], activations: ["tanh", "tanh", "linear"] };
    const net = new Mlp(spec);
    const rng = Rng.fromSeed(11);
    const params = net.init(rng);
    const ws = net.workspace();
    const other = net.workspace();
    const check = (n: number, seed: number) => {
      const r = Rng.fromSeed(seed);
      const X = randn(r, n * 4);
      const v = randn(r, net.nParams);
      const gOut = randn(r, n * 2);
      const out = net.forward(params, X, n, ws);
      net.forward(params, X, n, other); // the other workspace grows in between
      const hv = new Float64Array(net.nParams);
      net.hvp(params, ws, v, gOut, (x, y) => y.set(x), hv);
      const ref = allPassesRef(net, params, X, v, gOut, n);
      assert.ok(relativeError(Float64Array.from(out), ref.out) < 1e-12, `forward after growth to ${n}`);
      assert.ok(relativeError(hv, ref.hv) < 1e-12, `hvp after growth to ${n}`);
      return out;
    };
    const out10 = check(10, 1);
    const kept = Float64Array.from(out10);
    const arena10 = ws.arena;
    const bytes10 = arena10?.memory.buffer.byteLength;
    check(5000, 2); // capacity grows: a new arena
    assert.notEqual(ws.arena, arena10, "a larger batch gets a new arena");
    assert.equal(arena10?.memory.buffer.byteLength, bytes10, "the old memory was not grown");
    assert.equal(out10.length, 20, "an earlier output view is not detached");
    assert.deepEqual(Array.from(out10), Array.from(kept), "and still holds its numbers");
    const arena5000 = ws.arena;
    const bytes5000 = arena5000?.memory.buffer.byteLength;
    check(20, 3); // smaller batch: same arena
    check(5000, 4);
    assert.equal(ws.arena, arena5000, "a smaller or equal batch reuses the arena");
    assert.equal(arena5000?.memory.buffer.byteLength, bytes5000, "and never grows its memory");
  });
});

/** forward and hvp (identity output Hessian) on plain buffers with the TS kernel. */
function allPassesRef(
  net: Mlp,
  params: Float64Array,
  X: Float64Array,
  v: Float64Array,
  gOut: Float64Array,
  n: number,
) {
  return withBackend("ts", () => {
    const ws = net.workspace();
    const out = Float64Array.from(net.forward(params, X, n, ws));
    const hv = new Float64Array(net.nParams);
    net.hvp(params, ws, v, gOut, (x, y) => y.set(x), hv);
    return { out, hv };
  });
}

test("hvp reuses the last jvp's tangents only when params and v are unchanged (both backends)", () => {
  for (const b of ["ts", "wasm"] as const) {
    if (b === "wasm" && !wasmAvailable()) continue;
    withBackend(b, () => {
      const spec: MlpSpec = { sizes: [3, 16, 2], activations: ["tanh", "linear"] };
      const net = new Mlp(spec);
      const rng = Rng.fromSeed(12);
      const params = net.init(rng);
      const n = 33;
      const X = randn(rng, n * 3);
      const acts = randn(rng, n * 2);
      const fresh = (p: Float64Array, v: Float64Array) => {
        const w = net.workspace();
        const mu = net.forward(p, X, n, w);
        const l = gaussianLogProbLoss(mu, acts, [0.5, 0.7], n, 2);
        const hv = new Float64Array(net.nParams);
        net.hvp(p, w, v, l.grad, l.hess, hv);
        return hv;
      };
      const ws = net.workspace();
      const mu = net.forward(params, X, n, ws);
      const l = gaussianLogProbLoss(mu, acts, [0.5, 0.7], n, 2);
      const v = randn(rng, net.nParams);
      // same v: the jvp's tangents are reused; the result is the same numbers as a fresh computation
      net.jvp(params, ws, v);
      const hv1 = new Float64Array(net.nParams);
      net.hvp(params, ws, v, l.grad, l.hess, hv1);
      assert.deepEqual(Array.from(hv1), Array.from(fresh(params, v)), `${b}: reuse gives identical numbers`);
      // v changed in place after the jvp: recomputed
      net.jvp(params, ws, v);
      v[5] += 1;
      const hv2 = new Float64Array(net.nParams);
      net.hvp(params, ws, v, l.grad, l.hess, hv2);
      assert.deepEqual(Array.from(hv2), Array.from(fresh(params, v)), `${b}: v changed → recomputed`);
      // −0 vs +0 in v counts as a change too (conservative), NaN never matches
      v[0] = 0;
      net.jvp(params, ws, v);
      v[0] = -0;
      const hv3 = new Float64Array(net.nParams);
      net.hvp(params, ws, v, l.grad, l.hess, hv3);
      assert.deepEqual(Array.from(hv3), Array.from(fresh(params, v)), `${b}: −0 handled`);
      // a null direction after a non-null one: recomputed (R{out} = 0)
      const r0 = net.jvp(params, ws, null);
      assert.ok(
        r0.every((x) => x === 0),
        `${b}: jvp with v = null and no xDot is zero`,
      );
    });
  }
});

test("setKernelBackend validates its argument; the backend is one of ts / wasm", () => {
  assert.throws(() => setKernelBackend("gpu" as KernelBackend), RangeError, "unknown backend");
  assert.ok(["ts", "wasm"].includes(kernelBackend()), "current backend is ts or wasm");
  if (!wasmAvailable())
    assert.throws(() => setKernelBackend("wasm"), /unavailable/, "wasm unavailable throws");
});

test("SIM2REAL_KERNEL and a missing .wasm file: fallback to ts, or an error when wasm is required", () => {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const probe = (env: Record<string, string>) =>
    spawnSync(
      process.execPath,
      [
        "--import",
        "tsx",
        "--input-type=module",
        "-e",
        "const m = await import('./src/nn/wasm.ts'); console.log(JSON.stringify([m.kernelBackend(), m.wasmAvailable()]));",
      ],
      { cwd: root, encoding: "utf8", env: { ...process.env, SIM2REAL_KERNEL: "", ...env } },
    );
  const missing = { SIM2REAL_KERNEL_WASM: "/nonexistent/nn-kernels.wasm" };
  const fallback = probe(missing);
  assert.equal(fallback.status, 0, `missing file: exit 0 (${fallback.stderr})`);
  assert.deepEqual(JSON.parse(fallback.stdout), ["ts", false], "missing file: ts backend, wasm unavailable");
  const forcedTs = probe({ SIM2REAL_KERNEL: "ts" });
  assert.equal(forcedTs.status, 0, `SIM2REAL_KERNEL=ts: exit 0 (${forcedTs.stderr})`);
  assert.equal(JSON.parse(forcedTs.stdout)[0], "ts", "SIM2REAL_KERNEL=ts forces the ts backend");
  const required = probe({ ...missing, SIM2REAL_KERNEL: "wasm" });
  assert.notEqual(required.status, 0, "SIM2REAL_KERNEL=wasm with no kernels fails at load");
  assert.match(required.stderr, /SIM2REAL_KERNEL=wasm/, "with a message naming the variable");
});
