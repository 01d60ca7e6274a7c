/** Facts about this installation that every recorded run stores: package version, git commit, store path. */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { DEFAULT_STORE_PATH } from "../store/store.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));

export const PACKAGE_VERSION: string = (
  JSON.parse(readFileSync(`${root}package.json`, "utf8")) as { version: string }
).version;

/** The checkout's commit (with "-dirty" when it has uncommitted changes), or null outside a git checkout. */
export function gitCommit(): string | null {
  try {
    const run = (args: string[]) =>
      execFileSync("git", args, { cwd: root, stdio: ["ignore", "pipe", "ignore"], encoding: "utf8" }).trim();
    const head = run(["rev-parse", "HEAD"]);
    return run(["status", "--porcelain", "--untracked-files=no"]) === "" ? head : `${head}-dirty`;
  } catch {
    return null;
  }
}

/** `--store` default: $SIM2REAL_STORE, else ./sim2real-runs/store.db. */
export function defaultStorePath(): string {
  return process.env.SIM2REAL_STORE || DEFAULT_STORE_PATH;
}
