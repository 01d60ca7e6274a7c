/**
 * Durable runs through the real CLI: a run on sampled real transitions is killed with SIGKILL at random
 * moments (fixed seed for the kill times) and resumed each time; every transition committed before a kill
 * is still there afterwards, the store opens cleanly every time, and the resumed run ends with exactly the
 * metrics and outputs of an uninterrupted run. SIGINT stops a run with exit code 130, marked interrupted.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import Database from "better-sqlite3";
import { Rng } from "../src/math/rng.ts";
import { RunStore } from "../src/store/store.ts";
import { BIN, cli, root } from "./cli-helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "sim2real-resume-"));
after(() => rmSync(dir, { recursive: true, force: true }));

// Two trials so that a kill can also land on a trial boundary; checkpoints every 7 iterations so that
// most resumes replay recorded real batches before collecting new ones.
const ARGS = [
  "run",
  "paper-discrete-sampled",
  "--trials",
  "2",
  "--iterations",
  "300",
  "--seed",
  "3",
  "--checkpoint-every",
  "7",
  "--real-trajectories",
  "4",
  "--real-horizon",
  "25",
  "--sim-steps",
  "400",
];

const childEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => k !== "NODE_TEST_CONTEXT" && k !== "NODE_OPTIONS"),
);

function start(args: string[]): {
  child: ChildProcess;
  ready: Promise<void>;
  exit: Promise<number | null>;
  stderr: () => string;
} {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: root, env: childEnv });
  let err = "";
  const ready = new Promise<void>((resolve) => {
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (d: string) => {
      err += d;
      if (/^(run|resuming run) \S+/m.test(err)) resolve();
    });
    child.on("close", () => resolve());
  });
  const exit = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  return { child, ready, exit, stderr: () => err };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const ITERS = 300;

/** How far the run in the store has got: trial·(iterations + 1) + step of its last metric (−1: nothing). */
function progressOf(path: string): number {
  if (!existsSync(path)) return -1;
  try {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    try {
      const row = db.prepare("SELECT MAX(trial * ? + step) AS p FROM metrics").get(ITERS + 1) as {
        p: number | null;
      };
      return row.p ?? -1;
    } finally {
      db.close();
    }
  } catch {
    return -1; // the file is being created
  }
}

/** Resolves once the run has reached `target` (polling the store), or the process has exited. */
async function reached(path: string, target: number, exited: () => boolean): Promise<void> {
  while (!exited() && progressOf(path) < target) await sleep(15);
}

/** Every real transition in the store: "trial/batch/idx" → hex of its data. */
function allTransitions(path: string): Map<string, string> {
  const db = new Database(path, { readonly: true });
  try {
    const rows = db.prepare("SELECT trial, batch, idx, data FROM transitions").all() as {
      trial: number;
      batch: number;
      idx: number;
      data: Buffer;
    }[];
    return new Map(rows.map((r) => [`${r.trial}/${r.batch}/${r.idx}`, r.data.toString("hex")]));
  } finally {
    db.close();
  }
}

function integrity(path: string): string {
  const db = new Database(path, { readonly: true });
  try {
    return String(db.pragma("integrity_check", { simple: true }));
  } finally {
    db.close();
  }
}

function metricsOf(path: string) {
  const store = RunStore.open(path, { readonly: true });
  try {
    const [run] = store.listRuns();
    assert.ok(run, `no run in ${path}`);
    return { run, rows: store.metrics(run.id), transitions: store.countTransitions(run.id) };
  } finally {
    store.close();
  }
}

function sameMetrics(a: ReturnType<typeof metricsOf>, b: ReturnType<typeof metricsOf>, what: string) {
  assert.equal(a.rows.length, b.rows.length, `${what}: number of metric rows`);
  for (let i = 0; i < a.rows.length; i++) {
    const x = a.rows[i];
    const y = b.rows[i];
    assert.ok(
      x.trial === y.trial && x.step === y.step && x.key === y.key && Object.is(x.value, y.value),
      `${what}: row ${i} differs: ${JSON.stringify(x)} vs ${JSON.stringify(y)}`,
    );
  }
  assert.equal(a.transitions, b.transitions, `${what}: real transitions recorded`);
}

const reference = (async () => {
  const res = await cli([...ARGS, "--store", join(dir, "ref.db"), "--out", join(dir, "ref-out"), "--quiet"]);
  assert.equal(res.status, 0, `uninterrupted run failed: ${res.stderr}`);
  return metricsOf(join(dir, "ref.db"));
})();

test("SIGKILL at random moments, then resume: nothing committed is lost and the final metrics are exact", async (t) => {
  const ref = await reference;
  assert.equal(ref.run.status, "completed", "reference run status");
  assert.equal(ref.transitions, 2 * 300 * 4 * 25, "reference run: every real transition recorded");
  const store = join(dir, "kill.db");
  const out = join(dir, "kill-out");
  // Kill points spread over the whole run, whatever the machine's speed: 12 seeded random fractions of
  // its progress (trial, iteration), each followed by a random 0–40 ms so kills land mid-iteration too.
  const rng = Rng.fromSeed(20261121);
  const total = 2 * (ITERS + 1);
  const targets = Array.from({ length: 12 }, () => Math.floor(rng.uniform() * (total - 2))).sort(
    (a, b) => a - b,
  );
  let kills = 0;
  let runId: string | undefined;
  let seen = new Map<string, string>();
  for (let spawnCount = 0; ; spawnCount++) {
    assert.ok(spawnCount < 40, "the run never completed");
    const args = runId ? ["resume", runId, "--store", store] : [...ARGS, "--store", store, "--out", out];
    const p = start(args);
    let done = false;
    p.exit.then(() => {
      done = true;
    });
    const target = targets[kills];
    if (target === undefined) {
      assert.equal(await p.exit, 0, `final resume (${args.join(" ")}) failed: ${p.stderr()}`);
      break;
    }
    await reached(store, target, () => done);
    await sleep(Math.floor(rng.uniform() * 40));
    if (done) {
      assert.equal(await p.exit, 0, `spawn ${spawnCount} (${args.join(" ")}) failed: ${p.stderr()}`);
      break;
    }
    p.child.kill("SIGKILL");
    await p.exit;
    kills++;
    assert.equal(integrity(store), "ok", `after kill ${kills}: integrity check`);
    const s = RunStore.open(store); // a writable open: schema checks, WAL recovery
    runId ??= s.listRuns()[0]?.id;
    s.close();
    assert.ok(runId, `after kill ${kills}: the run is in the store`);
    const now = allTransitions(store);
    for (const [k, v] of seen)
      assert.equal(now.get(k), v, `after kill ${kills}: transition ${k} lost or changed`);
    seen = now;
  }
  assert.ok(kills >= 10, `only ${kills} kills landed before the run completed`);
  t.diagnostic(`${kills} SIGKILLs, ${seen.size} real transitions recorded before the last one`);
  const got = metricsOf(store);
  assert.equal(got.run.status, "completed", "resumed run status");
  sameMetrics(got, ref, `after ${kills} kills`);
  for (const f of ["summary.json", "trial-3.csv", "trial-4.csv"])
    assert.equal(
      readFileSync(join(out, f), "utf8"),
      readFileSync(join(dir, "ref-out", f), "utf8"),
      `${f} differs from the uninterrupted run's`,
    );
});

test("SIGINT stops a run with exit code 130, marked interrupted; resume completes it exactly", async () => {
  const ref = await reference;
  const store = join(dir, "int.db");
  const p = start([...ARGS, "--store", store, "--out", join(dir, "int-out")]);
  let done = false;
  p.exit.then(() => {
    done = true;
  });
  await reached(store, 100, () => done);
  p.child.kill("SIGINT");
  assert.equal(await p.exit, 130, "exit code after SIGINT");
  const mid = metricsOf(store);
  assert.equal(mid.run.status, "interrupted", "status after SIGINT");
  assert.ok(
    mid.transitions > 0 && mid.transitions < ref.transitions,
    `transitions at the stop: ${mid.transitions}`,
  );
  const res = await cli(["resume", mid.run.id.slice(0, 12), "--store", store, "--quiet"]);
  assert.equal(res.status, 0, `resume failed: ${res.stderr}`);
  sameMetrics(metricsOf(store), ref, "after SIGINT + resume");
  const again = await cli(["resume", mid.run.id, "--store", store]);
  assert.equal(again.status, 2, "resuming a completed run is an error");
  assert.match(again.stderr, /completed/, "the message says why");
});
