/** Spawning the `sim2real` CLI from tests (shared by the CLI test files). */
import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const root = fileURLToPath(new URL("..", import.meta.url));
export const BIN = join(root, "bin", "sim2real.mjs");

export interface CliResult {
  readonly args: readonly string[];
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The test runner's own variables must not leak into the CLI process. */
const childEnv = {
  ...Object.fromEntries(
    Object.entries(process.env).filter(([k]) => k !== "NODE_TEST_CONTEXT" && k !== "NODE_OPTIONS"),
  ),
  // Recorded runs go to a throw-away store, never to ./sim2real-runs of the checkout.
  SIM2REAL_STORE: process.env.SIM2REAL_STORE || join(tmpdir(), `sim2real-test-${process.pid}`, "store.db"),
};
if (!process.env.SIM2REAL_STORE)
  process.on("exit", () => rmSync(dirname(childEnv.SIM2REAL_STORE), { recursive: true, force: true }));

export function cli(args: readonly string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: root, env: childEnv });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", (d: string) => {
      stdout += d;
    });
    child.stderr.on("data", (d: string) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("close", (status) => resolve({ args, status, stdout, stderr }));
  });
}

/**
 * Processes in flight. Each CLI process costs ~0.65 s, mostly module loading (every command loads the
 * plotting stack); one more than the cores overlaps that start-up I/O.
 */
function workers(): number {
  return Math.max(3, Math.min(4, availableParallelism() + 1));
}

/** Runs `fn` over `items` with at most `limit` in flight; results in input order. */
export async function pool<T, R>(
  items: readonly T[],
  fn: (item: T) => Promise<R>,
  limit = workers(),
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export const show = (r: CliResult): string =>
  `sim2real ${r.args.join(" ")}\n  exit ${r.status}\n  stdout: ${r.stdout.slice(0, 2000)}\n  stderr: ${r.stderr.slice(0, 2000)}`;
