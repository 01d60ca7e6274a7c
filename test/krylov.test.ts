import assert from "node:assert/strict";
import { test } from "node:test";
import {
  bicgstab,
  conjugateGradient,
  denseOperator,
  gmres,
  type KrylovResult,
  type LinearOperator,
  neumannSolve,
  solveLinear,
} from "../src/math/krylov.ts";
import { Lu, norm, relativeError } from "../src/math/linalg.ts";
import { Rng } from "../src/math/rng.ts";

const n = 50;

function gaussian(rng: Rng, rows: number, cols = rows): Float64Array {
  return new Float64Array(rows * cols).map(() => rng.normal());
}

/** c·I + s·G/√n: eigenvalues in the disk of radius ≈ 2s around c (circular law), nonsymmetric. */
function shiftedRandom(rng: Rng, c: number, s: number): Float64Array {
  const a = gaussian(rng, n);
  for (let i = 0; i < n * n; i++) a[i] *= s / Math.sqrt(n);
  for (let i = 0; i < n; i++) a[i * n + i] += c;
  return a;
}

/** Symmetric W/√n with W = (G + Gᵀ)/√2: spectrum ≈ [−2, 2] (semicircle), indefinite. */
function wigner(rng: Rng): Float64Array {
  const g = gaussian(rng, n);
  const w = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) w[i * n + j] = (g[i * n + j] + g[j * n + i]) / Math.sqrt(2 * n);
  return w;
}

/** G Gᵀ/n + 0.1 I: symmetric positive definite, condition number ≈ 40. */
function spd(rng: Rng): Float64Array {
  const g = gaussian(rng, n);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let k = 0; k < n; k++) acc += g[i * n + k] * g[j * n + k];
      a[i * n + j] = acc / n + (i === j ? 0.1 : 0);
    }
  return a;
}

function plusDiagonal(a: Float64Array, lambda: number): Float64Array {
  const out = a.slice();
  for (let i = 0; i < n; i++) out[i * n + i] += lambda;
  return out;
}

/** Dense operator that counts its calls and checks it is used only through (x, out). */
function counted(a: Float64Array, size = n, transpose = false): { op: LinearOperator; calls: () => number } {
  const inner = denseOperator(a, size, transpose);
  let calls = 0;
  const op: LinearOperator = (x, out) => {
    assert.ok(x instanceof Float64Array && out instanceof Float64Array && x !== out);
    assert.equal(x.length, size);
    assert.equal(out.length, size);
    calls++;
    out.fill(Number.NaN); // `out` must be fully overwritten, never read
    inner(x, out);
  };
  return { op, calls: () => calls };
}

function allFinite(x: ArrayLike<number>): boolean {
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i])) return false;
  return true;
}

function summary(name: string, r: KrylovResult, err: number): string {
  return `${name}: ${r.iterations} it, ${r.operatorApplications} products, relres ${r.relativeResidual.toExponential(2)}, error vs LU ${err.toExponential(2)}`;
}

test("GMRES and BiCGSTAB match a dense LU solve on a nonsymmetric 50×50 system to 1e-8 (A x = b and Aᵀ x = b)", (t) => {
  const rng = Rng.fromSeed(11);
  const a = shiftedRandom(rng, 1.5, 1);
  const b = gaussian(rng, n, 1);
  const lu = new Lu(a, n);
  for (const transpose of [false, true]) {
    const ref = transpose ? lu.solveTransposed(b) : lu.solve(b);
    for (const [name, solve] of [
      ["gmres", gmres],
      ["bicgstab", bicgstab],
    ] as const) {
      const { op, calls } = counted(a, n, transpose);
      const r = solve(op, b);
      const err = relativeError(r.x, ref);
      t.diagnostic(summary(`${name}${transpose ? " (Aᵀ)" : ""}`, r, err));
      assert.ok(r.converged, `${name} ${r.reason}`);
      assert.equal(r.reason, "converged");
      assert.ok(r.relativeResidual <= 1e-10);
      assert.ok(err < 1e-8, `${name} error ${err}`);
      assert.equal(r.operatorApplications, calls());
      assert.equal(r.history.length, r.iterations + 1);
    }
  }
});

test("IFT outer gradient −J_θᵀ J_φ⁻ᵀ g: GMRES on vector-Jacobian products matches the dense solve to 1e-8; Neumann K = 1 error reported", (t) => {
  const rng = Rng.fromSeed(12);
  const p = 7;
  // J_φ ≈ a negative-definite Hessian (symmetric part spectrum ⊂ −[0.6, 1.4]) plus a nonsymmetric estimate error.
  const w = wigner(rng);
  const e = gaussian(rng, n);
  const jPhi = new Float64Array(n * n);
  for (let i = 0; i < n * n; i++) jPhi[i] = -0.2 * w[i] + (0.05 * e[i]) / Math.sqrt(n);
  for (let i = 0; i < n; i++) jPhi[i * n + i] -= 1;
  const jTheta = gaussian(rng, n, p);
  const g = gaussian(rng, n, 1);
  const outer = (u: Float64Array): Float64Array => {
    const out = new Float64Array(p);
    for (let i = 0; i < n; i++) for (let k = 0; k < p; k++) out[k] -= jTheta[i * p + k] * u[i];
    return out;
  };
  const dense = outer(new Lu(jPhi, n).solveTransposed(g));
  const vjp = denseOperator(jPhi, n, true);
  const krylov = gmres(vjp, g);
  const errKrylov = relativeError(outer(krylov.x), dense);
  assert.ok(krylov.converged && errKrylov < 1e-8, `Krylov IFT error ${errKrylov}`);
  // CG needs SPD: the negated system (−J_φᵀ) u = −g has the same solution; here only the symmetric part.
  const sym = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) sym[i * n + j] = -(jPhi[i * n + j] + jPhi[j * n + i]) / 2;
  const cg = conjugateGradient(
    denseOperator(sym, n),
    g.map((v) => -v),
  );
  const symRef = new Lu(sym, n).solve(g.map((v) => -v));
  assert.ok(cg.converged && relativeError(cg.x, symRef) < 1e-8);
  // One damped step u ≈ α g (K = 1, no Hessian) and a few more Neumann terms, α = −1/1.4.
  const errs: string[] = [];
  let previous = Number.POSITIVE_INFINITY;
  for (const terms of [1, 2, 5, 20, 60]) {
    const r = neumannSolve(vjp, g, { alpha: -1 / 1.4, terms, tol: 0 });
    const err = relativeError(outer(r.x), dense);
    errs.push(`K=${terms}: ${err.toExponential(2)}`);
    assert.ok(err < previous, "Neumann error should fall with K for this contraction");
    previous = err;
  }
  assert.ok(previous < 1e-8);
  t.diagnostic(
    `Krylov IFT: ${krylov.iterations} it, error ${errKrylov.toExponential(2)}; Neumann outer-gradient error ${errs.join(", ")}`,
  );
});

test("CG matches LU on a 50×50 SPD system to 1e-8; Jacobi preconditioning helps a badly scaled one", (t) => {
  const rng = Rng.fromSeed(13);
  const a = spd(rng);
  const b = gaussian(rng, n, 1);
  const ref = new Lu(a, n).solve(b);
  const { op, calls } = counted(a);
  const r = conjugateGradient(op, b);
  const err = relativeError(r.x, ref);
  t.diagnostic(summary("cg", r, err));
  assert.ok(r.converged && err < 1e-8, `cg error ${err}`);
  assert.equal(calls(), r.iterations + 1); // + the true-residual confirmation

  // D A D with D = 10^(i mod 3): symmetric scaling, fixed by the Jacobi preconditioner.
  const scaled = a.slice();
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) scaled[i * n + j] *= 10 ** (i % 3) * 10 ** (j % 3);
  const refScaled = new Lu(scaled, n).solve(b);
  const jacobi: LinearOperator = (x, out) => {
    for (let i = 0; i < n; i++) out[i] = x[i] / scaled[i * n + i];
  };
  const plain = conjugateGradient(denseOperator(scaled, n), b, { maxIterations: 2000 });
  const pre = conjugateGradient(denseOperator(scaled, n), b, { preconditioner: jacobi });
  t.diagnostic(`scaled SPD: cg ${plain.iterations} it, Jacobi-pcg ${pre.iterations} it`);
  assert.ok(pre.converged && relativeError(pre.x, refScaled) < 1e-8);
  assert.ok(pre.iterations < plain.iterations);
});

test("right preconditioning: GMRES and BiCGSTAB with Jacobi on a column-scaled nonsymmetric system", (t) => {
  const rng = Rng.fromSeed(14);
  const a = shiftedRandom(rng, 2, 1);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j] *= 10 ** (j % 4);
  const b = gaussian(rng, n, 1);
  const ref = new Lu(a, n).solve(b);
  const jacobi: LinearOperator = (x, out) => {
    for (let i = 0; i < n; i++) out[i] = x[i] / a[i * n + i];
  };
  const op = denseOperator(a, n);
  const plain = gmres(op, b, { restart: 20, maxIterations: 400 });
  const g = gmres(op, b, { restart: 20, preconditioner: jacobi });
  const bi = bicgstab(op, b, { preconditioner: jacobi });
  t.diagnostic(
    `column-scaled: gmres(20) ${plain.iterations} it (${plain.reason}), preconditioned gmres(20) ${g.iterations} it, bicgstab ${bi.iterations} it`,
  );
  assert.ok(g.converged && relativeError(g.x, ref) < 1e-8);
  assert.ok(bi.converged && relativeError(bi.x, ref) < 1e-8);
  assert.ok(g.iterations < plain.iterations);
});

test("damping λ: every method solves (A + λI) x = b like LU of the damped matrix", (t) => {
  const rng = Rng.fromSeed(15);
  const b = gaussian(rng, n, 1);
  // Indefinite symmetric (spectrum ≈ [−2, 2]); λ = 3 makes it SPD, so CG applies too.
  const w = wigner(rng);
  const refW = new Lu(plusDiagonal(w, 3), n).solve(b);
  const lines: string[] = [];
  for (const method of ["gmres", "bicgstab", "cg"] as const) {
    const r = solveLinear(denseOperator(w, n), b, { method, damping: 3 });
    const err = relativeError(r.x, refW);
    lines.push(`${method} ${err.toExponential(2)}`);
    assert.ok(r.converged && err < 1e-8, `${method} damped error ${err}`);
  }
  // Without damping CG refuses the indefinite operator instead of producing garbage.
  const undamped = conjugateGradient(denseOperator(w, n), b);
  assert.equal(undamped.reason, "indefinite");
  assert.ok(!undamped.converged && allFinite(undamped.x));
  // Nonsymmetric, poorly conditioned (spectrum disk touching 0) with λ = 0.5.
  const a = shiftedRandom(rng, 0.3, 1);
  const refA = new Lu(plusDiagonal(a, 0.5), n).solve(b);
  for (const method of ["gmres", "bicgstab"] as const) {
    const r = solveLinear(denseOperator(a, n), b, { method, damping: 0.5, x0: refA.map((v) => v + 1) });
    const err = relativeError(r.x, refA);
    lines.push(`${method} (nonsymmetric, x0) ${err.toExponential(2)}`);
    assert.ok(r.converged && err < 1e-8, `${method} damped error ${err}`);
  }
  t.diagnostic(`damped errors vs LU: ${lines.join(", ")}`);
});

test("GMRES(m) with m < n converges; its residual history never increases", (t) => {
  const rng = Rng.fromSeed(16);
  const a = shiftedRandom(rng, 2, 1);
  const b = gaussian(rng, n, 1);
  const ref = new Lu(a, n).solve(b);
  for (const [restart, reorthogonalize] of [
    [5, "auto"],
    [10, "never"],
    [10, "always"],
    [n, "auto"],
  ] as const) {
    const { op, calls } = counted(a);
    let callbacks = 0;
    const r = gmres(op, b, { restart, reorthogonalize, onIteration: () => void callbacks++ });
    const err = relativeError(r.x, ref);
    t.diagnostic(summary(`gmres(${restart}, ${reorthogonalize})`, r, err));
    assert.ok(r.converged && err < 1e-8, `restart ${restart}: ${r.reason} ${err}`);
    assert.equal(callbacks, r.iterations);
    for (let k = 1; k < r.history.length; k++)
      assert.ok(
        r.history[k] <= r.history[k - 1] + 1e-14,
        `history rises at ${k}: ${r.history.slice(k - 1, k + 1)}`,
      );
    // One product per iteration plus one true residual per restart cycle.
    const cycles = calls() - r.iterations;
    assert.ok(cycles >= 1 && cycles <= Math.ceil(r.iterations / restart) + 1, `${cycles} cycles`);
  }
});

test("singular, indefinite and broken operators stop with a reason and a finite x, never NaN", () => {
  const rng = Rng.fromSeed(17);
  const b = gaussian(rng, n, 1);
  // Rank-deficient: A = G with its last row zeroed, b has a component outside the range.
  const sing = gaussian(rng, n);
  sing.fill(0, (n - 1) * n);
  for (const method of ["gmres", "bicgstab"] as const) {
    const r = solveLinear(denseOperator(sing, n), b, { method, maxIterations: 300 });
    assert.ok(!r.converged, method);
    assert.ok(["stagnation", "breakdown", "maxIterations"].includes(r.reason), `${method}: ${r.reason}`);
    assert.ok(allFinite(r.x) && Number.isFinite(r.residualNorm), method);
    // The component of b outside range(A) is a floor for every residual; GMRES reaches it, and
    // neither returns an x worse than x0 = 0.
    assert.ok(r.residualNorm >= Math.abs(b[n - 1]) * (1 - 1e-12));
    assert.ok(r.relativeResidual <= 1);
    if (method === "gmres") assert.ok(r.residualNorm <= Math.abs(b[n - 1]) * (1 + 1e-8));
  }
  // Nilpotent [[0, 1], [0, 0]], b = e₂: A b = e₁ ⟂ b and A² = 0: GMRES hits an invariant subspace.
  const nil = gmres(denseOperator([0, 1, 0, 0], 2), [0, 1]);
  assert.equal(nil.reason, "breakdown");
  assert.ok(nil.detail !== undefined && allFinite(nil.x) && nil.residualNorm === 1);
  // Rotation [[0, 1], [−1, 0]], b = e₁: (r̂, A r) = 0 at once, so BiCGSTAB breaks down; GMRES solves it.
  const rot = denseOperator([0, 1, -1, 0], 2);
  for (const onBreakdown of ["restart", "fail"] as const) {
    const bi = bicgstab(rot, [1, 0], { onBreakdown });
    assert.equal(bi.reason, "breakdown");
    assert.match(bi.detail ?? "", /A p/);
    assert.ok(!bi.converged && allFinite(bi.x));
  }
  const gm = gmres(rot, [1, 0]);
  assert.ok(gm.converged && relativeError(gm.x, [0, 1]) < 1e-15);
  // CG on an indefinite operator: [[1, 0], [0, −1]] with b = (1, 1) has pᵀAp = 0.
  const cg = conjugateGradient(denseOperator([1, 0, 0, -1], 2), [1, 1]);
  assert.equal(cg.reason, "indefinite");
  assert.ok(allFinite(cg.x));
  // An operator that returns NaN after a few calls: every method reports it and keeps a finite x.
  const a = shiftedRandom(rng, 2, 1);
  const inner = denseOperator(a, n);
  for (const method of ["gmres", "bicgstab", "cg"] as const) {
    let calls = 0;
    const flaky: LinearOperator = (x, out) => {
      inner(x, out);
      if (++calls > 3) out[0] = Number.NaN;
    };
    const r = solveLinear(flaky, b, { method });
    assert.equal(r.reason, "nonFinite", method);
    assert.ok(allFinite(r.x) && Number.isFinite(r.residualNorm), method);
  }
  let neumannCalls = 0;
  const blowUp: LinearOperator = (x, out) => {
    inner(x, out);
    if (++neumannCalls > 1) out.fill(Number.POSITIVE_INFINITY);
  };
  const nr = neumannSolve(blowUp, b, { alpha: 0.3, terms: 3 });
  assert.equal(nr.reason, "nonFinite");
  assert.ok(
    nr.iterations === 1 &&
      relativeError(
        nr.x,
        b.map((v) => 0.3 * v),
      ) < 1e-15,
  );
});

test("Neumann series: converges to the dense solution for a contraction, with error ≤ ‖I − αA‖^K; K = 1 reported", (t) => {
  const rng = Rng.fromSeed(18);
  const a = shiftedRandom(rng, 1, 0.3); // A = I + E, ‖E‖₂ ≈ 0.6
  const b = gaussian(rng, n, 1);
  const ref = new Lu(a, n).solve(b);
  const alpha = 1;
  // q = ‖I − αA‖₂ by power iteration on (I − αA)ᵀ(I − αA).
  const m = a.map((v) => -alpha * v);
  for (let i = 0; i < n; i++) m[i * n + i] += 1;
  const mOp = denseOperator(m, n);
  const mtOp = denseOperator(m, n, true);
  let v = gaussian(rng, n, 1);
  const tmp = new Float64Array(n);
  const next = new Float64Array(n);
  let q = 0;
  for (let k = 0; k < 500; k++) {
    mOp(v, tmp);
    mtOp(tmp, next);
    q = Math.sqrt(norm(next) / norm(v));
    v = next.map((x) => x / norm(next));
  }
  assert.ok(q < 1, `‖I − αA‖ = ${q}`);
  const errs: string[] = [];
  for (const terms of [1, 2, 5, 10, 80]) {
    const { op, calls } = counted(a);
    const r = neumannSolve(op, b, { alpha, terms, tol: 0 });
    const err = relativeError(r.x, ref);
    errs.push(`K=${terms}: ${err.toExponential(2)}`);
    assert.ok(err <= q ** terms * (1 + 1e-9) + 1e-14, `K=${terms}: ${err} > ${q ** terms}`);
    assert.equal(calls(), terms);
    assert.equal(r.iterations, terms);
    assert.equal(r.history.length, terms + 1);
    if (terms === 1) assert.ok(relativeError(r.x, b) < 1e-15); // α b, A never used
    if (terms === 80) assert.ok(err < 1e-8);
  }
  // With a tolerance it stops early and says so.
  const early = neumannSolve(denseOperator(a, n), b, { alpha, terms: 500 });
  assert.ok(early.converged && early.iterations < 500 && relativeError(early.x, ref) < 1e-8);
  t.diagnostic(
    `‖I − αA‖₂ = ${q.toFixed(3)}; Neumann error vs LU ${errs.join(", ")}; tol 1e-10 after ${early.iterations} terms`,
  );
});

test("operators are used only through (x, out): products counted match iterations", () => {
  const rng = Rng.fromSeed(19);
  const a = shiftedRandom(rng, 2, 1);
  const sym = spd(rng);
  const b = gaussian(rng, n, 1);
  const x0 = gaussian(rng, n, 1);
  const bCopy = b.slice();
  const x0Copy = x0.slice();
  for (const withX0 of [false, true]) {
    const extra = withX0 ? 1 : 0; // the initial residual b − A x0
    const opts = withX0 ? { x0 } : {};
    const g = counted(a);
    const rg = gmres(g.op, b, opts);
    assert.ok(rg.converged);
    assert.equal(g.calls(), rg.operatorApplications);
    assert.equal(g.calls(), rg.iterations + 1 + extra); // one cycle (restart 50 = n) + its true residual
    const bi = counted(a);
    const rb = bicgstab(bi.op, b, opts);
    assert.ok(rb.converged);
    assert.equal(bi.calls(), rb.operatorApplications);
    // Two products per iteration (one if it stops at the half step) + the true-residual check(s).
    assert.ok(bi.calls() >= 2 * rb.iterations + extra && bi.calls() <= 2 * rb.iterations + 2 + extra);
    const c = counted(sym);
    const rc = conjugateGradient(c.op, b, opts);
    assert.ok(rc.converged);
    assert.equal(c.calls(), rc.iterations + 1 + extra);
  }
  assert.deepEqual(b, bCopy);
  assert.deepEqual(x0, x0Copy);
});

test("solveLinear, edge cases and options", () => {
  const rng = Rng.fromSeed(20);
  const a = shiftedRandom(rng, 2, 1);
  const op = denseOperator(a, n);
  const b = gaussian(rng, n, 1);
  const ref = new Lu(a, n).solve(b);
  assert.ok(relativeError(solveLinear(op, b).x, ref) < 1e-8); // default method: GMRES
  // b = 0 → x = 0 without any product, whatever x0 was.
  const zero = solveLinear(op, new Float64Array(n), { method: "bicgstab", x0: b });
  assert.ok(zero.converged && zero.operatorApplications === 0 && norm(zero.x) === 0);
  // x0 already the solution: no iteration.
  const warm = gmres(op, b, { x0: ref, tol: 1e-8 });
  assert.ok(warm.converged && warm.iterations === 0);
  // The budget is honoured and reported.
  const capped = gmres(op, b, { maxIterations: 3 });
  assert.ok(!capped.converged && capped.reason === "maxIterations" && capped.iterations === 3);
  assert.ok(capped.relativeResidual < 1 && capped.relativeResidual > 1e-10);
  // onIteration returning false stops.
  const stopped = bicgstab(op, b, { onIteration: (k) => k < 2 });
  assert.ok(stopped.reason === "stopped" && stopped.iterations === 2);
  // A plain number[] right-hand side works.
  assert.ok(relativeError(gmres(op, Array.from(b)).x, ref) < 1e-8);
  assert.throws(() => gmres(op, b, { damping: -1 }), RangeError);
  assert.throws(() => gmres(op, b, { restart: 0 }), RangeError);
  assert.throws(() => bicgstab(op, b, { x0: [1, 2] }), RangeError);
  assert.throws(() => conjugateGradient(op, [Number.NaN, ...b.slice(1)]), RangeError);
  assert.throws(() => neumannSolve(op, b, { alpha: 0 }), RangeError);
});
