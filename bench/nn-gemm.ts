/**
 * GEMM throughput of src/nn's two kernel backends at the MLP's sizes: the three products of a 64-wide
 * layer on a batch of 4000 rows (forward A·Wᵀ, weight gradient δᵀA, input gradient δ·W) and a square
 * 256³ product, in GFLOP/s (2 flops per multiply-add). "ts" is the plain-TypeScript kernel on ordinary
 * Float64Arrays; "wasm" the WebAssembly SIMD kernel on views of one KernelArena, with W staged the way
 * Mlp stages it (transposed for the forward form).
 *
 * Each case: one warm-up block, then `repeats` timed blocks of calls lasting ≥ `minMs` each; reported are
 * the median over blocks of wall-clock GFLOP/s and of CPU-time GFLOP/s (the process's CPU time; the kernels
 * are single-threaded, so on a busy machine the CPU figure is the less disturbed one).
 *
 *   node --import tsx bench/nn-gemm.ts [--quick]
 *
 * bench/run.ts can append these rows to its output with `nnGemmRows` and `formatNnGemm`.
 */
import { median } from "../src/math/linalg.ts";
import { gemm, gemmTs } from "../src/nn/kernels.ts";
import {
  KernelArena,
  type KernelBackend,
  kernelBackend,
  setKernelBackend,
  wasmAvailable,
} from "../src/nn/wasm.ts";

export interface NnGemmRow {
  case: string;
  backend: KernelBackend;
  m: number;
  n: number;
  k: number;
  /** Median over timed blocks of 2·m·n·k / wall time. */
  gflops: number;
  /** Median over timed blocks of 2·m·n·k / process CPU time. */
  gflopsCpu: number;
  /** Milliseconds per call (median, wall). */
  msPerCall: number;
}

export interface NnGemmOptions {
  /** Fewer and shorter blocks (default false). */
  quick?: boolean;
}

/** Operand layout of one case: C (+)= A·B with the strides gemm takes (B contiguous along j). */
interface Shape {
  name: string;
  m: number;
  n: number;
  k: number;
  ars: number;
  aps: number;
  /** TS kernel's B strides (the untransposed layout Mlp passes it). */
  bjs: number;
  bps: number;
  /** wasm kernel's B row stride (B staged contiguous along j). */
  ldb: number;
  accumulate: boolean;
}

const N = 4000;
const W = 64;
const SHAPES: Shape[] = [
  // forward: C[N×64] (+)= A[N×64] · W[64×64]ᵀ
  {
    name: `forward A·Wᵀ ${N}×${W}×${W}`,
    m: N,
    n: W,
    k: W,
    ars: W,
    aps: 1,
    bjs: W,
    bps: 1,
    ldb: W,
    accumulate: true,
  },
  // weight gradient: C[64×64] += δ[N×64]ᵀ · A[N×64]
  {
    name: `weight grad δᵀA ${W}×${W}×${N}`,
    m: W,
    n: W,
    k: N,
    ars: 1,
    aps: W,
    bjs: 1,
    bps: W,
    ldb: W,
    accumulate: true,
  },
  // input gradient: C[N×64] = δ[N×64] · W[64×64]
  {
    name: `input grad δ·W ${N}×${W}×${W}`,
    m: N,
    n: W,
    k: W,
    ars: W,
    aps: 1,
    bjs: 1,
    bps: W,
    ldb: W,
    accumulate: false,
  },
  {
    name: "square A·B 256×256×256",
    m: 256,
    n: 256,
    k: 256,
    ars: 256,
    aps: 1,
    bjs: 1,
    bps: 256,
    ldb: 256,
    accumulate: false,
  },
];

function fill(x: Float64Array, seed: number): void {
  for (let i = 0; i < x.length; i++) x[i] = Math.sin(seed + 0.37 * i);
}

function timeCase(run: () => void, flops: number, repeats: number, minMs: number) {
  // warm-up block, and the number of calls per block
  let calls = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < minMs) {
    run();
    calls++;
  }
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const c0 = process.cpuUsage();
    const w0 = performance.now();
    for (let i = 0; i < calls; i++) run();
    const dw = (performance.now() - w0) / 1000;
    const dc = process.cpuUsage(c0);
    wall.push(dw / calls);
    cpu.push((dc.user + dc.system) / 1e6 / calls);
  }
  const w = median(wall);
  return { gflops: flops / w / 1e9, gflopsCpu: flops / median(cpu) / 1e9, msPerCall: w * 1000 };
}

/** One row per (case, backend); the wasm rows only when the WebAssembly kernels are available. */
export function nnGemmRows(options: NnGemmOptions = {}): NnGemmRow[] {
  const repeats = options.quick ? 3 : 7;
  const minMs = options.quick ? 40 : 150;
  const rows: NnGemmRow[] = [];
  for (const s of SHAPES) {
    const aLen = s.m * s.ars + s.k * s.aps; // generous: covers both stride layouts
    const bLen = s.k * s.n;
    const cLen = s.m * s.n;
    const flops = 2 * s.m * s.n * s.k;
    {
      const A = new Float64Array(aLen);
      const B = new Float64Array(bLen);
      const C = new Float64Array(cLen);
      fill(A, 1);
      fill(B, 2);
      const t = timeCase(
        () => gemmTs(s.m, s.n, s.k, A, 0, s.ars, s.aps, B, 0, s.bjs, s.bps, C, 0, s.n, 1, s.accumulate),
        flops,
        repeats,
        minMs,
      );
      rows.push({ case: s.name, backend: "ts", m: s.m, n: s.n, k: s.k, ...t });
    }
    if (wasmAvailable()) {
      const arena = new KernelArena(aLen + bLen + cLen);
      const A = arena.f64(0, aLen);
      const B = arena.f64(aLen, bLen);
      const C = arena.f64(aLen + bLen, cLen);
      fill(A, 1);
      fill(B, 2);
      const previous = kernelBackend();
      setKernelBackend("wasm");
      let t: ReturnType<typeof timeCase>;
      try {
        t = timeCase(
          () => gemm(s.m, s.n, s.k, A, 0, s.ars, s.aps, B, 0, 1, s.ldb, C, 0, s.n, 1, s.accumulate),
          flops,
          repeats,
          minMs,
        );
      } finally {
        setKernelBackend(previous); // leave the process's backend as it was
      }
      rows.push({ case: s.name, backend: "wasm", m: s.m, n: s.n, k: s.k, ...t });
    }
  }
  return rows;
}

/** Printable lines: a header and one line per row. */
export function formatNnGemm(rows: readonly NnGemmRow[]): string[] {
  const width = Math.max(30, ...rows.map((r) => r.case.length));
  const lines = [
    `${"GEMM (src/nn kernels)".padEnd(width)} ${"backend".padEnd(7)} ${"GFLOP/s".padStart(8)} ${"(CPU)".padStart(8)} ${"ms/call".padStart(8)}`,
  ];
  for (const r of rows)
    lines.push(
      `${r.case.padEnd(width)} ${r.backend.padEnd(7)} ${r.gflops.toFixed(2).padStart(8)} ${r.gflopsCpu.toFixed(2).padStart(8)} ${r.msPerCall.toFixed(3).padStart(8)}`,
    );
  return lines;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = nnGemmRows({ quick: process.argv.includes("--quick") });
  for (const line of formatNnGemm(rows)) console.log(line);
}
