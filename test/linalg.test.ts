import assert from "node:assert/strict";
import { test } from "node:test";
import { LuDecomposition, Matrix } from "ml-matrix";
import { fromMatrix, Lu, relativeError, toMatrix } from "../src/math/linalg.ts";
import { Rng } from "../src/math/rng.ts";

test("Lu solves A X = B and Aᵀ x = b like ml-matrix (random, pivoting-heavy and ill-scaled matrices)", () => {
  const rng = Rng.fromSeed(1);
  for (const n of [1, 2, 5, 17, 60]) {
    for (const kind of ["random", "permuted", "scaled"]) {
      const a = new Float64Array(n * n).map(() => rng.normal());
      if (kind === "permuted") for (let i = 0; i < n; i++) a[i * n + ((i + 1) % n)] += 50; // large off-diagonal
      if (kind === "scaled")
        for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j] *= 10 ** (i % 4);
      const b = new Float64Array(n * 3).map(() => rng.normal());
      const ref = new LuDecomposition(toMatrix(a, n, n));
      const x = new Lu(a, n).solve(b, 3);
      assert.ok(relativeError(x, fromMatrix(ref.solve(toMatrix(b, n, 3)))) < 1e-10, `${kind} ${n}`);
      const bt = b.subarray(0, n);
      const xt = new Lu(a, n).solveTransposed(bt);
      const refT = new LuDecomposition(toMatrix(a, n, n).transpose()).solve(
        Matrix.columnVector(Array.from(bt)),
      );
      assert.ok(relativeError(xt, fromMatrix(refT)) < 1e-10, `transposed ${kind} ${n}`);
    }
  }
  assert.throws(() => new Lu([1, 2, 2, 4], 2), /singular/);
});

test("Lu.logAbsDet equals log |det| from ml-matrix's LU", () => {
  const rng = Rng.fromSeed(11);
  for (const n of [1, 2, 5, 12]) {
    const a = Float64Array.from({ length: n * n }, () => rng.normal());
    const ref = Math.log(Math.abs(new LuDecomposition(toMatrix(a, n, n)).determinant));
    const got = new Lu(a, n).logAbsDet();
    assert.ok(Math.abs(got - ref) < 1e-12 * Math.max(1, Math.abs(ref)), `n = ${n}: ${got} vs ${ref}`);
  }
});
