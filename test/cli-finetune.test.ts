/**
 * `sim2real pretrain` and `sim2real finetune`, spawned as child processes: a tiny sim bundle, each
 * fine-tuning method for a few hundred real steps, determinism, and bad input (exit 2, one message).
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { cli, pool, show } from "./cli-helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "sim2real-finetune-"));
const bundle = join(dir, "bundle.json");
after(() => rmSync(dir, { recursive: true, force: true }));

before(async () => {
  const r = await cli([
    "pretrain",
    "--env",
    "pendulum",
    "--steps",
    "1200",
    "--hidden",
    "16,16",
    "--model-updates",
    "100",
    "--seed",
    "3",
    "--out",
    bundle,
    "--quiet",
  ]);
  assert.equal(r.status, 0, show(r));
});

test("pretrain writes a sim bundle with V_sim and the dynamics model", () => {
  const b = JSON.parse(readFileSync(bundle, "utf8"));
  assert.equal(b.format, "sim2real/sim-bundle", "format");
  assert.equal(b.env, "pendulum", "env");
  assert.equal(b.simSteps, 1200, "simulator steps");
  assert.notEqual(b.sac.value, null, "the SAC agent carries the value network");
  assert.deepEqual(
    b.model.net.spec.sizes,
    [4, 128, 128, 5],
    "delta model: (obs 3 + action 1) → (Δobs 3, r, done)",
  );
});

const small = join(dir, "small.json");
writeFileSync(small, JSON.stringify({ batchSize: 32, initialSteps: 100, evalInterval: 100 }));
const mpcSmall = join(dir, "mpc.json");
writeFileSync(
  mpcSmall,
  JSON.stringify({
    initialSteps: 100,
    evalInterval: 100,
    fitUpdates: 20,
    mppi: { samples: 32, priorSamples: 4, iterations: 2 },
  }),
);

test("finetune runs every method, counts real transitions and is deterministic", async () => {
  const methods = ["sgft-sac", "sac", "pbrs-sac", "sgft-mpc"] as const;
  const items = [...methods, "sgft-sac"].map((m, i) => ({ m, i }));
  const runs = await pool(items, async ({ m, i }) => {
    const out = join(dir, `ft-${m}-${i}`);
    const r = await cli([
      "finetune",
      "--env",
      "pendulum",
      "--gap",
      "sgft-friction:0.5",
      "--method",
      m,
      "--from",
      bundle,
      "--steps",
      m === "sgft-mpc" ? "100" : "200",
      "--seed",
      "1",
      "--config",
      m === "sgft-mpc" ? mpcSmall : small,
      "--out",
      out,
      "--quiet",
    ]);
    return { m, r, out };
  });
  for (const { m, r, out } of runs) {
    assert.equal(r.status, 0, show(r));
    const res = JSON.parse(readFileSync(join(out, "result.json"), "utf8"));
    const steps = m === "sgft-mpc" ? 100 : 200;
    assert.equal(res.points[0].realTransitions, 0, `${m}: zero-shot evaluation first`);
    assert.equal(res.points.at(-1).realTransitions, steps, `${m}: the budget is counted exactly`);
    assert.equal(res.gaps, "sgft-friction:0.5", `${m}: gaps recorded`);
    const csv = readFileSync(join(out, "curve.csv"), "utf8").trim().split("\n");
    assert.equal(csv.length, res.points.length + 1, `${m}: one CSV row per evaluation`);
    assert.equal(Number(csv[1].split(",")[1]), res.points[0].return, `${m}: CSV return equals JSON`);
    assert.match(r.stdout, new RegExp(`${m} on pendulum\\+sgft-friction:0.5`), `${m}: summary line`);
  }
  const a = readFileSync(join(runs[0].out, "result.json"), "utf8");
  const b = readFileSync(join(runs[4].out, "result.json"), "utf8").replace(runs[4].out, runs[0].out);
  assert.equal(a.replace(/"from":.*\n/, ""), b.replace(/"from":.*\n/, ""), "same seed → identical result");
});

test("finetune: bad input exits 2 with one message", async () => {
  const bad = join(dir, "bad.json");
  writeFileSync(bad, JSON.stringify({ bogus: 1 }));
  const notBundle = join(dir, "nb.json");
  writeFileSync(notBundle, JSON.stringify({ format: "sim2real/policy" }));
  const cases: [string[], RegExp][] = [
    [["--method", "sgft-sac", "--from", join(dir, "missing.json")], /--from: cannot read/],
    [["--method", "sgft-sac", "--from", notBundle], /--from: .* is not a sim bundle/],
    [["--method", "sgft-sac", "--from", bundle, "--config", bad], /--config: unknown field 'bogus'/],
    [["--method", "sgft-sac", "--from", bundle, "--gap", "nope"], /unknown gap 'nope'/],
    [["--method", "bogus", "--from", bundle], /bogus/],
    [["--method", "sgft-sac", "--from", bundle, "--env", "cartpole"], /trained on 'pendulum'/],
  ];
  const results = await pool(cases, ([args]) =>
    cli(["finetune", ...(args.includes("--env") ? [] : ["--env", "pendulum"]), ...args]),
  );
  results.forEach((r, i) => {
    assert.equal(r.status, 2, show(r));
    assert.match(r.stderr, cases[i][1], show(r));
    assert.doesNotMatch(r.stderr, /\n\s+at /, `no stack trace: ${show(r)}`);
  });
});
