/**
 * Small Float64 multilayer perceptrons with exact first and second derivatives.
 *
 * Why hand-written (DESIGN §3): second derivatives through tanh in tfjs are silently wrong and Float32;
 * the sensitivity code (implicit function theorem, conjugate gradient on Hessian-vector products) needs
 * exact Float64 gradients, Jacobian-vector products and Hessian-vector products of small networks.
 *
 * Parameter layout (one flat Float64Array): for each layer l = 1..L in order, the weights W_l row-major
 * [out_l × in_l] (W_l[o, i] at offset + o·in_l + i), then the bias b_l [out_l].
 *
 * Batches are row-major: X is N × in (sample n at n·in), outputs are N × out.
 *
 * Derivatives (z_l = W_l a_{l-1} + b_l, a_l = σ_l(z_l), a_0 = x, out = a_L):
 * - reverse mode (`backward`): δ_l = σ'(z_l) ⊙ g_l, g_{l-1} = W_lᵀ δ_l, ∇W_l += δ_l a_{l-1}ᵀ;
 * - forward mode (`jvp`): R{z_l} = V_l a_{l-1} + W_l R{a_{l-1}} + v_b, R{a_l} = σ'(z_l) R{z_l};
 * - Hessian-vector product (`hvp`, Pearlmutter's R-operator, forward over reverse): apply R{·} to the
 *   backward pass, with R{g_L} = (∂²ℓ/∂out²) R{out} supplied by the caller.
 *
 * Typical use (a Gaussian policy's advantage-weighted log-likelihood, its gradient and H·v):
 *   const net = new Mlp({ sizes: [4, 64, 64, 2], activations: ["tanh", "tanh", "linear"] });
 *   const params = net.init(rng), ws = net.workspace();
 *   const mu = net.forward(params, states, n, ws);
 *   const loss = gaussianLogProbLoss(mu, actions, sigma, n, 2, advantages);
 *   net.backward(params, ws, loss.grad, grad);              // grad += ∇L
 *   net.hvp(params, ws, v, loss.grad, loss.hess, hv);       // hv += H v
 *
 * Kernels (kernels.ts, wasm.ts): with the "wasm" backend (the default when build/nn-kernels.wasm is
 * built) the workspace lives in WebAssembly memory and the dense products, tanh and the element-wise
 * passes run as SIMD kernels (asm/gemm.ts); the "ts" backend is the plain-TS reference. Both give the same
 * numbers up to the order of additions (the forward pass and tanh bit for bit).
 *
 * Measured (Node 20.20, AMD EPYC, one thread, CPU time, median of 15 blocks): 4→64→64→1 MLP, N = 1000,
 * forward / forward + backward / forward + jvp / forward + hvp (+ gradient), in ms:
 *   tanh      ts 4.4 / 10.9 / 10.3 / 28.4    wasm 1.4 / 2.6 / 2.7 / 6.0
 *   relu      ts 3.3 /  9.4 /  9.3 / 28.3    wasm 0.9 / 2.0 / 2.0 / 5.7
 *   softplus  ts 6.7 / 13.0 / 12.7 / 31.1    wasm 4.4 / 5.7 / 5.6 / 9.2  (Math.exp / log1p in JS)
 * The TS kernel runs at ≈ 1.5–2 GMAC/s (the plain-JS ceiling of DESIGN §3), the SIMD one at ≈ 8–9.
 * Calls with a warmed-up workspace allocate nothing.
 */
import type { Rng } from "../math/rng.ts";
import { colSumsWasm, gemm, hvpDeltasWasm, mulIntoWasm, tanhActivateWasm } from "./kernels.ts";
import { KernelArena, kernelBackend } from "./wasm.ts";

export type Activation = "tanh" | "relu" | "softplus" | "linear";

export interface MlpSpec {
  /** Layer widths, input first: [in, hidden…, out]; at least two entries. */
  sizes: number[];
  /** One activation per layer (sizes.length − 1 of them); the last is usually "linear". */
  activations: Activation[];
}

const ACTIVATIONS: readonly Activation[] = ["tanh", "relu", "softplus", "linear"];

/** Throws a RangeError when the spec is not a usable network. */
export function validateSpec(spec: MlpSpec): void {
  const { sizes, activations } = spec;
  if (!Array.isArray(sizes) || sizes.length < 2)
    throw new RangeError(`MlpSpec.sizes needs at least [in, out], got ${JSON.stringify(sizes)}`);
  sizes.forEach((s, i) => {
    if (!Number.isSafeInteger(s) || s < 1)
      throw new RangeError(`MlpSpec.sizes[${i}] must be a positive integer, got ${s}`);
  });
  if (!Array.isArray(activations) || activations.length !== sizes.length - 1)
    throw new RangeError(
      `MlpSpec.activations needs one entry per layer (${sizes.length - 1}), got ${JSON.stringify(activations)}`,
    );
  activations.forEach((a, i) => {
    if (!ACTIVATIONS.includes(a))
      throw new RangeError(`MlpSpec.activations[${i}] must be one of ${ACTIVATIONS.join(", ")}, got ${a}`);
  });
}

/** Number of parameters: Σ_l out_l·(in_l + 1). */
export function paramCount(spec: MlpSpec): number {
  validateSpec(spec);
  let n = 0;
  for (let l = 1; l < spec.sizes.length; l++) n += spec.sizes[l] * (spec.sizes[l - 1] + 1);
  return n;
}

export interface LayerView {
  nIn: number;
  nOut: number;
  /** Offset of W in the flat array (b follows at offset + nOut·nIn). */
  offset: number;
  /** Weights, row-major [nOut × nIn]: a view into the flat array, writes go through. */
  W: Float64Array;
  /** Bias [nOut]: a view into the flat array. */
  b: Float64Array;
}

/** Views of each layer's W and b inside `params` (or a gradient / direction with the same layout). */
export function layerViews(spec: MlpSpec, params: Float64Array): LayerView[] {
  const np = paramCount(spec);
  if (params.length !== np) throw new RangeError(`expected ${np} parameters, got ${params.length}`);
  const views: LayerView[] = [];
  let off = 0;
  for (let l = 1; l < spec.sizes.length; l++) {
    const nIn = spec.sizes[l - 1];
    const nOut = spec.sizes[l];
    views.push({
      nIn,
      nOut,
      offset: off,
      W: params.subarray(off, off + nOut * nIn),
      b: params.subarray(off + nOut * nIn, off + nOut * (nIn + 1)),
    });
    off += nOut * (nIn + 1);
  }
  return views;
}

export interface InitOptions {
  /** Multiplies the last layer's weights (e.g. 0.01 for a policy head that should start near uniform). */
  outputGain?: number;
}

/**
 * Fresh parameters: W_l ~ N(0, g²/in_l) (LeCun scaling, which keeps unit-variance inputs at unit variance
 * through tanh's linear range; g = √2 before a relu, He's correction, else 1), biases 0. Draws are taken layer by layer, row-major, so the same seed gives the same network.
 */
export function initParams(spec: MlpSpec, rng: Rng, options: InitOptions = {}): Float64Array {
  const gain = options.outputGain ?? 1;
  if (!Number.isFinite(gain)) throw new RangeError(`outputGain must be finite, got ${gain}`);
  const params = new Float64Array(paramCount(spec));
  const views = layerViews(spec, params);
  views.forEach((v, l) => {
    let std = (spec.activations[l] === "relu" ? Math.SQRT2 : 1) / Math.sqrt(v.nIn);
    if (l === views.length - 1) std *= gain;
    for (let j = 0; j < v.W.length; j++) v.W[j] = std * rng.normal();
  });
  return params;
}

/** One flat array from several parameter blocks (e.g. actor and critic for one optimiser). */
export function concatParams(parts: readonly ArrayLike<number>[]): Float64Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const flat = new Float64Array(n);
  let off = 0;
  for (const p of parts) {
    flat.set(p, off);
    off += p.length;
  }
  return flat;
}

/** Views (not copies) of consecutive blocks of the given lengths; the lengths must add up to flat.length. */
export function splitParams(flat: Float64Array, lengths: readonly number[]): Float64Array[] {
  let total = 0;
  for (const n of lengths) {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`block length must be ≥ 0, got ${n}`);
    total += n;
  }
  if (total !== flat.length)
    throw new RangeError(`block lengths add up to ${total}, array has ${flat.length}`);
  const out: Float64Array[] = [];
  let off = 0;
  for (const n of lengths) {
    out.push(flat.subarray(off, off + n));
    off += n;
  }
  return out;
}

/**
 * Output-space Hessian product: write hr[n·out + j] = Σ_k (∂²ℓ_n/∂out_j∂out_k) r[n·out + k] for rows
 * n < N. Either a function, or explicit per-row matrices (Float64Array N × out × out, row-major).
 */
export type OutputHessian =
  | ((r: Float64Array, hr: Float64Array, n: number, outSize: number) => void)
  | Float64Array;

// ---- Dense products: `gemm` (kernels.ts) runs the WebAssembly SIMD kernel when the workspace lives in a
// KernelArena (wasm.ts), else the plain-TS kernel. Three forms serve the forward pass, the weight gradients
// and the input-side gradients. With an arena, every operand must be in it: the parameters and direction
// are staged into the workspace per call (4.6k numbers for a 2×64 MLP, negligible next to a batch), the
// caller's output gradients copied in and weight gradients computed into scratch, then added out. ----

/**
 * C[m×n] (+)= A[m×k] · W[n×k]ᵀ with W at wOff (row-major) — the forward pass; with `bias`, C = the row
 * bias[wOff + n·k ..] (the layer's b) + A·Wᵀ instead. `Wt`, when given, holds the same block transposed
 * ([k×n] at wOff, see Mlp.stageTransposed): the layout the SIMD kernel reads.
 */
function mulABt(
  A: Float64Array,
  W: Float64Array,
  Wt: Float64Array | null,
  wOff: number,
  C: Float64Array,
  m: number,
  n: number,
  k: number,
  accumulate: boolean,
  bias?: Float64Array,
): void {
  const bOff = wOff + n * k;
  if (Wt !== null) gemm(m, n, k, A, 0, k, 1, Wt, wOff, 1, n, C, 0, n, 1, accumulate, bias, bOff);
  else gemm(m, n, k, A, 0, k, 1, W, wOff, k, 1, C, 0, n, 1, accumulate, bias, bOff);
}

/** C[n×k] at cOff (+)= A[m×n]ᵀ · B[m×k] — weight gradients (A = δ, B = layer input). */
function addAtB(
  A: Float64Array,
  B: Float64Array,
  C: Float64Array,
  cOff: number,
  m: number,
  n: number,
  k: number,
  accumulate = true,
): void {
  gemm(n, k, m, A, 0, 1, n, B, 0, 1, k, C, cOff, k, 1, accumulate);
}

/** C[m×k] (+)= A[m×n] · B[n×k] with B at bOff — input-side gradients (A = δ, B = W). */
function mulAB(
  A: Float64Array,
  B: Float64Array,
  bOff: number,
  C: Float64Array,
  m: number,
  n: number,
  k: number,
  accumulate: boolean,
): void {
  gemm(m, k, n, A, 0, n, 1, B, bOff, 1, k, C, 0, k, 1, accumulate);
}

/** dst[i] = src[i], i < len, without allocating a view when src is longer. */
function copyPrefix(dst: Float64Array, src: Float64Array, len: number): void {
  if (src.length === len && dst.length >= len) dst.set(src);
  else for (let i = 0; i < len; i++) dst[i] = src[i];
}

/** dst[off + i] += src[off + i], i < len (a weight-gradient block computed in scratch, added out). */
function addBlock(dst: Float64Array, src: Float64Array, off: number, len: number): void {
  for (let i = off; i < off + len; i++) dst[i] += src[i];
}

/** Whether a and b hold the same numbers in their first len entries (+0 ≠ −0; NaN never matches). */
function sameNumbers(a: Float64Array, b: Float64Array, len: number): boolean {
  for (let i = 0; i < len; i++) {
    const x = a[i];
    const y = b[i];
    if (x !== y || (x === 0 && 1 / x !== 1 / y)) return false;
  }
  return true;
}

/**
 * Bias gradient: C[cOff + j] (+)= Σ_r A[r·n + j]. Overwriting sums run in WebAssembly when A and C live in
 * one arena.
 */
function sumRowsInto(
  A: Float64Array,
  C: Float64Array,
  cOff: number,
  m: number,
  n: number,
  accumulate: boolean,
): void {
  if (!accumulate) {
    if (colSumsWasm(A, m, n, C, cOff)) return;
    C.fill(0, cOff, cOff + n);
  }
  for (let r = 0; r < m; r++) {
    const a0 = r * n;
    for (let j = 0; j < n; j++) C[cOff + j] += A[a0 + j];
  }
}

// ---- Activations. The forward pass stores a = σ(z) and d = σ'(z); σ''(z) is recovered from them. ----

const ACT_TANH = 0;
const ACT_RELU = 1;
const ACT_SOFTPLUS = 2;
const ACT_LINEAR = 3;

function actCode(a: Activation): number {
  return a === "tanh" ? ACT_TANH : a === "relu" ? ACT_RELU : a === "softplus" ? ACT_SOFTPLUS : ACT_LINEAR;
}

// tanh in plain JS: V8's Math.tanh is an out-of-line C call (≈ 18 ns here, 45% of a 64-wide tanh MLP's
// forward pass); this inlinable version takes ≈ 10 ns and stays within 2 ulp of Math.tanh (tested).
// Cephes' rational tanh below 0.625, else 1 − 2/(e^{2|x|} + 1) with Cephes' exp (|x| ≤ 22, so 2^n is a
// table lookup); tanh rounds to ±1 beyond 19.1.
const TP0 = -0.9643991794250523;
const TP1 = -99.28772310019185;
const TP2 = -1614.6876844170845;
const TQ0 = 112.81167849163293;
const TQ1 = 2235.4883906010045;
const TQ2 = 4844.063053251255;
const EP0 = 0.00012617719307481058;
const EP1 = 0.030299440770744195;
const EP2 = 1; // 0.99999999999999999991 in Cephes, which rounds to 1
const EQ0 = 3.0019850513866446e-6;
const EQ1 = 0.002524483403496841;
const EQ2 = 0.22726554820815503;
const LN2_HI = 6.93145751953125e-1;
const LN2_LO = 1.4286068203094173e-6;
const POW2 = Float64Array.from({ length: 64 }, (_, i) => 2 ** i);

function tanh(x: number): number {
  const ax = Math.abs(x);
  if (ax < 0.625) {
    const z = x * x;
    return x + (x * z * ((TP0 * z + TP1) * z + TP2)) / (((z + TQ0) * z + TQ1) * z + TQ2);
  }
  if (!(ax <= 22)) return x > 0 ? 1 : x < 0 ? -1 : x; // ±∞ → ±1, NaN → NaN
  const y = 2 * ax;
  const n = Math.floor(Math.LOG2E * y + 0.5);
  const r = y - n * LN2_HI - n * LN2_LO;
  const rr = r * r;
  const px = r * ((EP0 * rr + EP1) * rr + EP2);
  const e = (1 + (2 * px) / (((EQ0 * rr + EQ1) * rr + EQ2) * rr + 2 - px)) * POW2[n];
  const t = 1 - 2 / (e + 1);
  return x > 0 ? t : -t;
}

/** In place: z → σ(z) in `a`, σ'(z) in `d` (first len entries). */
function activate(code: number, a: Float64Array, d: Float64Array, len: number): void {
  if (code === ACT_TANH) {
    if (tanhActivateWasm(a, d, len)) return;
    for (let i = 0; i < len; i++) {
      const t = tanh(a[i]);
      a[i] = t;
      d[i] = 1 - t * t;
    }
  } else if (code === ACT_RELU) {
    // Branch-free: signs of pre-activations are random, so a branch would mispredict half the time.
    for (let i = 0; i < len; i++) {
      const on = +(a[i] > 0);
      d[i] = on;
      a[i] *= on;
    }
  } else if (code === ACT_SOFTPLUS) {
    for (let i = 0; i < len; i++) {
      const z = a[i];
      // Stable: softplus(z) = max(z, 0) + log1p(e^{−|z|}); sigmoid from the same exponential.
      const e = Math.exp(-Math.abs(z));
      a[i] = (z > 0 ? z : 0) + Math.log1p(e);
      d[i] = z >= 0 ? 1 / (1 + e) : e / (1 + e);
    }
  }
}

/** σ''(z) from the stored a = σ(z) and d = σ'(z). */
function secondDerivative(code: number, a: number, d: number): number {
  if (code === ACT_TANH) return -2 * a * d;
  if (code === ACT_SOFTPLUS) return d * (1 - d);
  return 0;
}

/**
 * Buffers for one network and one batch size at a time. Create once per (network, use) and reuse: calls
 * with the same N allocate nothing; a larger N grows the buffers (once), a smaller N reuses them.
 * `forward` fills it; `backward`, `jvp` and `hvp` read what the last `forward` on it stored, so the
 * params passed to them must be the ones (unchanged) given to that forward. The fields are public for
 * inspection (e.g. hidden features in `a`); do not write to them.
 *
 * With the "wasm" kernel backend (wasm.ts) the buffers are views of one WebAssembly memory (`arena`),
 * sized for the capacity; growing allocates a new arena rather than growing the memory, so views taken
 * earlier (e.g. a previous `out`) stay readable, exactly as with plain Float64Arrays.
 */
export class MlpWorkspace {
  /** Batch size of the last forward pass. */
  n = 0;
  capacity = 0;
  /** a[0] = input copy, a[l] = σ(z_l) (N × sizes[l]). */
  a: Float64Array[] = [];
  /** σ'(z_l) per layer (index l ≥ 1; empty for linear layers). */
  d: Float64Array[] = [];
  /** R{z_l} and R{a_l} from the last jvp (ra[0] = input tangent); ra[l] aliases rz[l] for linear layers. */
  rz: Float64Array[] = [];
  ra: Float64Array[] = [];
  /** Whether the last jvp had an input tangent (R{a_0} ≠ 0). */
  hasXDot = false;
  /** Ping-pong buffers for backward (g, δ) and the R-backward (R{g}, R{δ}), N × max width. */
  g0: Float64Array = new Float64Array(0);
  g1: Float64Array = new Float64Array(0);
  rg0: Float64Array = new Float64Array(0);
  rg1: Float64Array = new Float64Array(0);
  /** (∂²ℓ/∂out²)·R{out}, N × out. */
  hr: Float64Array = new Float64Array(0);
  /** Views of length N × out returned by forward / jvp; rebuilt only when N changes. */
  out: Float64Array = new Float64Array(0);
  rOut: Float64Array = new Float64Array(0);
  /** The WebAssembly memory holding the buffers (null: plain Float64Arrays, the "ts" backend). */
  arena: KernelArena | null = null;
  // Arena only (else empty): the parameters and the direction as the kernel reads them (P, V: copies;
  // Pt, Vt: each layer's W transposed, at the same offsets), weight-gradient scratch (G, nParams), the
  // caller's output gradient (gin, N × out) and the input gradient on its way out (xout, N × in).
  P: Float64Array = new Float64Array(0);
  Pt: Float64Array = new Float64Array(0);
  V: Float64Array = new Float64Array(0);
  Vt: Float64Array = new Float64Array(0);
  G: Float64Array = new Float64Array(0);
  gin: Float64Array = new Float64Array(0);
  xout: Float64Array = new Float64Array(0);
  /**
   * The last jvp's arguments while its tangents are still in rz / ra (tangentValid), so that an hvp (or
   * jvp) with the same params and v and no input tangent reuses them instead of recomputing.
   */
  tangentValid = false;
  tangentHasV = false;
  readonly tangentParams: Float64Array;
  readonly tangentV: Float64Array;
  readonly sizes: readonly number[];
  readonly codes: readonly number[];

  constructor(spec: MlpSpec) {
    validateSpec(spec);
    this.sizes = [...spec.sizes];
    this.codes = spec.activations.map(actCode);
    const np = paramCount(spec);
    this.tangentParams = new Float64Array(np);
    this.tangentV = new Float64Array(np);
  }

  /** Make room for a batch of n rows and point the output views at the first n rows. */
  reserve(n: number): void {
    if (!Number.isSafeInteger(n) || n < 0)
      throw new RangeError(`batch size must be an integer ≥ 0, got ${n}`);
    const L = this.sizes.length - 1;
    if (n > this.capacity) {
      const cap = Math.max(n, 2 * this.capacity);
      let wMax = 0;
      for (const s of this.sizes) wMax = Math.max(wMax, s);
      const nonLinear = (l: number) => l > 0 && this.codes[l - 1] !== ACT_LINEAR;
      const np = this.tangentParams.length;
      // Two passes over the same allocation sequence: count, then carve (arena) or allocate (plain).
      const plan = (alloc: (len: number) => Float64Array) => {
        this.a = this.sizes.map((s) => alloc(cap * s));
        this.ra = this.sizes.map((s) => alloc(cap * s));
        this.rz = this.sizes.map((s, l) => (l === 0 ? alloc(0) : nonLinear(l) ? alloc(cap * s) : this.ra[l]));
        this.d = this.sizes.map((s, l) => (nonLinear(l) ? alloc(cap * s) : alloc(0)));
        this.g0 = alloc(cap * wMax);
        this.g1 = alloc(cap * wMax);
        this.rg0 = alloc(cap * wMax);
        this.rg1 = alloc(cap * wMax);
        this.hr = alloc(cap * this.sizes[L]);
      };
      const staging = (alloc: (len: number) => Float64Array) => {
        this.P = alloc(np);
        this.Pt = alloc(np);
        this.V = alloc(np);
        this.Vt = alloc(np);
        this.G = alloc(np);
        this.gin = alloc(cap * this.sizes[L]);
        this.xout = alloc(cap * this.sizes[0]);
      };
      let arena: KernelArena | null = null;
      if (kernelBackend() === "wasm") {
        // Each buffer starts on a 64-byte boundary (whole cache lines, aligned f64x2 loads).
        const padded = (len: number) => Math.ceil(len / 8) * 8;
        let total = 0;
        const count = (len: number) => {
          total += padded(len);
          return new Float64Array(0);
        };
        plan(count);
        staging(count);
        try {
          arena = new KernelArena(total);
        } catch {
          arena = null; // no memory for another WebAssembly memory: plain buffers, plain kernel
        }
        if (arena !== null) {
          const mem = arena;
          let off = 0;
          const carve = (len: number) => {
            const v = mem.f64(off, len);
            off += padded(len);
            return v;
          };
          plan(carve);
          staging(carve);
        }
      }
      if (arena === null) {
        plan((len) => new Float64Array(len));
        const empty = () => new Float64Array(0);
        staging(empty);
      }
      this.arena = arena;
      this.capacity = cap;
      this.n = -1; // force new views
    }
    if (n !== this.n) {
      this.out = this.a[L].subarray(0, n * this.sizes[L]);
      this.rOut = this.ra[L].subarray(0, n * this.sizes[L]);
      this.n = n;
      this.hasXDot = false;
      this.tangentValid = false;
    }
  }
}

export interface HvpOptions {
  /** Also accumulate the gradient ∂L/∂params here (it comes for free). */
  grad?: Float64Array;
  /** Input tangent (N × in): adds the mixed term (∂²L/∂params∂x)·xDot to the result. */
  xDot?: Float64Array;
}

/** A network shape with its derivative passes; parameters are passed in (flat layout), never stored. */
export class Mlp {
  readonly spec: MlpSpec;
  readonly inSize: number;
  readonly outSize: number;
  readonly nParams: number;
  readonly nLayers: number;
  /** Offset of W_l in the flat parameter array (b_l at wOff[l] + out·in), index l = 0..L−1. */
  private readonly wOff: number[];
  private readonly codes: number[];

  constructor(spec: MlpSpec) {
    validateSpec(spec);
    this.spec = { sizes: [...spec.sizes], activations: [...spec.activations] };
    this.nLayers = spec.sizes.length - 1;
    this.inSize = spec.sizes[0];
    this.outSize = spec.sizes[this.nLayers];
    this.nParams = paramCount(spec);
    this.wOff = layerViews(spec, new Float64Array(this.nParams)).map((v) => v.offset);
    this.codes = spec.activations.map(actCode);
  }

  /** Fresh parameters (see `initParams`). */
  init(rng: Rng, options: InitOptions = {}): Float64Array {
    return initParams(this.spec, rng, options);
  }

  workspace(): MlpWorkspace {
    return new MlpWorkspace(this.spec);
  }

  private checkParams(name: string, p: Float64Array): void {
    if (p.length !== this.nParams)
      throw new RangeError(`${name}: expected ${this.nParams} entries, got ${p.length}`);
  }

  private checkWorkspace(ws: MlpWorkspace): void {
    const s = this.spec.sizes;
    let same = ws.sizes.length === s.length;
    for (let l = 0; same && l < s.length; l++)
      same = ws.sizes[l] === s[l] && (l === 0 || ws.codes[l - 1] === this.codes[l - 1]);
    if (!same) throw new RangeError(`workspace was made for another network (${ws.sizes.join("→")})`);
  }

  private checkRows(name: string, x: Float64Array, n: number, width: number): void {
    if (x.length < n * width)
      throw new RangeError(`${name}: expected ${n}×${width} entries, got ${x.length}`);
  }

  /**
   * Every layer's W of `src` (flat layout) transposed into `dst` at the same offsets, through the copy
   * `tmp` (both in the arena; the kernel transposes); returns dst.
   */
  private stageTransposed(arena: KernelArena, src: Float64Array, tmp: Float64Array, dst: Float64Array) {
    tmp.set(src);
    const sizes = this.spec.sizes;
    for (let l = 0; l < this.nLayers; l++) {
      const off = 8 * this.wOff[l];
      arena.kernels.transpose(sizes[l + 1], sizes[l], tmp.byteOffset + off, sizes[l], dst.byteOffset + off);
    }
    return dst;
  }

  /**
   * Outputs for the n rows of X (N × in). Returns a view into the workspace (N × out), overwritten by
   * the next forward on the same workspace: copy it if you need to keep it.
   */
  forward(params: Float64Array, X: Float64Array, n: number, ws: MlpWorkspace): Float64Array {
    this.checkParams("params", params);
    this.checkRows("X", X, n, this.inSize);
    this.checkWorkspace(ws);
    ws.reserve(n);
    ws.tangentValid = false;
    const sizes = this.spec.sizes;
    const Wt = ws.arena !== null ? this.stageTransposed(ws.arena, params, ws.P, ws.Pt) : null;
    const bias = Wt !== null ? ws.P : params; // stageTransposed left a copy of params in ws.P
    // Copy the input so later passes do not depend on the caller keeping X unchanged.
    ws.a[0].set(n * this.inSize === X.length ? X : X.subarray(0, n * this.inSize));
    for (let l = 0; l < this.nLayers; l++) {
      const nIn = sizes[l];
      const nOut = sizes[l + 1];
      const off = this.wOff[l];
      mulABt(ws.a[l], params, Wt, off, ws.a[l + 1], n, nOut, nIn, false, bias);
      activate(this.codes[l], ws.a[l + 1], ws.d[l + 1], n * nOut);
    }
    return ws.out;
  }

  /**
   * Reverse mode through the last forward on `ws`. Given dOut = ∂L/∂out (N × out), ACCUMULATES ∂L/∂params
   * into `grad` (the caller zeroes it; null to skip) and, when `dX` is given, WRITES ∂L/∂X (N × in) there.
   */
  backward(
    params: Float64Array,
    ws: MlpWorkspace,
    dOut: Float64Array,
    grad: Float64Array | null,
    dX?: Float64Array,
  ): void {
    this.checkParams("params", params);
    if (grad !== null) this.checkParams("grad", grad);
    this.checkWorkspace(ws);
    const n = ws.n;
    this.checkRows("dOut", dOut, n, this.outSize);
    if (dX !== undefined) this.checkRows("dX", dX, n, this.inSize);
    const sizes = this.spec.sizes;
    const arena = ws.arena !== null;
    const W = arena ? ws.P : params;
    let g: Float64Array = dOut; // ∂L/∂a_l, l = L first
    if (arena) {
      ws.P.set(params);
      copyPrefix(ws.gin, dOut, n * this.outSize);
      g = ws.gin; // a workspace buffer: δ may overwrite it
    }
    for (let l = this.nLayers - 1; l >= 0; l--) {
      const nIn = sizes[l];
      const nOut = sizes[l + 1];
      const off = this.wOff[l];
      // δ = σ'(z) ⊙ g, written into a workspace buffer (never into the caller's dOut).
      let delta = g;
      if (this.codes[l] !== ACT_LINEAR) {
        delta = g === dOut ? ws.g0 : g; // in place once g is a workspace buffer
        const d = ws.d[l + 1];
        if (!mulIntoWasm(delta, d, g, n * nOut)) for (let i = 0; i < n * nOut; i++) delta[i] = d[i] * g[i];
      }
      if (grad !== null) {
        if (arena) {
          // weights and bias into scratch, then added out in one go
          addAtB(delta, ws.a[l], ws.G, off, n, nOut, nIn, false);
          sumRowsInto(delta, ws.G, off + nOut * nIn, n, nOut, false);
          addBlock(grad, ws.G, off, nOut * (nIn + 1));
        } else {
          addAtB(delta, ws.a[l], grad, off, n, nOut, nIn);
          sumRowsInto(delta, grad, off + nOut * nIn, n, nOut, true);
        }
      }
      if (l > 0) {
        const next = delta === ws.g0 ? ws.g1 : ws.g0;
        mulAB(delta, W, off, next, n, nOut, nIn, false);
        g = next;
      } else if (dX !== undefined) {
        if (arena) {
          mulAB(delta, W, off, ws.xout, n, nOut, nIn, false);
          copyPrefix(dX, ws.xout, n * nIn);
        } else mulAB(delta, W, off, dX, n, nOut, nIn, false);
      }
    }
  }

  /**
   * Forward-mode derivative of the outputs of the last forward on `ws`: R{out} = (∂out/∂params)·v
   * (+ (∂out/∂X)·xDot when given; v may be null for an input-only tangent). Returns a workspace view
   * (N × out), valid until the next jvp / hvp on `ws` (do not write to it: a later jvp or hvp with the
   * same params and v, and no xDot, reuses the tangents instead of recomputing them).
   */
  jvp(params: Float64Array, ws: MlpWorkspace, v: Float64Array | null, xDot?: Float64Array): Float64Array {
    this.checkParams("params", params);
    if (v !== null) this.checkParams("v", v);
    this.checkWorkspace(ws);
    const n = ws.n;
    if (
      xDot === undefined &&
      ws.tangentValid &&
      !ws.hasXDot &&
      ws.tangentHasV === (v !== null) &&
      (v === null || sameNumbers(v, ws.tangentV, this.nParams)) &&
      sameNumbers(params, ws.tangentParams, this.nParams)
    )
      return ws.rOut; // the tangents of the same product are still in rz / ra
    ws.tangentValid = false;
    if (xDot !== undefined) {
      this.checkRows("xDot", xDot, n, this.inSize);
      ws.ra[0].set(n * this.inSize === xDot.length ? xDot : xDot.subarray(0, n * this.inSize));
    }
    ws.hasXDot = xDot !== undefined;
    const sizes = this.spec.sizes;
    const arena = ws.arena;
    const Wt =
      arena !== null && (this.nLayers > 1 || ws.hasXDot)
        ? this.stageTransposed(arena, params, ws.P, ws.Pt)
        : null;
    const Vt = arena !== null && v !== null ? this.stageTransposed(arena, v, ws.V, ws.Vt) : null;
    for (let l = 0; l < this.nLayers; l++) {
      const nIn = sizes[l];
      const nOut = sizes[l + 1];
      const off = this.wOff[l];
      const rz = ws.rz[l + 1];
      const tangentIn = l > 0 || ws.hasXDot;
      if (v !== null) {
        mulABt(ws.a[l], v, Vt, off, rz, n, nOut, nIn, false, Vt !== null ? ws.V : v);
        if (tangentIn) mulABt(ws.ra[l], params, Wt, off, rz, n, nOut, nIn, true);
      } else if (tangentIn) {
        mulABt(ws.ra[l], params, Wt, off, rz, n, nOut, nIn, false);
      } else {
        rz.fill(0, 0, n * nOut);
      }
      if (this.codes[l] !== ACT_LINEAR) {
        const d = ws.d[l + 1];
        const ra = ws.ra[l + 1];
        if (!mulIntoWasm(ra, d, rz, n * nOut)) for (let i = 0; i < n * nOut; i++) ra[i] = d[i] * rz[i];
      }
    }
    if (!ws.hasXDot) {
      ws.tangentParams.set(params);
      if (v !== null) ws.tangentV.set(v);
      ws.tangentHasV = v !== null;
      ws.tangentValid = true;
    }
    return ws.rOut;
  }

  /**
   * Hessian-vector product of L(params) = Σ_n ℓ_n(f(x_n; params)) at the last forward on `ws`:
   * ACCUMULATES H·v into `hv` (caller zeroes). The loss enters through gOut = ∂ℓ/∂out (N × out, at the
   * current outputs) and hOut, its output-space Hessian product (see `OutputHessian`; the loss helpers
   * below build both). Exact: one forward-mode pass and one R-augmented reverse pass (the forward-mode
   * pass is skipped when the last jvp on `ws` had the same params and v and no input tangent).
   */
  hvp(
    params: Float64Array,
    ws: MlpWorkspace,
    v: Float64Array | null,
    gOut: Float64Array,
    hOut: OutputHessian,
    hv: Float64Array,
    options: HvpOptions = {},
  ): void {
    this.checkParams("hv", hv);
    const grad = options.grad ?? null;
    if (grad !== null) this.checkParams("grad", grad);
    this.checkWorkspace(ws);
    const n = ws.n;
    const K = this.outSize;
    this.checkRows("gOut", gOut, n, K);
    this.jvp(params, ws, v, options.xDot);
    if (typeof hOut === "function") {
      hOut(ws.rOut, ws.hr, n, K);
    } else {
      if (hOut.length < n * K * K)
        throw new RangeError(`hOut: expected ${n}×${K}×${K} entries, got ${hOut.length}`);
      const r = ws.rOut;
      const hr = ws.hr;
      for (let row = 0; row < n; row++) {
        for (let j = 0; j < K; j++) {
          let s = 0;
          const h0 = (row * K + j) * K;
          for (let k = 0; k < K; k++) s += hOut[h0 + k] * r[row * K + k];
          hr[row * K + j] = s;
        }
      }
    }
    const sizes = this.spec.sizes;
    const arena = ws.arena !== null;
    const W = arena ? ws.P : params;
    const V = v !== null && arena ? ws.V : v;
    // g / rg: ∂L/∂a_l and R{∂L/∂a_l}; δ / rδ the same for z_l. Buffers alternate between the pairs.
    let g: Float64Array = gOut;
    let rg: Float64Array = ws.hr;
    if (arena) {
      ws.P.set(params);
      if (v !== null) ws.V.set(v);
      copyPrefix(ws.gin, gOut, n * K);
      g = ws.gin;
    }
    for (let l = this.nLayers - 1; l >= 0; l--) {
      const nIn = sizes[l];
      const nOut = sizes[l + 1];
      const off = this.wOff[l];
      const len = n * nOut;
      const code = this.codes[l];
      let delta = g;
      let rdelta = rg;
      if (code !== ACT_LINEAR) {
        // Write δ and R{δ} into whichever buffers are not being read (g may be the caller's gOut).
        delta = g === ws.g0 ? ws.g0 : ws.g1;
        rdelta = rg === ws.rg0 ? ws.rg0 : ws.rg1;
        const a = ws.a[l + 1];
        const d = ws.d[l + 1];
        const rz = ws.rz[l + 1];
        if (!hvpDeltasWasm(code, a, d, rz, g, rg, delta, rdelta, len)) {
          for (let i = 0; i < len; i++) {
            const gi = g[i];
            // R{σ'(z) g} = σ''(z) R{z} g + σ'(z) R{g}
            rdelta[i] = secondDerivative(code, a[i], d[i]) * rz[i] * gi + d[i] * rg[i];
            delta[i] = d[i] * gi;
          }
        }
      }
      const bOff = off + nOut * nIn;
      const tangentIn = l > 0 || ws.hasXDot;
      // H·v for W: R{δ a_{l−1}ᵀ} = R{δ} a_{l−1}ᵀ + δ R{a_{l−1}}ᵀ
      if (arena) {
        addAtB(rdelta, ws.a[l], ws.G, off, n, nOut, nIn, false);
        if (tangentIn) addAtB(delta, ws.ra[l], ws.G, off, n, nOut, nIn, true);
        sumRowsInto(rdelta, ws.G, bOff, n, nOut, false);
        addBlock(hv, ws.G, off, nOut * (nIn + 1));
      } else {
        addAtB(rdelta, ws.a[l], hv, off, n, nOut, nIn);
        if (tangentIn) addAtB(delta, ws.ra[l], hv, off, n, nOut, nIn);
        sumRowsInto(rdelta, hv, bOff, n, nOut, true);
      }
      if (grad !== null) {
        if (arena) {
          addAtB(delta, ws.a[l], ws.G, off, n, nOut, nIn, false);
          sumRowsInto(delta, ws.G, bOff, n, nOut, false);
          addBlock(grad, ws.G, off, nOut * (nIn + 1));
        } else {
          addAtB(delta, ws.a[l], grad, off, n, nOut, nIn);
          sumRowsInto(delta, grad, bOff, n, nOut, true);
        }
      }
      if (l > 0) {
        const gNext = delta === ws.g0 ? ws.g1 : ws.g0;
        const rgNext = rdelta === ws.rg0 ? ws.rg1 : ws.rg0;
        mulAB(delta, W, off, gNext, n, nOut, nIn, false);
        // R{Wᵀδ} = Vᵀδ + Wᵀ R{δ}
        mulAB(rdelta, W, off, rgNext, n, nOut, nIn, false);
        if (V !== null) mulAB(delta, V, off, rgNext, n, nOut, nIn, true);
        g = gNext;
        rg = rgNext;
      }
    }
  }
}

// ---- Output losses: value, ∂L/∂out and the output-space Hessian product, for `backward` and `hvp`. ----

export interface OutputLoss {
  /** L = Σ_n w_n ℓ_n. */
  value: number;
  /** ∂L/∂out (N × out). */
  grad: Float64Array;
  /** (∂²L/∂out²)·r row by row, for `Mlp.hvp`. */
  hess: OutputHessian;
}

function checkWeights(weights: ArrayLike<number> | undefined, n: number): void {
  if (weights !== undefined && weights.length < n)
    throw new RangeError(`weights: expected ${n}, got ${weights.length}`);
}

function gradBuffer(gradOut: Float64Array | undefined, len: number): Float64Array {
  if (gradOut === undefined) return new Float64Array(len);
  if (gradOut.length < len) throw new RangeError(`gradOut: expected ${len} entries, got ${gradOut.length}`);
  return gradOut;
}

/**
 * Σ_n w_n log N(a_n; μ_n, diag σ²) as a function of the mean network's output μ (N × K): a Gaussian
 * policy's (advantage-weighted) log-likelihood. σ is per dimension (K) or per row (N × K).
 * Gradient w (a − μ)/σ², output Hessian −w/σ² I. A log-likelihood: maximise it (or negate).
 */
export function gaussianLogProbLoss(
  mu: Float64Array,
  actions: Float64Array,
  sigma: ArrayLike<number>,
  n: number,
  K: number,
  weights?: ArrayLike<number>,
  gradOut?: Float64Array,
): OutputLoss {
  if (mu.length < n * K || actions.length < n * K)
    throw new RangeError(`mu and actions need ${n}×${K} entries`);
  const perRow = sigma.length === n * K && sigma.length !== K;
  if (!perRow && sigma.length !== K)
    throw new RangeError(`sigma: expected ${K} or ${n}×${K} entries, got ${sigma.length}`);
  checkWeights(weights, n);
  const grad = gradBuffer(gradOut, n * K);
  const halfLog2Pi = 0.5 * Math.log(2 * Math.PI);
  let value = 0;
  for (let r = 0; r < n; r++) {
    const w = weights === undefined ? 1 : weights[r];
    for (let j = 0; j < K; j++) {
      const i = r * K + j;
      const s = sigma[perRow ? i : j];
      const e = (actions[i] - mu[i]) / s;
      value += w * (-0.5 * e * e - Math.log(s) - halfLog2Pi);
      grad[i] = (w * e) / s;
    }
  }
  const hess = (rv: Float64Array, hr: Float64Array, m: number, k: number): void => {
    for (let r = 0; r < m; r++) {
      const w = weights === undefined ? 1 : weights[r];
      for (let j = 0; j < k; j++) {
        const i = r * k + j;
        const s = sigma[perRow ? i : j];
        hr[i] = (-w * rv[i]) / (s * s);
      }
    }
  };
  return { value, grad, hess };
}

/**
 * Σ_n w_n log softmax(logits_n)[a_n] as a function of the logits (N × K): a categorical policy's
 * (advantage-weighted) log-likelihood. Gradient w (e_a − p), output Hessian −w (diag p − p pᵀ).
 * `probs` (N × K) is scratch for the softmax, kept by the returned Hessian closure.
 */
export function categoricalLogProbLoss(
  logits: Float64Array,
  actions: ArrayLike<number>,
  n: number,
  K: number,
  weights?: ArrayLike<number>,
  gradOut?: Float64Array,
  probs?: Float64Array,
): OutputLoss {
  if (logits.length < n * K) throw new RangeError(`logits: expected ${n}×${K} entries, got ${logits.length}`);
  if (actions.length < n) throw new RangeError(`actions: expected ${n} entries, got ${actions.length}`);
  checkWeights(weights, n);
  const grad = gradBuffer(gradOut, n * K);
  const p = probs ?? new Float64Array(n * K);
  if (p.length < n * K) throw new RangeError(`probs: expected ${n}×${K} entries, got ${p.length}`);
  let value = 0;
  for (let r = 0; r < n; r++) {
    const a = actions[r];
    if (!Number.isInteger(a) || a < 0 || a >= K)
      throw new RangeError(`actions[${r}] must be in 0..${K - 1}, got ${a}`);
    const o = r * K;
    let m = Number.NEGATIVE_INFINITY;
    for (let j = 0; j < K; j++) if (logits[o + j] > m) m = logits[o + j];
    let s = 0;
    for (let j = 0; j < K; j++) {
      const e = Math.exp(logits[o + j] - m);
      p[o + j] = e;
      s += e;
    }
    const w = weights === undefined ? 1 : weights[r];
    for (let j = 0; j < K; j++) {
      p[o + j] /= s;
      grad[o + j] = -w * p[o + j];
    }
    grad[o + a] += w;
    value += w * (logits[o + a] - m - Math.log(s));
  }
  const hess = (rv: Float64Array, hr: Float64Array, rows: number, k: number): void => {
    for (let r = 0; r < rows; r++) {
      const o = r * k;
      const w = weights === undefined ? 1 : weights[r];
      let pr = 0;
      for (let j = 0; j < k; j++) pr += p[o + j] * rv[o + j];
      // −w (diag p − p pᵀ) r = −w p ⊙ (r − pᵀr)
      for (let j = 0; j < k; j++) hr[o + j] = -w * p[o + j] * (rv[o + j] - pr);
    }
  };
  return { value, grad, hess };
}

/**
 * Σ_n w_n ½‖out_n − y_n‖² (critic regression; minimise it). Gradient w (out − y), output Hessian w I.
 */
export function squaredErrorLoss(
  out: Float64Array,
  targets: Float64Array,
  n: number,
  K: number,
  weights?: ArrayLike<number>,
  gradOut?: Float64Array,
): OutputLoss {
  if (out.length < n * K || targets.length < n * K)
    throw new RangeError(`out and targets need ${n}×${K} entries`);
  checkWeights(weights, n);
  const grad = gradBuffer(gradOut, n * K);
  let value = 0;
  for (let r = 0; r < n; r++) {
    const w = weights === undefined ? 1 : weights[r];
    for (let j = 0; j < K; j++) {
      const i = r * K + j;
      const e = out[i] - targets[i];
      value += 0.5 * w * e * e;
      grad[i] = w * e;
    }
  }
  const hess = (rv: Float64Array, hr: Float64Array, rows: number, k: number): void => {
    for (let r = 0; r < rows; r++) {
      const w = weights === undefined ? 1 : weights[r];
      for (let j = 0; j < k; j++) hr[r * k + j] = w * rv[r * k + j];
    }
  };
  return { value, grad, hess };
}
