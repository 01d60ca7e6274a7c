/**
 * The policy file that `sim2real train` writes and `sim2real eval` (and SGFT, which reuses a sim-trained
 * SAC agent as π_sim and its value network as V_sim) reads: one JSON object
 *
 *   { format: "sim2real/policy", version: 1, algo: "sac" | "ppo", env, gaps, seed, steps,
 *     config,        the full resolved training configuration (algorithm fields + nEnvs, evalEpisodes)
 *     evaluation,    the closing deterministic evaluation (what `sim2real eval` prints with its defaults on
 *                    the training env and gaps)
 *     history,       the deterministic evaluations during training
 *     agent }        the SacCheckpoint or PpoCheckpoint (src/inner/sac.ts, ppo.ts), exact Float64
 *
 * Reading validates everything (zod) and restores the agent: a missing, unreadable, non-JSON, foreign or
 * damaged file is an InputError naming the file and the problem. The text form is deterministic (same
 * object → same bytes): 2-space indentation, but arrays of numbers (network parameters) on one line.
 */
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { z } from "zod";
import { InputError } from "../common/errors.ts";
import { PpoAgent, type PpoCheckpoint, PpoConfigSchema } from "../inner/ppo.ts";
import type { ActFn } from "../inner/rl-common.ts";
import { SacAgent, type SacCheckpoint, SacConfigSchema } from "../inner/sac.ts";
import { Rng } from "../math/rng.ts";

export const POLICY_FILE_FORMAT = "sim2real/policy";
export const POLICY_FILE_VERSION = 1;

const finite = z.number().refine(Number.isFinite, "must be a finite number");
const count = z.number().int().nonnegative();

const NetworkSchema = z.object({
  spec: z.object({
    sizes: z.array(z.number().int().positive()).min(2),
    activations: z.array(z.enum(["tanh", "relu", "softplus", "linear"])),
  }),
  params: z.array(finite),
});

const SacCheckpointSchema = z.object({
  format: z.literal("sim2real/sac"),
  version: z.literal(1),
  obsSize: z.number().int().positive(),
  actionSize: z.number().int().positive(),
  actionLow: z.array(finite),
  actionHigh: z.array(finite),
  logStdMin: finite,
  logStdMax: finite,
  actor: NetworkSchema,
  critics: z.tuple([NetworkSchema, NetworkSchema]),
  targetCritics: z.tuple([NetworkSchema, NetworkSchema]),
  value: NetworkSchema.nullable(),
  logAlpha: finite,
  targetEntropy: finite,
  steps: count,
  updates: count,
});

const PpoCheckpointSchema = z.object({
  format: z.literal("sim2real/ppo"),
  version: z.literal(1),
  obsSize: z.number().int().positive(),
  actionSize: z.number().int().positive(),
  actor: NetworkSchema,
  logStd: z.array(finite),
  value: NetworkSchema,
  steps: count,
});

/** One deterministic evaluation: K episodes on VecEnv(env, {}, K, Rng.fromSeed(seed)) (src/rl/evaluate.ts). */
export const PolicyEvaluationSchema = z.object({
  episodes: z.number().int().positive(),
  seed: z.number().int(),
  mean: finite,
  std: finite,
  length: finite,
  returns: z.array(finite),
  /** Share of successful episodes, for tasks that define success (mj-puck); absent otherwise. */
  successRate: finite.optional(),
});
export type PolicyEvaluation = z.infer<typeof PolicyEvaluationSchema>;

const PolicyFileSchema = z.object({
  format: z.literal(POLICY_FILE_FORMAT),
  version: z.literal(POLICY_FILE_VERSION),
  algo: z.enum(["sac", "ppo"]),
  env: z.string().min(1),
  gaps: z.array(z.string()),
  seed: z.number().int(),
  steps: count,
  config: z.record(z.string(), z.unknown()),
  evaluation: PolicyEvaluationSchema,
  history: z.array(z.object({ step: count, mean: finite, std: finite, length: finite })),
  agent: z.unknown(),
});

export type PolicyFile = Omit<z.infer<typeof PolicyFileSchema>, "agent"> &
  ({ algo: "sac"; agent: SacCheckpoint } | { algo: "ppo"; agent: PpoCheckpoint });

/** The fields of a training config that are not the algorithm's own (see src/rl/train.ts). */
const TRAIN_ONLY_FIELDS = ["nEnvs", "evalEpisodes"];

function issues(error: z.ZodError, prefix: string): string {
  return error.issues
    .slice(0, 5)
    .map(
      (i) => `${[prefix, ...i.path.map(String)].filter((s) => s !== "").join(".") || "(root)"}: ${i.message}`,
    )
    .join("; ");
}

/**
 * Validate a parsed policy file (`source` names it in messages). Checks the format, the version, every
 * field, and that the agent's sizes are consistent; does not build the agent (see `restorePolicy`).
 */
export function parsePolicyFile(data: unknown, source: string): PolicyFile {
  const head =
    typeof data === "object" && data !== null && !Array.isArray(data)
      ? (data as Record<string, unknown>)
      : null;
  if (head === null || head.format !== POLICY_FILE_FORMAT) {
    const found = head !== null && typeof head.format === "string" ? ` (its format is '${head.format}')` : "";
    const hint =
      head?.format === "sim2real/sac" || head?.format === "sim2real/ppo"
        ? ": a bare agent checkpoint; use the file `sim2real train` writes, which also names the env"
        : "";
    throw new InputError(
      `${source} is not a sim2real policy file (format '${POLICY_FILE_FORMAT}' expected)${found}${hint}`,
      "checkpoint",
    );
  }
  if (head.version !== POLICY_FILE_VERSION)
    throw new InputError(
      `${source}: policy file version ${JSON.stringify(head.version)} is not supported (this sim2real reads version ${POLICY_FILE_VERSION})`,
      "checkpoint",
    );
  const parsed = PolicyFileSchema.safeParse(data);
  if (!parsed.success)
    throw new InputError(`${source} is damaged: ${issues(parsed.error, "")}`, "checkpoint");
  const file = parsed.data;
  const agentSchema = file.algo === "sac" ? SacCheckpointSchema : PpoCheckpointSchema;
  const agent = agentSchema.safeParse(file.agent);
  if (!agent.success)
    throw new InputError(`${source} is damaged: ${issues(agent.error, "agent")}`, "checkpoint");
  return { ...file, agent: agent.data } as PolicyFile;
}

/** Read and validate a policy file; every failure is an InputError naming `path` and the problem. */
export function readPolicyFile(path: string): PolicyFile {
  let text: string;
  try {
    if (statSync(path).isDirectory())
      throw new InputError(`checkpoint ${path} is a directory, not a file`, "checkpoint");
    text = readFileSync(path, "utf8");
  } catch (e) {
    if (e instanceof InputError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : (code ?? String(e));
    throw new InputError(`cannot read checkpoint ${path}: ${why}`, "checkpoint");
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new InputError(
      `checkpoint ${path} is not valid JSON: ${(e as Error).message.split("\n")[0]}`,
      "checkpoint",
    );
  }
  return parsePolicyFile(data, `checkpoint ${path}`);
}

/** A restored policy: the agent and its deterministic controller (SAC: tanh μ(s) in the box; PPO: μ(s)). */
export interface RestoredPolicy {
  readonly algo: "sac" | "ppo";
  readonly obsSize: number;
  readonly actionSize: number;
  readonly act: ActFn;
  readonly sac?: SacAgent;
  readonly ppo?: PpoAgent;
}

/** The algorithm's own config from a training config (drops the train-only fields). */
function algoConfig(config: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(config).filter(([k]) => !TRAIN_ONLY_FIELDS.includes(k)));
}

/**
 * Build the agent of a (validated) policy file. The SAC agent gets the file's resolved config (γ, learning
 * rates, … as trained; network shapes come from the checkpoint). Inconsistent parameters (a network whose
 * size does not match its spec) are an InputError naming `source`.
 */
export function restorePolicy(file: PolicyFile, source = "checkpoint"): RestoredPolicy {
  try {
    if (file.algo === "sac") {
      const cfg = SacConfigSchema.parse(algoConfig(file.config));
      const agent = SacAgent.fromCheckpoint(file.agent, cfg, Rng.fromSeed(file.seed));
      return {
        algo: "sac",
        obsSize: agent.obsSize,
        actionSize: agent.actionSize,
        act: (obs, n, out) => agent.act(obs, n, out, true),
        sac: agent,
      };
    }
    PpoConfigSchema.parse(algoConfig(file.config));
    const agent = PpoAgent.fromCheckpoint(file.agent, Rng.fromSeed(file.seed));
    return {
      algo: "ppo",
      obsSize: agent.obsSize,
      actionSize: agent.actionSize,
      act: (obs, n, out) => agent.act(obs, n, out, true),
      ppo: agent,
    };
  } catch (e) {
    if (e instanceof z.ZodError)
      throw new InputError(`${source} is damaged: ${issues(e, "config")}`, "checkpoint");
    if (e instanceof RangeError) throw new InputError(`${source} is damaged: ${e.message}`, "checkpoint");
    throw e;
  }
}

/**
 * The file's text: deterministic for a given object (key order as built), pretty-printed, with every
 * array of plain numbers on one line so that network parameters do not take a line per entry.
 */
export function policyFileText(file: PolicyFile): string {
  const pretty = JSON.stringify(file, null, 2);
  const num = String.raw`-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?`;
  const array = new RegExp(String.raw`\[\n\s*(${num}(?:,\n\s*${num})*)\n\s*\]`, "g");
  return `${pretty.replace(array, (_m, body: string) => `[${body.replace(/,\n\s*/g, ", ")}]`)}\n`;
}

/** Write a policy file (creating its directory). */
export function writePolicyFile(path: string, file: PolicyFile): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, policyFileText(file), "utf8");
}
