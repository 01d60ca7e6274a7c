// AssemblyScript source of the WebAssembly SIMD kernels behind src/nn (built by `npm run build:wasm`
// into build/nn-kernels.wasm; loaded by src/nn/wasm.ts). Float64 only, f64x2 lanes.
//
// Addresses are byte offsets into the imported memory (one memory per MlpWorkspace); strides are in
// elements. Every kernel reads and writes only the ranges its arguments describe.

// Rows of the reduction processed per pass over C: a pass streams KC rows of A and of B, which stay in L2
// (128 × 64 × 8 B = 64 KiB each at the MLP's widths), instead of the whole of both for every block of C.
const KC: i32 = 128;

/**
 * C[r·crs + j] = S[r, j] + Σ_p A[r·ars + p·aps] · B[p·ldb + j] for r < m, j < n, p < k: any strides for
 * A, B contiguous along j (row stride ldb), C contiguous along j (row stride crs). S by `init`: 0 → zero
 * (overwrite C), 1 → C itself (accumulate), 2 → the row at `bias` on every row (a bias broadcast).
 * S + Σ is added last, after the sum, so sums of ≤ KC terms are bit for bit those of the plain-TS kernel
 * (which fills C with the bias, then adds each complete sum). Blocks of 4 rows × 4 columns keep 8 f64x2
 * sums in registers; each B row segment loaded feeds 4 rows, each A number (splatted) feeds 4 columns.
 */
export function gemm(
  m: i32,
  n: i32,
  k: i32,
  a: usize,
  ars: i32,
  aps: i32,
  b: usize,
  ldb: i32,
  c: usize,
  crs: i32,
  init: i32,
  bias: usize,
): void {
  if (m <= 0 || n <= 0) return;
  const cs = (<usize>crs) << 3;
  if (k <= 0) {
    for (let r = 0; r < m; r++) {
      const row = c + <usize>r * cs;
      if (init == 0) memory.fill(row, 0, (<usize>n) << 3);
      else if (init == 2) memory.copy(row, bias, (<usize>n) << 3);
    }
    return;
  }
  for (let p0 = 0; p0 < k; p0 += KC) {
    const kc = min(KC, k - p0);
    const a0 = a + ((<usize>(p0 * aps)) << 3);
    const b0 = b + ((<usize>(p0 * ldb)) << 3);
    if (p0 > 0 || init == 1) panel(m, n, kc, a0, ars, aps, b0, ldb, c, crs, true, c, cs);
    else if (init == 2) panel(m, n, kc, a0, ars, aps, b0, ldb, c, crs, true, bias, 0);
    else panel(m, n, kc, a0, ars, aps, b0, ldb, c, crs, false, 0, 0);
  }
}

// @ts-ignore: decorator
@inline
function ld(p: usize): f64 {
  return load<f64>(p);
}

function panel(
  m: i32,
  n: i32,
  kc: i32,
  a: usize,
  ars: i32,
  aps: i32,
  b: usize,
  ldb: i32,
  c: usize,
  crs: i32,
  load: bool,
  src: usize,
  ss: usize,
): void {
  // C = S + A·B with S[r, j] at src + r·ss + 8j when `load` (S may be C itself, or a row with ss = 0)
  const as = (<usize>aps) << 3; // bytes between consecutive p in A
  const ar = (<usize>ars) << 3; // bytes between rows of A
  const bs = (<usize>ldb) << 3;
  const cs = (<usize>crs) << 3;
  const ar2 = ar + ar;
  const ar3 = ar2 + ar;
  const cs2 = cs + cs;
  const cs3 = cs2 + cs;
  const ss2 = ss + ss;
  const ss3 = ss2 + ss;
  const m4 = m & ~3;
  const n4 = n & ~3;
  let r = 0;
  for (; r < m4; r += 4) {
    const ar0 = a + <usize>r * ar;
    const cr0 = c + <usize>r * cs;
    let j = 0;
    for (; j < n4; j += 4) {
      let c00 = f64x2.splat(0);
      let c01 = f64x2.splat(0);
      let c10 = f64x2.splat(0);
      let c11 = f64x2.splat(0);
      let c20 = f64x2.splat(0);
      let c21 = f64x2.splat(0);
      let c30 = f64x2.splat(0);
      let c31 = f64x2.splat(0);
      let pa = ar0;
      let pb = b + ((<usize>j) << 3);
      for (let p = 0; p < kc; p++) {
        const b0 = v128.load(pb);
        const b1 = v128.load(pb, 16);
        const x0 = v128.load64_splat(pa);
        const x1 = v128.load64_splat(pa + ar);
        const x2 = v128.load64_splat(pa + ar2);
        const x3 = v128.load64_splat(pa + ar3);
        c00 = f64x2.add(c00, f64x2.mul(x0, b0));
        c01 = f64x2.add(c01, f64x2.mul(x0, b1));
        c10 = f64x2.add(c10, f64x2.mul(x1, b0));
        c11 = f64x2.add(c11, f64x2.mul(x1, b1));
        c20 = f64x2.add(c20, f64x2.mul(x2, b0));
        c21 = f64x2.add(c21, f64x2.mul(x2, b1));
        c30 = f64x2.add(c30, f64x2.mul(x3, b0));
        c31 = f64x2.add(c31, f64x2.mul(x3, b1));
        pa += as;
        pb += bs;
      }
      const pc = cr0 + ((<usize>j) << 3);
      const ps = src + <usize>r * ss + ((<usize>j) << 3);
      if (load) {
        c00 = f64x2.add(c00, v128.load(ps));
        c01 = f64x2.add(c01, v128.load(ps, 16));
        c10 = f64x2.add(c10, v128.load(ps + ss));
        c11 = f64x2.add(c11, v128.load(ps + ss, 16));
        c20 = f64x2.add(c20, v128.load(ps + ss2));
        c21 = f64x2.add(c21, v128.load(ps + ss2, 16));
        c30 = f64x2.add(c30, v128.load(ps + ss3));
        c31 = f64x2.add(c31, v128.load(ps + ss3, 16));
      }
      v128.store(pc, c00);
      v128.store(pc, c01, 16);
      v128.store(pc + cs, c10);
      v128.store(pc + cs, c11, 16);
      v128.store(pc + cs2, c20);
      v128.store(pc + cs2, c21, 16);
      v128.store(pc + cs3, c30);
      v128.store(pc + cs3, c31, 16);
    }
    if (j + 2 <= n) {
      // 4 rows × 2 columns
      let c0 = f64x2.splat(0);
      let c1 = f64x2.splat(0);
      let c2 = f64x2.splat(0);
      let c3 = f64x2.splat(0);
      let pa = ar0;
      let pb = b + ((<usize>j) << 3);
      for (let p = 0; p < kc; p++) {
        const b0 = v128.load(pb);
        c0 = f64x2.add(c0, f64x2.mul(v128.load64_splat(pa), b0));
        c1 = f64x2.add(c1, f64x2.mul(v128.load64_splat(pa + ar), b0));
        c2 = f64x2.add(c2, f64x2.mul(v128.load64_splat(pa + ar2), b0));
        c3 = f64x2.add(c3, f64x2.mul(v128.load64_splat(pa + ar3), b0));
        pa += as;
        pb += bs;
      }
      const pc = cr0 + ((<usize>j) << 3);
      const ps = src + <usize>r * ss + ((<usize>j) << 3);
      if (load) {
        c0 = f64x2.add(c0, v128.load(ps));
        c1 = f64x2.add(c1, v128.load(ps + ss));
        c2 = f64x2.add(c2, v128.load(ps + ss2));
        c3 = f64x2.add(c3, v128.load(ps + ss3));
      }
      v128.store(pc, c0);
      v128.store(pc + cs, c1);
      v128.store(pc + cs2, c2);
      v128.store(pc + cs3, c3);
      j += 2;
    }
    if (j < n) {
      // 4 rows × 1 column: rows paired in lanes
      let s01 = f64x2.splat(0);
      let s23 = f64x2.splat(0);
      let pa = ar0;
      let pb = b + ((<usize>j) << 3);
      for (let p = 0; p < kc; p++) {
        const w = v128.load64_splat(pb);
        const x01 = f64x2.replace_lane(v128.load64_splat(pa), 1, ld(pa + ar));
        const x23 = f64x2.replace_lane(v128.load64_splat(pa + ar2), 1, ld(pa + ar3));
        s01 = f64x2.add(s01, f64x2.mul(x01, w));
        s23 = f64x2.add(s23, f64x2.mul(x23, w));
        pa += as;
        pb += bs;
      }
      const pc = cr0 + ((<usize>j) << 3);
      const ps = src + <usize>r * ss + ((<usize>j) << 3);
      let t0 = f64x2.extract_lane(s01, 0);
      let t1 = f64x2.extract_lane(s01, 1);
      let t2 = f64x2.extract_lane(s23, 0);
      let t3 = f64x2.extract_lane(s23, 1);
      if (load) {
        t0 += ld(ps);
        t1 += ld(ps + ss);
        t2 += ld(ps + ss2);
        t3 += ld(ps + ss3);
      }
      store<f64>(pc, t0);
      store<f64>(pc + cs, t1);
      store<f64>(pc + cs2, t2);
      store<f64>(pc + cs3, t3);
    }
  }
  // last m % 4 rows, one row at a time
  for (; r < m; r++) {
    const ar0 = a + <usize>r * ar;
    const cr0 = c + <usize>r * cs;
    let j = 0;
    for (; j < n4; j += 4) {
      let c0 = f64x2.splat(0);
      let c1 = f64x2.splat(0);
      let pa = ar0;
      let pb = b + ((<usize>j) << 3);
      for (let p = 0; p < kc; p++) {
        const x = v128.load64_splat(pa);
        c0 = f64x2.add(c0, f64x2.mul(x, v128.load(pb)));
        c1 = f64x2.add(c1, f64x2.mul(x, v128.load(pb, 16)));
        pa += as;
        pb += bs;
      }
      const pc = cr0 + ((<usize>j) << 3);
      const ps = src + <usize>r * ss + ((<usize>j) << 3);
      if (load) {
        c0 = f64x2.add(c0, v128.load(ps));
        c1 = f64x2.add(c1, v128.load(ps, 16));
      }
      v128.store(pc, c0);
      v128.store(pc, c1, 16);
    }
    for (; j < n; j++) {
      let s: f64 = 0;
      let pa = ar0;
      let pb = b + ((<usize>j) << 3);
      for (let p = 0; p < kc; p++) {
        s += ld(pa) * ld(pb);
        pa += as;
        pb += bs;
      }
      const pc = cr0 + ((<usize>j) << 3);
      const ps = src + <usize>r * ss + ((<usize>j) << 3);
      if (load) s += ld(ps);
      store<f64>(pc, s);
    }
  }
}

/** Bt[p·n + j] = B[j·ldb + p] for j < n, p < k (a row-major [n × k] block, transposed to [k × n]). */
export function transpose(n: i32, k: i32, b: usize, ldb: i32, bt: usize): void {
  for (let j = 0; j < n; j++) {
    const src = b + ((<usize>(j * ldb)) << 3);
    for (let p = 0; p < k; p++) store<f64>(bt + ((<usize>(p * n + j)) << 3), load<f64>(src + ((<usize>p) << 3)));
  }
}

// ---- tanh activation, bit for bit the plain-TS `tanh` of src/nn/mlp.ts (same operations in the same
// order, no fused multiply-adds): Cephes' rational tanh below 0.625, else 1 − 2/(e^{2|x|} + 1) with Cephes'
// exp; ±1 beyond 22 (and NaN stays NaN). Both branches are computed for both lanes and selected. ----

const TP0: f64 = -0.9643991794250523;
const TP1: f64 = -99.28772310019185;
const TP2: f64 = -1614.6876844170845;
const TQ0: f64 = 112.81167849163293;
const TQ1: f64 = 2235.4883906010045;
const TQ2: f64 = 4844.063053251255;
const EP0: f64 = 0.00012617719307481058;
const EP1: f64 = 0.030299440770744195;
const EQ0: f64 = 3.0019850513866446e-6;
const EQ1: f64 = 0.002524483403496841;
const EQ2: f64 = 0.22726554820815503;
const LN2_HI: f64 = 6.93145751953125e-1;
const LN2_LO: f64 = 1.4286068203094173e-6;
const LOG2E: f64 = 1.4426950408889634; // Math.LOG2E
const TWO52_1023: f64 = 4503599627371519; // 2^52 + 1023: n + this holds n + 1023 in its low mantissa bits

// @ts-ignore: decorator
@inline
function splat(x: f64): v128 {
  return f64x2.splat(x);
}

// @ts-ignore: decorator
@inline
function tanhSmall(x: v128): v128 {
  // |x| < 0.625: x + x z P(z) / Q(z), z = x²
  const z = f64x2.mul(x, x);
  const p = f64x2.add(f64x2.mul(f64x2.add(f64x2.mul(splat(TP0), z), splat(TP1)), z), splat(TP2));
  const q = f64x2.add(
    f64x2.mul(f64x2.add(f64x2.mul(f64x2.add(z, splat(TQ0)), z), splat(TQ1)), z),
    splat(TQ2),
  );
  return f64x2.add(x, f64x2.div(f64x2.mul(f64x2.mul(x, z), p), q));
}

// @ts-ignore: decorator
@inline
function tanhBig(x: v128, ax: v128): v128 {
  const one = splat(1);
  const two = splat(2);
  // 0.625 ≤ |x| ≤ 22: e = e^{2|x|} = (1 + 2 px / (Q(r²) − px)) · 2^n, tanh = ±(1 − 2/(e + 1))
  const y = f64x2.mul(two, ax);
  const n = f64x2.floor(f64x2.add(f64x2.mul(splat(LOG2E), y), splat(0.5)));
  const r = f64x2.sub(f64x2.sub(y, f64x2.mul(n, splat(LN2_HI))), f64x2.mul(n, splat(LN2_LO)));
  const rr = f64x2.mul(r, r);
  const px = f64x2.mul(r, f64x2.add(f64x2.mul(f64x2.add(f64x2.mul(splat(EP0), rr), splat(EP1)), rr), one));
  const qx = f64x2.sub(
    f64x2.add(
      f64x2.mul(f64x2.add(f64x2.mul(f64x2.add(f64x2.mul(splat(EQ0), rr), splat(EQ1)), rr), splat(EQ2)), rr),
      two,
    ),
    px,
  );
  const pow2n = i64x2.shl(f64x2.add(n, splat(TWO52_1023)), 52);
  const e = f64x2.mul(f64x2.add(one, f64x2.div(f64x2.mul(two, px), qx)), pow2n);
  const t = f64x2.sub(one, f64x2.div(two, f64x2.add(e, one)));
  const pos = f64x2.gt(x, splat(0));
  const mid = v128.bitselect(t, f64x2.neg(t), pos);
  // beyond 22 (or NaN): x > 0 ? 1 : x < 0 ? −1 : x
  const sat = v128.bitselect(one, v128.bitselect(f64x2.neg(one), x, f64x2.lt(x, splat(0))), pos);
  return v128.bitselect(mid, sat, f64x2.le(ax, splat(22)));
}

// @ts-ignore: decorator
@inline
function tanh2(x: v128): v128 {
  // Each branch costs divisions (the bottleneck): compute only the branches some lane needs.
  const ax = f64x2.abs(x);
  const small = f64x2.lt(ax, splat(0.625));
  if (i64x2.all_true(small)) return tanhSmall(x);
  if (!v128.any_true(small)) return tanhBig(x, ax);
  return v128.bitselect(tanhSmall(x), tanhBig(x, ax), small);
}

/** In place over len numbers: a → tanh(a), d = 1 − tanh². */
export function tanhAct(a: usize, d: usize, len: i32): void {
  const one = splat(1);
  let i = 0;
  for (; i + 2 <= len; i += 2) {
    const off = (<usize>i) << 3;
    const t = tanh2(v128.load(a + off));
    v128.store(a + off, t);
    v128.store(d + off, f64x2.sub(one, f64x2.mul(t, t)));
  }
  if (i < len) {
    const off = (<usize>i) << 3;
    const t = f64x2.extract_lane(tanh2(splat(load<f64>(a + off))), 0);
    store<f64>(a + off, t);
    store<f64>(d + off, 1 - t * t);
  }
}

// ---- Element-wise passes of the derivative code (mlp.ts), same operations in the same order as its
// plain-TS loops (bit for bit), two numbers at a time. ----

/** out[j] = Σ_r A[r·lda + j] for j < n, r < m (overwrites; the sum runs over r in order). */
export function colSums(a: usize, m: i32, n: i32, lda: i32, out: usize): void {
  const rs = (<usize>lda) << 3;
  let j = 0;
  for (; j + 8 <= n; j += 8) {
    let s0 = splat(0);
    let s1 = splat(0);
    let s2 = splat(0);
    let s3 = splat(0);
    let p = a + ((<usize>j) << 3);
    for (let r = 0; r < m; r++) {
      s0 = f64x2.add(s0, v128.load(p));
      s1 = f64x2.add(s1, v128.load(p, 16));
      s2 = f64x2.add(s2, v128.load(p, 32));
      s3 = f64x2.add(s3, v128.load(p, 48));
      p += rs;
    }
    const o = out + ((<usize>j) << 3);
    v128.store(o, s0);
    v128.store(o, s1, 16);
    v128.store(o, s2, 32);
    v128.store(o, s3, 48);
  }
  for (; j + 2 <= n; j += 2) {
    let s = splat(0);
    let p = a + ((<usize>j) << 3);
    for (let r = 0; r < m; r++) {
      s = f64x2.add(s, v128.load(p));
      p += rs;
    }
    v128.store(out + ((<usize>j) << 3), s);
  }
  for (; j < n; j++) {
    let s: f64 = 0;
    let p = a + ((<usize>j) << 3);
    for (let r = 0; r < m; r++) {
      s += load<f64>(p);
      p += rs;
    }
    store<f64>(out + ((<usize>j) << 3), s);
  }
}

/** out[i] = x[i] · y[i], i < len (out may be x or y). */
export function mulInto(out: usize, x: usize, y: usize, len: i32): void {
  let i = 0;
  for (; i + 2 <= len; i += 2) {
    const o = (<usize>i) << 3;
    v128.store(out + o, f64x2.mul(v128.load(x + o), v128.load(y + o)));
  }
  if (i < len) {
    const o = (<usize>i) << 3;
    store<f64>(out + o, load<f64>(x + o) * load<f64>(y + o));
  }
}

/**
 * The R-backward's per-element step (mlp.ts hvp): rδ = σ''(z) R{z} g + σ'(z) R{g}, δ = σ'(z) g, with
 * σ'' from a = σ(z), d = σ'(z): code 0 (tanh) −2 a d, 2 (softplus) d (1 − d), else 0. δ may be g and rδ
 * may be rg (in place).
 */
export function hvpDeltas(
  code: i32,
  a: usize,
  d: usize,
  rz: usize,
  g: usize,
  rg: usize,
  delta: usize,
  rdelta: usize,
  len: i32,
): void {
  const m2 = splat(-2);
  const one = splat(1);
  let i = 0;
  for (; i + 2 <= len; i += 2) {
    const o = (<usize>i) << 3;
    const di = v128.load(d + o);
    const gi = v128.load(g + o);
    let s2 = splat(0);
    if (code == 0) s2 = f64x2.mul(f64x2.mul(m2, v128.load(a + o)), di);
    else if (code == 2) s2 = f64x2.mul(di, f64x2.sub(one, di));
    const rgi = v128.load(rg + o);
    v128.store(rdelta + o, f64x2.add(f64x2.mul(f64x2.mul(s2, v128.load(rz + o)), gi), f64x2.mul(di, rgi)));
    v128.store(delta + o, f64x2.mul(di, gi));
  }
  if (i < len) {
    const o = (<usize>i) << 3;
    const di = load<f64>(d + o);
    const gi = load<f64>(g + o);
    let s2: f64 = 0;
    if (code == 0) s2 = -2 * load<f64>(a + o) * di;
    else if (code == 2) s2 = di * (1 - di);
    const rgi = load<f64>(rg + o);
    store<f64>(rdelta + o, s2 * load<f64>(rz + o) * gi + di * rgi);
    store<f64>(delta + o, di * gi);
  }
}
