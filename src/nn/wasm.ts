/**
 * Loads the WebAssembly SIMD kernels (asm/gemm.ts, built by `npm run build:wasm` into
 * build/nn-kernels.wasm) synchronously at module load, and chooses the kernel backend of src/nn.
 *
 * Backends: "wasm" (the SIMD kernel, ≈ 6× the plain-TS one on the MLP's products) and "ts" (the plain
 * TypeScript kernel in kernels.ts: the reference, and the fallback when the .wasm file is missing or the
 * runtime has no WebAssembly SIMD). The default is "wasm" when it loaded, else "ts"; the environment
 * variable SIM2REAL_KERNEL=ts|wasm forces one at start-up (wasm then throws if it is unavailable), and
 * `setKernelBackend` switches at run time (tests run both).
 *
 * Memory: the kernels import their memory; every KernelArena (one per MlpWorkspace capacity) is a fresh
 * WebAssembly.Memory of exactly the size it needs plus its own instance of the one compiled module. An
 * arena never grows: a workspace that needs more room gets a new arena, so no Float64Array view of an
 * arena is ever detached (growing a non-shared memory detaches every view of it, DESIGN §3).
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

// Minimal WebAssembly typings (the project's lib and @types/node do not declare them).
declare namespace WebAssembly {
  class Module {
    constructor(bytes: Uint8Array);
  }
  class Memory {
    constructor(descriptor: { initial: number; maximum?: number });
    readonly buffer: ArrayBuffer;
    grow(delta: number): number;
  }
  class Instance {
    constructor(module: Module, imports: Record<string, Record<string, unknown>>);
    readonly exports: Record<string, unknown>;
  }
  function validate(bytes: Uint8Array): boolean;
}

export type KernelBackend = "ts" | "wasm";

/** The kernels' exports (addresses in bytes, strides in elements; see asm/gemm.ts). */
export interface WasmKernels {
  /** init: 0 overwrite, 1 accumulate, 2 add the bias row at `bias` (see asm/gemm.ts). */
  gemm(
    m: number,
    n: number,
    k: number,
    a: number,
    ars: number,
    aps: number,
    b: number,
    ldb: number,
    c: number,
    crs: number,
    init: number,
    bias: number,
  ): void;
  transpose(n: number, k: number, b: number, ldb: number, bt: number): void;
  tanhAct(a: number, d: number, len: number): void;
  colSums(a: number, m: number, n: number, lda: number, out: number): void;
  mulInto(out: number, x: number, y: number, len: number): void;
  hvpDeltas(
    code: number,
    a: number,
    d: number,
    rz: number,
    g: number,
    rg: number,
    delta: number,
    rdelta: number,
    len: number,
  ): void;
}

/** Where the loader looks for the compiled kernels (SIM2REAL_KERNEL_WASM overrides it, e.g. in tests). */
export const WASM_KERNEL_PATH =
  process.env.SIM2REAL_KERNEL_WASM || fileURLToPath(new URL("../../build/nn-kernels.wasm", import.meta.url));

// A module with one f64x2 instruction: validates only where WebAssembly SIMD is supported.
const SIMD_PROBE = new Uint8Array(
  Buffer.from(
    [
      "0061736d01000000", // magic, version
      "0105016000017b", // type section: () -> v128
      "03020100", // function section: one function of type 0
      "0a0f010d00", // code section: one body, no locals
      "440000000000000000", // f64.const 0
      "fd14", // f64x2.splat
      "0b", // end
    ].join(""),
    "hex",
  ),
);

function loadModule(): { module: WebAssembly.Module | null; reason: string } {
  if (typeof WebAssembly !== "object") return { module: null, reason: "no WebAssembly in this runtime" };
  let simd = false;
  try {
    simd = WebAssembly.validate(SIMD_PROBE);
  } catch {
    simd = false;
  }
  if (!simd) return { module: null, reason: "this runtime has no WebAssembly SIMD" };
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(WASM_KERNEL_PATH);
  } catch {
    return { module: null, reason: `${WASM_KERNEL_PATH} is missing (run npm run build:wasm)` };
  }
  try {
    return { module: new WebAssembly.Module(bytes), reason: "" };
  } catch (e) {
    return { module: null, reason: `${WASM_KERNEL_PATH} does not compile: ${(e as Error).message}` };
  }
}

const loaded = loadModule();

/** Bytes per WebAssembly page. */
const PAGE = 65536;

/**
 * One WebAssembly memory of fixed size with its own instance of the kernels. `f64(offset, length)` gives
 * Float64Array views into it (offsets in elements); the kernels see the same numbers at byte address
 * 8·(view.byteOffset/8 + index).
 */
export class KernelArena {
  readonly buffer: ArrayBuffer;
  readonly kernels: WasmKernels;
  readonly length: number;

  /** Room for `length` Float64 numbers. Throws when the kernels are not loaded. */
  constructor(length: number) {
    if (loaded.module === null) throw new Error(`WebAssembly kernels unavailable: ${loaded.reason}`);
    if (!Number.isSafeInteger(length) || length < 0)
      throw new RangeError(`arena length must be an integer ≥ 0, got ${length}`);
    const memory = new WebAssembly.Memory({ initial: Math.max(1, Math.ceil((8 * length) / PAGE)) });
    const instance = new WebAssembly.Instance(loaded.module, { env: { memory } });
    this.kernels = instance.exports as unknown as WasmKernels;
    this.buffer = memory.buffer;
    this.length = length;
    this.memory = memory;
    arenas.set(this.buffer, this);
  }

  /** For tests only: the memory itself (growing it would detach every view: the library never does). */
  readonly memory: WebAssembly.Memory;

  /** A view of `length` numbers at element offset `offset`. */
  f64(offset: number, length: number): Float64Array {
    if (offset < 0 || offset + length > this.length)
      throw new RangeError(`arena view [${offset}, ${offset + length}) outside [0, ${this.length})`);
    return new Float64Array(this.buffer, 8 * offset, length);
  }
}

const arenas = new WeakMap<ArrayBuffer, KernelArena>();

/** The arena whose memory backs `x`, if any (an arena's views all share its ArrayBuffer). */
export function arenaOf(x: Float64Array): KernelArena | undefined {
  return arenas.get(x.buffer as ArrayBuffer);
}

/** Whether the WebAssembly kernels loaded (else `wasmUnavailableReason` says why). */
export function wasmAvailable(): boolean {
  return loaded.module !== null;
}

export function wasmUnavailableReason(): string {
  return loaded.reason;
}

function initialBackend(): KernelBackend {
  const env = process.env.SIM2REAL_KERNEL;
  if (env === "ts") return "ts";
  if (env === "wasm") {
    if (loaded.module === null)
      throw new Error(`SIM2REAL_KERNEL=wasm, but the WebAssembly kernels are unavailable: ${loaded.reason}`);
    return "wasm";
  }
  if (env !== undefined && env !== "")
    throw new Error(`SIM2REAL_KERNEL must be "ts" or "wasm", got ${JSON.stringify(env)}`);
  return loaded.module === null ? "ts" : "wasm";
}

let backend: KernelBackend = initialBackend();

/** The backend new workspaces and every product use now. */
export function kernelBackend(): KernelBackend {
  return backend;
}

/**
 * Switch the backend (both give the same results up to floating-point reassociation). Products switch at
 * once; workspaces keep the memory they were allocated in until they next grow. Throws for "wasm" when
 * the kernels are unavailable.
 */
export function setKernelBackend(b: KernelBackend): void {
  if (b !== "ts" && b !== "wasm") throw new RangeError(`kernel backend must be "ts" or "wasm", got ${b}`);
  if (b === "wasm" && loaded.module === null)
    throw new Error(`WebAssembly kernels unavailable: ${loaded.reason}`);
  backend = b;
}

// Warm-up: V8 compiles wasm functions with its baseline compiler first and only later with the optimising
// one (and cannot switch inside a running call), so run the kernel a few times now, on every shape path.
if (loaded.module !== null) {
  const arena = new KernelArena(3 * 64 * 64);
  const x = arena.f64(0, arena.length);
  for (let i = 0; i < x.length; i++) x[i] = ((i * 7) % 13) / 13;
  for (let rep = 0; rep < 4; rep++) {
    const k = arena.kernels;
    k.gemm(63, 63, 63, 0, 64, 1, 8 * 4096, 64, 8 * 8192, 64, rep % 3, 8 * 4096);
    k.gemm(64, 64, 300, 0, 1, 13, 8 * 4096, 13, 8 * 8192, 64, 1, 0);
    k.transpose(64, 64, 0, 64, 8 * 8192);
    k.tanhAct(0, 8 * 4096, 4095);
    k.colSums(0, 63, 63, 64, 8 * 8192);
    k.mulInto(0, 8 * 4096, 8 * 8192, 4095);
    k.hvpDeltas(rep & 2, 0, 8, 16, 24, 32, 8 * 4096, 8 * 8192, 4000);
  }
}
