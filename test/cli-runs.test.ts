/**
 * `sim2real runs` and `sim2real show`, spawned against a store written here through the RunStore API:
 * JSON output, filters, prefix lookup, text output, and the errors that exit 2 (missing store, unknown run).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { RunStore } from "../src/store/store.ts";
import { type CliResult, cli, pool, show } from "./cli-helpers.ts";

const scratch = mkdtempSync(join(tmpdir(), "sim2real-cli-runs-test-"));
after(() => rmSync(scratch, { recursive: true, force: true }));
const storePath = join(scratch, "runs", "store.db");
const sha256 = (p: string) => createHash("sha256").update(readFileSync(p)).digest("hex");

const base = { version: "0.1.0", commit: "deadbeef", command: ["run", "x"] };
const CONFIG = { iterations: 3, stepSize: 0.5, inner: { tau: 0.1 }, cap: Number.POSITIVE_INFINITY };
let ids: string[] = [];
let hash = "";
const results = new Map<string, CliResult>();

const CASES: Record<string, string[]> = {
  list: ["runs", "--store", storePath, "--json"],
  filtered: ["runs", "--store", storePath, "--json", "--experiment", "alpha", "--limit", "1"],
  text: ["runs", "--store", storePath, "--status", "completed"],
  showJson: ["show", "PREFIX", "--store", storePath, "--json"],
  showText: ["show", "PREFIX", "--store", storePath],
  unknownRun: ["show", "no-such-run", "--store", storePath],
  missingStore: ["runs", "--store", join(scratch, "missing", "store.db")],
  badStatus: ["runs", "--store", storePath, "--status", "bogus"],
};

before(async () => {
  const s = RunStore.open(storePath);
  const a = s.createRun({ ...base, experiment: "alpha", config: CONFIG, seed: 3 });
  const b = s.createRun({ ...base, experiment: "beta", config: { n: 1 }, seed: 4 });
  const c = s.createRun({ ...base, experiment: "alpha", config: { n: 2 }, seed: 5 });
  s.putMetrics(a, 0, 0, { "real/return": 0.5, "sim/return": 1 });
  s.putMetrics(a, 0, 3, { "real/return": 0.75 });
  s.putMetrics(a, 1, 2, { "real/return": Number.NaN, gap: Number.NEGATIVE_INFINITY });
  for (let i = 0; i < 4; i++) s.appendTransition(a, 0, 0, i, new Float64Array([i, 1, 0]), [i]);
  s.appendTransition(a, 1, 0, 0, new Float64Array([9]), [0]);
  s.saveCheckpoint(a, 0, 3, { w: new Float64Array([1, 2]) });
  s.saveCheckpoint(a, 1, 1, { w: new Float64Array([3]) });
  s.setStatus(a, "completed");
  s.setStatus(b, "failed", "diverged");
  s.close();
  ids = [a, b, c];
  hash = sha256(storePath);
  // The shortest prefix of a that no other id shares.
  let n = 1;
  while ([b, c].some((o) => o.startsWith(a.slice(0, n)))) n++;
  const prefix = a.slice(0, n);
  const runs = await pool(Object.entries(CASES), ([, args]) =>
    cli(args.map((x) => (x === "PREFIX" ? prefix : x))),
  );
  for (const [i, k] of Object.keys(CASES).entries()) results.set(k, runs[i]);
});

const ok = (name: string): CliResult => {
  const r = results.get(name)!;
  assert.equal(r.status, 0, show(r));
  return r;
};

test("runs --json lists every run newest first with counts, without the config", () => {
  const r = ok("list");
  const rows = JSON.parse(r.stdout) as Record<string, unknown>[];
  assert.deepEqual(
    rows.map((x) => x.id),
    [ids[2], ids[1], ids[0]],
    "newest first",
  );
  const a = rows[2];
  assert.equal(a.experiment, "alpha", "experiment");
  assert.equal(a.status, "completed", "status");
  assert.equal(a.seed, 3, "seed");
  assert.equal(a.transitions, 5, "real transitions over all trials");
  assert.equal(a.lastStep, 3, "last metric step");
  assert.equal(a.commit, "deadbeef", "commit");
  assert.equal(typeof a.createdAt, "string", "createdAt");
  assert.ok(!("config" in a), "no config in the list");
  assert.equal(rows[1].error, "diverged", "error of the failed run");
  assert.equal(rows[0].lastStep, null, "no metrics → null");
  assert.equal(rows[0].transitions, 0, "no transitions → 0");
});

test("runs filters by experiment and status, and limits; without --json it prints a table", () => {
  const f = JSON.parse(ok("filtered").stdout) as { id: string }[];
  assert.deepEqual(
    f.map((x) => x.id),
    [ids[2]],
    "alpha, limit 1 → the newest alpha run",
  );
  const r = ok("text");
  const lines = r.stdout.trimEnd().split("\n");
  assert.match(
    lines[0],
    /^ID\s+EXPERIMENT\s+STATUS\s+SEED\s+CREATED\s+REAL TRANSITIONS\s+LAST STEP$/,
    r.stdout,
  );
  assert.equal(lines.length, 2, `header + the one completed run:\n${r.stdout}`);
  assert.match(
    lines[1],
    new RegExp(`^${ids[0]}\\s+alpha\\s+completed\\s+3\\s+\\S+ \\S+Z\\s+5\\s+3$`),
    r.stdout,
  );
});

test("show --json (by unique prefix): row, config, counts, last checkpoint, last metrics per trial", () => {
  const d = JSON.parse(ok("showJson").stdout);
  assert.equal(d.run.id, ids[0], "the prefix resolved to the run");
  assert.deepEqual(d.run.config, { ...CONFIG, cap: "Infinity" }, "resolved config (Infinity as a string)");
  assert.deepEqual(d.run.command, base.command, "command");
  assert.deepEqual(d.counts, { metrics: 5, transitions: 5, checkpoints: 2 }, "counts");
  assert.deepEqual(d.lastCheckpoint, { trial: 1, iteration: 1 }, "last checkpoint");
  assert.deepEqual(
    d.lastMetrics,
    [
      { trial: 0, step: 3, key: "real/return", value: 0.75 },
      { trial: 0, step: 0, key: "sim/return", value: 1 },
      { trial: 1, step: 2, key: "gap", value: "-Infinity" },
      { trial: 1, step: 2, key: "real/return", value: "NaN" },
    ],
    "last value of every key per trial",
  );
});

test("show prints the run, its config and its last metrics", () => {
  const out = ok("showText").stdout;
  assert.match(out, new RegExp(`^run\\s+${ids[0]}$`, "m"), out);
  assert.match(out, /^status\s+completed$/m, out);
  assert.match(out, /^stored\s+5 metric values, 5 real transitions, 2 checkpoints$/m, out);
  assert.match(out, /^checkpoint\s+trial 1, iteration 1$/m, out);
  assert.match(out, /^ {6}"tau": 0\.1$/m, "config pretty-printed");
  assert.match(out, /^ {4}real\/return\s+0\.75\s+\(step 3\)$/m, out);
  assert.match(out, /^ {4}gap\s+-Infinity\s+\(step 2\)$/m, out);
});

test("unknown run, missing store and a bad --status exit 2 with one message", () => {
  const u = results.get("unknownRun")!;
  assert.equal(u.status, 2, show(u));
  assert.match(u.stderr, /^sim2real: no run 'no-such-run' in store /, show(u));
  const m = results.get("missingStore")!;
  assert.equal(m.status, 2, show(m));
  assert.equal(m.stderr, `sim2real: no store at ${join(scratch, "missing", "store.db")}\n`, show(m));
  assert.equal(m.stdout, "", "missing store: nothing on stdout");
  assert.ok(!existsSync(join(scratch, "missing")), "a missing store is not created");
  const b = results.get("badStatus")!;
  assert.equal(b.status, 2, show(b));
  assert.match(b.stderr, /bogus/, show(b));
});

test("runs and show leave the store file unchanged", () => {
  assert.equal(sha256(storePath), hash, "store file identical after all commands");
});
