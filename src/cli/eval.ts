/**
 * `sim2real eval <checkpoint> [--env <task>] [--gap <gap>…] [--episodes K] [--seed S] [--json]`: the
 * deterministic policy of a policy file (`sim2real train`) for K episodes on a task with gaps — a
 * simulation-trained policy measured on the "real" system gives the zero-shot gap. Prints the mean ± std
 * return (and the success rate for tasks that define one: mj-puck).
 *
 * The env defaults to the training env (without its gaps: name them again). It may differ from the
 * training env in its gaps, or be another task with the same observation and action spaces (pendulum ↔
 * mj-pendulum: a simulator-to-simulator transfer); different spaces are an InputError.
 */

import { InputError } from "../common/errors.ts";
import type { Box, ControlEnv } from "../envs/control/env.ts";
import { type DisposableEnv, makeAnyEnv, taskSuccess } from "../envs/make-env.ts";
import { readPolicyFile, restorePolicy } from "../rl/checkpoint-file.ts";
import { EVAL_DEFAULTS, evaluatePolicy } from "../rl/evaluate.ts";
import { checkEnvName, parseGapOptions } from "./train.ts";

export interface EvalOptions {
  env?: string;
  gap?: string[];
  episodes?: number;
  seed?: number;
  json?: boolean;
}

const sameBox = (a: Box, b: Box) =>
  a.low.length === b.low.length &&
  a.low.every((x, i) => Object.is(x, b.low[i])) &&
  a.high.every((x, i) => Object.is(x, b.high[i]));

function spaces(env: ControlEnv): string {
  const f = (b: Box) =>
    `[${Array.from(b.low, (l, i) => `${l}..${b.high[i]}`)
      .join(", ")
      .replace(/Infinity/g, "inf")}]`;
  return `${env.observationSpace.low.length} observations in ${f(env.observationSpace)}, ${env.actionSpace.low.length} action(s) in ${f(env.actionSpace)}`;
}

export async function evalCommand(checkpoint: string, o: EvalOptions): Promise<void> {
  const policyFile = readPolicyFile(checkpoint);
  const name = o.env ?? policyFile.env;
  checkEnvName(name);
  const gaps = parseGapOptions(o.gap);
  const episodes = o.episodes ?? EVAL_DEFAULTS.episodes;
  const seed = o.seed ?? EVAL_DEFAULTS.seed;
  if (!Number.isSafeInteger(episodes) || episodes < 1)
    throw new InputError(`--episodes must be a positive integer, got ${episodes}`, "episodes");
  const policy = restorePolicy(policyFile, `checkpoint ${checkpoint}`);
  const envs: DisposableEnv[] = [];
  try {
    const trained = await makeAnyEnv(policyFile.env, [], "checkpoint env");
    envs.push(trained);
    const env = await makeAnyEnv(name, gaps, "--env", "--gap");
    envs.push(env);
    if (
      policy.obsSize !== trained.observationSpace.low.length ||
      policy.actionSize !== trained.actionSpace.low.length
    )
      throw new InputError(
        `checkpoint ${checkpoint} is damaged: its agent has ${policy.obsSize} observations and ${policy.actionSize} action(s), its env ${policyFile.env} ${spaces(trained)}`,
        "checkpoint",
      );
    // Observation bounds may differ (the classic pendulum clips θ̇ at 8, MuJoCo's does not); sizes and the
    // action box may not (SAC maps its squashed actions into the box it was trained with).
    if (
      env.observationSpace.low.length !== trained.observationSpace.low.length ||
      !sameBox(env.actionSpace, trained.actionSpace)
    )
      throw new InputError(
        `--env: the policy in ${checkpoint} was trained on ${policyFile.env} (${spaces(trained)}); ${name} has ${spaces(env)}. The env may differ from the training env only in its gaps (or be a task with the same observation size and action box)`,
        "env",
      );
    const res = evaluatePolicy(env, policy.act, episodes, seed, await taskSuccess(name));
    const gapLabels = gaps.map((g) => g.label);
    if (o.json) {
      process.stdout.write(
        `${JSON.stringify(
          {
            checkpoint,
            algo: policyFile.algo,
            trained: {
              env: policyFile.env,
              gaps: policyFile.gaps,
              seed: policyFile.seed,
              steps: policyFile.steps,
            },
            env: name,
            gaps: gapLabels,
            ...res,
          },
          null,
          2,
        )}\n`,
      );
      return;
    }
    const trainedOn = [policyFile.env, ...policyFile.gaps].join("+");
    const lines = [
      `policy   ${checkpoint}: ${policyFile.algo} trained on ${trainedOn}, seed ${policyFile.seed}, ${policyFile.steps} steps`,
      `env      ${env.id}`,
      `return   ${res.mean.toFixed(2)} ± ${res.std.toFixed(2)}  (mean ± std over ${episodes} episodes, eval seed ${seed}; mean length ${res.length.toFixed(1)})`,
    ];
    if (res.successRate !== undefined)
      lines.push(
        `success  ${res.successRate.toFixed(3)}  (${Math.round(res.successRate * episodes)} of ${episodes} episodes end with the task solved)`,
      );
    process.stdout.write(`${lines.join("\n")}\n`);
  } finally {
    for (const e of envs) e.dispose();
  }
}
