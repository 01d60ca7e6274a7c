/**
 * `sim2real train --env <task> [--gap <gap>…] --algo sac|ppo [--steps N] [--seed S] [--out FILE]
 * [--config FILE] [--quiet]`: trains a policy (src/rl/train.ts) and writes the policy file
 * (src/rl/checkpoint-file.ts). Progress lines go to stderr, the closing summary to stdout. The file holds
 * no wall-clock data: one seed gives a byte-identical file.
 */
import { mkdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { InputError } from "../common/errors.ts";
import type { Gap } from "../envs/control/gaps.ts";
import { parseGap } from "../envs/control/registry.ts";
import { envNames, makeAnyEnv } from "../envs/make-env.ts";
import { writePolicyFile } from "../rl/checkpoint-file.ts";
import { resolveTrainConfig, type TrainAlgo, type TrainConfig, trainPolicy } from "../rl/train.ts";
import { readConfigFile } from "./config-file.ts";

export interface TrainOptions {
  env: string;
  gap?: string[];
  algo: TrainAlgo;
  steps?: number;
  seed?: number;
  out?: string;
  config?: string;
  quiet?: boolean;
}

/** `--gap` values (repeatable, each also a comma-separated list) as gaps; errors name `--gap`. */
export function parseGapOptions(values: readonly string[] | undefined): Gap[] {
  return (values ?? []).flatMap((v) => v.split(",")).map((part) => parseGap(part, "--gap"));
}

/** `--env`: a known task name, else an InputError listing them. */
export function checkEnvName(name: string): void {
  if (!envNames().includes(name))
    throw new InputError(`--env: unknown env '${name}'; known: ${envNames().join(", ")}`, "env");
}

/** Refuse an --out that cannot be written before spending minutes on training. */
function checkOut(out: string): void {
  let isDir = false;
  try {
    isDir = statSync(out).isDirectory();
  } catch {
    // absent: fine
  }
  if (isDir)
    throw new InputError(
      `--out: ${out} is a directory; give a file name (e.g. ${join(out, "policy.json")})`,
      "out",
    );
  try {
    mkdirSync(dirname(out), { recursive: true });
  } catch (e) {
    throw new InputError(
      `--out: cannot create directory ${dirname(out)}: ${(e as NodeJS.ErrnoException).code ?? e}`,
      "out",
    );
  }
}

const fmt = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(1) : x.toPrecision(4));

export async function trainCommand(o: TrainOptions): Promise<void> {
  checkEnvName(o.env);
  const gaps = parseGapOptions(o.gap);
  const seed = o.seed ?? 0;
  // The gaps must fit the task (sgft-friction is the pendulum's): find out before anything is written.
  (await makeAnyEnv(o.env, gaps, "--env", "--gap")).dispose();
  let config: TrainConfig;
  if (o.config === undefined) config = resolveTrainConfig(o.env, o.algo, undefined, { totalSteps: o.steps });
  else {
    const file = readConfigFile(o.config);
    try {
      config = resolveTrainConfig(o.env, o.algo, file, { totalSteps: o.steps });
    } catch (e) {
      if (e instanceof InputError) throw new InputError(`--config ${o.config}: ${e.message}`, "config");
      throw e;
    }
  }
  if (config.totalSteps <= 0) throw new InputError("--steps: the number of steps must be positive", "steps");
  const label = [o.env, ...gaps.map((g) => g.label)].join("+");
  const out = o.out ?? join("sim2real-out", "policies", `${label}-${o.algo}-seed${seed}.json`);
  checkOut(out);
  const quiet = o.quiet ?? false;
  const say = (s: string) => {
    if (!quiet) process.stderr.write(`${s}\n`);
  };
  say(`train ${o.algo} on ${label}, seed ${seed}, ${config.totalSteps} steps → ${out}`);
  const t0 = performance.now();
  let lastReturn: number | undefined;
  const policy = await trainPolicy({ env: o.env, gaps, algo: o.algo, seed, config }, (step, m) => {
    if (m["train/episodeReturn"] !== undefined) lastReturn = m["train/episodeReturn"];
    if (m["eval/return"] === undefined) return;
    const secs = ((performance.now() - t0) / 1000).toFixed(0);
    const train = lastReturn === undefined ? "" : `  train/episodeReturn ${fmt(lastReturn)}`;
    say(
      `  step ${step}/${config.totalSteps}  eval/return ${fmt(m["eval/return"])} ± ${fmt(m["eval/returnStd"])}${train}  (${secs} s)`,
    );
  });
  writePolicyFile(out, policy);
  const ev = policy.evaluation;
  const success = ev.successRate === undefined ? "" : `, success ${ev.successRate}`;
  process.stdout.write(
    `${out}: ${o.algo} on ${label}, seed ${seed}, ${policy.steps} steps; deterministic return ${fmt(ev.mean)} ± ${fmt(ev.std)} (${ev.episodes} episodes, eval seed ${ev.seed}${success}; ${((performance.now() - t0) / 1000).toFixed(0)} s)\n`,
  );
}
