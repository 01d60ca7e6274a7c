#!/usr/bin/env node
// `npm run build:wasm` (and `prepare`, so `npm ci` / `npm install` build it): compiles the AssemblyScript
// kernels in asm/ into build/nn-kernels.wasm, which src/nn/wasm.ts loads at module load.
//
// Never fails an install: when AssemblyScript is not installed (e.g. `npm ci --omit=dev`) or the compile
// fails, it prints why and exits 0; src/nn then runs on its plain-TypeScript kernel (same results, slower).
// `--strict` turns those cases into a non-zero exit (for CI that wants the fast path guaranteed).
import { mkdirSync, renameSync, rmSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const source = join(root, "asm", "gemm.ts");
const outDir = join(root, "build");
const out = join(outDir, "nn-kernels.wasm");
const strict = process.argv.includes("--strict");

function giveUp(message) {
  console.warn(`build:wasm: ${message}; src/nn will use its plain-TypeScript kernel.`);
  process.exit(strict ? 1 : 0);
}

let asc;
try {
  asc = (await import("assemblyscript/asc")).default;
} catch (e) {
  giveUp(`AssemblyScript is not installed (${e.code ?? e.message})`);
}

mkdirSync(outDir, { recursive: true });
// Write next to the target, then rename: a process loading the kernel never sees a partial file.
const tmp = `${out}.${process.pid}.tmp`;
const t0 = performance.now();
const { error, stderr } = await asc.main(
  [
    relative(root, source),
    "--outFile",
    relative(root, tmp),
    "-O3",
    "--noAssert",
    "--runtime",
    "stub",
    "--enable",
    "simd",
    // One memory per MlpWorkspace, created by the loader: import it, start at 0 pages, no abort import.
    "--importMemory",
    "--initialMemory",
    "0",
    "--use",
    "abort=",
  ],
  { stdout: process.stdout, stderr: process.stderr, baseDir: root },
);
if (error) {
  rmSync(tmp, { force: true });
  giveUp(`compile failed: ${error.message}\n${stderr?.toString() ?? ""}`);
}
renameSync(tmp, out);
console.log(`build:wasm: ${relative(root, out)} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
