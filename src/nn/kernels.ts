/**
 * Dense matrix products for src/nn: the plain-TypeScript reference kernel and the dispatcher that runs
 * the WebAssembly SIMD kernel (wasm.ts, asm/gemm.ts) when its operands live in one KernelArena.
 *
 * Both add the terms of each sum in the same order (neither uses fused multiply-adds), except that the
 * SIMD kernel adds a long sum into C in chunks of 128 terms: products with k ≤ 128 agree bit for bit,
 * longer ones to rounding (tested to 1e-12 of Σ|a·b|, test/nn-kernels.test.ts).
 */
import { arenaOf, type KernelArena, kernelBackend } from "./wasm.ts";

// ---- Dense kernel (plain TS). One strided matrix product serves the forward pass, the weight gradients
// and the input-side gradients. Blocks of 4 rows × 2 columns keep 8 sums in registers, so each loaded
// number feeds 2–4 multiply-adds; this reaches ≈ 2.2 GMAC/s here, the plain-JS ceiling DESIGN §3 measured
// (a 4×4 block was no faster, 2×2 was 40% slower, the naive triple loop 3× slower). ----

/**
 * C[cOff + r·crs + j·cjs] (+)= Σ_p A[aOff + r·ars + p·aps] · B[bOff + j·bjs + p·bps], r < m, j < n, p < k.
 * Overwrites C unless `accumulate`.
 */
export function gemmTs(
  m: number,
  n: number,
  k: number,
  A: Float64Array,
  aOff: number,
  ars: number,
  aps: number,
  B: Float64Array,
  bOff: number,
  bjs: number,
  bps: number,
  C: Float64Array,
  cOff: number,
  crs: number,
  cjs: number,
  accumulate: boolean,
): void {
  const m4 = m - (m % 4);
  const n2 = n - (n % 2);
  for (let r = 0; r < m4; r += 4) {
    const a0 = aOff + r * ars;
    const a1 = a0 + ars;
    const a2 = a1 + ars;
    const a3 = a2 + ars;
    for (let j = 0; j < n2; j += 2) {
      // running indices instead of p·stride: fewer live registers in the hot loop (≈ 7% faster)
      let ia = a0;
      let ib = bOff + j * bjs;
      let s00 = 0;
      let s10 = 0;
      let s20 = 0;
      let s30 = 0;
      let s01 = 0;
      let s11 = 0;
      let s21 = 0;
      let s31 = 0;
      for (let p = 0; p < k; p++) {
        const w0 = B[ib];
        const w1 = B[ib + bjs];
        const x0 = A[ia];
        const x1 = A[ia + ars];
        const x2 = A[ia + 2 * ars];
        const x3 = A[ia + 3 * ars];
        s00 += x0 * w0;
        s10 += x1 * w0;
        s20 += x2 * w0;
        s30 += x3 * w0;
        s01 += x0 * w1;
        s11 += x1 * w1;
        s21 += x2 * w1;
        s31 += x3 * w1;
        ia += aps;
        ib += bps;
      }
      const c0 = cOff + r * crs + j * cjs;
      const c1 = c0 + cjs;
      if (accumulate) {
        C[c0] += s00;
        C[c0 + crs] += s10;
        C[c0 + 2 * crs] += s20;
        C[c0 + 3 * crs] += s30;
        C[c1] += s01;
        C[c1 + crs] += s11;
        C[c1 + 2 * crs] += s21;
        C[c1 + 3 * crs] += s31;
      } else {
        C[c0] = s00;
        C[c0 + crs] = s10;
        C[c0 + 2 * crs] = s20;
        C[c0 + 3 * crs] = s30;
        C[c1] = s01;
        C[c1 + crs] = s11;
        C[c1 + 2 * crs] = s21;
        C[c1 + 3 * crs] = s31;
      }
    }
    if (n2 < n) {
      // last odd column: 4 × 1
      const b0 = bOff + n2 * bjs;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let p = 0; p < k; p++) {
        const ap = p * aps;
        const w = B[b0 + p * bps];
        s0 += A[a0 + ap] * w;
        s1 += A[a1 + ap] * w;
        s2 += A[a2 + ap] * w;
        s3 += A[a3 + ap] * w;
      }
      const c0 = cOff + r * crs + n2 * cjs;
      if (accumulate) {
        C[c0] += s0;
        C[c0 + crs] += s1;
        C[c0 + 2 * crs] += s2;
        C[c0 + 3 * crs] += s3;
      } else {
        C[c0] = s0;
        C[c0 + crs] = s1;
        C[c0 + 2 * crs] = s2;
        C[c0 + 3 * crs] = s3;
      }
    }
  }
  // last m % 4 rows, one sum at a time
  for (let r = m4; r < m; r++) {
    const a0 = aOff + r * ars;
    for (let j = 0; j < n; j++) {
      const b0 = bOff + j * bjs;
      let s = 0;
      for (let p = 0; p < k; p++) s += A[a0 + p * aps] * B[b0 + p * bps];
      const c = cOff + r * crs + j * cjs;
      if (accumulate) C[c] += s;
      else C[c] = s;
    }
  }
}

/**
 * The arena x lives in, when the backend is "wasm" and `same` (the caller's check that every other
 * operand shares x's buffer); else undefined (use the TS code). No rest arguments: nothing allocated.
 */
function arenaFor(x: Float64Array, same: boolean): KernelArena | undefined {
  if (!same || kernelBackend() !== "wasm") return undefined;
  return arenaOf(x);
}

function outside(what: string): RangeError {
  return new RangeError(`${what}: an operand's extent reaches outside its array`);
}

/**
 * C[cOff + r·crs + j·cjs] (+)= Σ_p A[aOff + r·ars + p·aps] · B[bOff + j·bjs + p·bps], r < m, j < n, p < k.
 * Overwrites C unless `accumulate`; with `bias` (and biasOff), C = bias[biasOff + j] + Σ on every row
 * instead. Runs the WebAssembly kernel when the backend is "wasm", every array is a view of one
 * KernelArena, B and C are contiguous along j (bjs = cjs = 1) and the strides are ≥ 0; else the plain-TS
 * kernel. C must not overlap A, B or the bias.
 */
export function gemm(
  m: number,
  n: number,
  k: number,
  A: Float64Array,
  aOff: number,
  ars: number,
  aps: number,
  B: Float64Array,
  bOff: number,
  bjs: number,
  bps: number,
  C: Float64Array,
  cOff: number,
  crs: number,
  cjs: number,
  accumulate: boolean,
  bias?: Float64Array,
  biasOff = 0,
): void {
  if (m <= 0 || n <= 0) return;
  const buf = C.buffer;
  const arena = arenaFor(
    C,
    bjs === 1 &&
      cjs === 1 &&
      ars >= 0 &&
      aps >= 0 &&
      bps >= 0 &&
      crs >= 0 &&
      A.buffer === buf &&
      B.buffer === buf &&
      (bias === undefined || bias.buffer === buf),
  );
  if (arena !== undefined) {
    const kk = Math.max(k, 1);
    // The kernel trusts its arguments: check that every index it touches is inside the views.
    if (
      Math.min(aOff, bOff, cOff, biasOff) < 0 ||
      aOff + (m - 1) * ars + (kk - 1) * aps >= A.length ||
      bOff + (kk - 1) * bps + n - 1 >= B.length ||
      cOff + (m - 1) * crs + n - 1 >= C.length ||
      (bias !== undefined && biasOff + n > bias.length)
    )
      throw outside(`gemm ${m}×${n}×${k}`);
    arena.kernels.gemm(
      m,
      n,
      k,
      A.byteOffset + 8 * aOff,
      ars,
      aps,
      B.byteOffset + 8 * bOff,
      bps,
      C.byteOffset + 8 * cOff,
      crs,
      bias !== undefined ? 2 : accumulate ? 1 : 0,
      bias !== undefined ? bias.byteOffset + 8 * biasOff : 0,
    );
    return;
  }
  if (bias !== undefined) {
    for (let r = 0; r < m; r++) for (let j = 0; j < n; j++) C[cOff + r * crs + j * cjs] = bias[biasOff + j];
    accumulate = true;
  }
  gemmTs(m, n, k, A, aOff, ars, aps, B, bOff, bjs, bps, C, cOff, crs, cjs, accumulate);
}

/**
 * In place over len numbers: a → tanh(a), d = 1 − tanh² with the WebAssembly SIMD kernel (bit for bit the
 * plain-TS tanh of mlp.ts), when the backend is "wasm" and a and d are views of one KernelArena. Returns
 * false (nothing done) otherwise.
 */
export function tanhActivateWasm(a: Float64Array, d: Float64Array, len: number): boolean {
  const arena = arenaFor(a, a.buffer === d.buffer);
  if (arena === undefined) return false;
  if (len > a.length || len > d.length) throw outside("tanh");
  arena.kernels.tanhAct(a.byteOffset, d.byteOffset, len);
  return true;
}

/** out[outOff + j] = Σ_r A[r·n + j] (r < m, j < n) in WebAssembly, or false (nothing done). */
export function colSumsWasm(
  A: Float64Array,
  m: number,
  n: number,
  out: Float64Array,
  outOff: number,
): boolean {
  const arena = arenaFor(A, A.buffer === out.buffer);
  if (arena === undefined) return false;
  if (m * n > A.length || outOff < 0 || outOff + n > out.length) throw outside("colSums");
  arena.kernels.colSums(A.byteOffset, m, n, n, out.byteOffset + 8 * outOff);
  return true;
}

/** out[i] = x[i] · y[i], i < len, in WebAssembly, or false (nothing done). */
export function mulIntoWasm(out: Float64Array, x: Float64Array, y: Float64Array, len: number): boolean {
  const arena = arenaFor(out, out.buffer === x.buffer && out.buffer === y.buffer);
  if (arena === undefined) return false;
  if (len > out.length || len > x.length || len > y.length) throw outside("mulInto");
  arena.kernels.mulInto(out.byteOffset, x.byteOffset, y.byteOffset, len);
  return true;
}

/**
 * The R-backward step of Mlp.hvp, rδ = σ''(z) R{z} g + σ'(z) R{g} and δ = σ'(z) g over len numbers (code:
 * 0 tanh, 2 softplus, else σ'' = 0), in WebAssembly, or false (nothing done).
 */
export function hvpDeltasWasm(
  code: number,
  a: Float64Array,
  d: Float64Array,
  rz: Float64Array,
  g: Float64Array,
  rg: Float64Array,
  delta: Float64Array,
  rdelta: Float64Array,
  len: number,
): boolean {
  const buf = a.buffer;
  const same =
    d.buffer === buf &&
    rz.buffer === buf &&
    g.buffer === buf &&
    rg.buffer === buf &&
    delta.buffer === buf &&
    rdelta.buffer === buf;
  const arena = arenaFor(a, same);
  if (arena === undefined) return false;
  if (Math.min(a.length, d.length, rz.length, g.length, rg.length, delta.length, rdelta.length) < len)
    throw outside("hvpDeltas");
  arena.kernels.hvpDeltas(
    code,
    a.byteOffset,
    d.byteOffset,
    rz.byteOffset,
    g.byteOffset,
    rg.byteOffset,
    delta.byteOffset,
    rdelta.byteOffset,
    len,
  );
  return true;
}
