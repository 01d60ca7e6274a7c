/**
 * The run store: schema and migrations, runs, metrics, real transitions, checkpoints (bit-exact codec),
 * and the faults that must leave a file untouched (corrupt, foreign, newer, locked, read-only).
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import Database from "better-sqlite3";
import { InputError } from "../src/common/errors.ts";
import {
  APPLICATION_ID,
  CHECKPOINTS_KEPT,
  decodeState,
  encodeState,
  RunStore,
  SCHEMA_VERSION,
  StoreError,
} from "../src/store/store.ts";

const scratch = mkdtempSync(join(tmpdir(), "sim2real-store-test-"));
after(() => rmSync(scratch, { recursive: true, force: true }));
let counter = 0;
/** A fresh path in its own directory. */
const freshPath = (name = "store.db") => {
  const dir = join(scratch, `case-${counter++}`);
  mkdirSync(dir);
  return join(dir, name);
};
const sha256 = (p: string) => createHash("sha256").update(readFileSync(p)).digest("hex");

const RUN = {
  experiment: "paper-discrete",
  config: { iterations: 40, stepSize: 0.5, nested: { objective: "soft" } },
  seed: 7,
  version: "0.1.0",
  commit: "abc1234",
  command: ["run", "paper-discrete", "--seed", "7"],
};

/** Asserts that `fn` throws a StoreError (an InputError, so the CLI exits 2) whose message matches. */
function throwsStore(fn: () => unknown, re: RegExp, what: string): StoreError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof StoreError, `${what}: expected a StoreError, got ${String(caught)}`);
  assert.ok(caught instanceof InputError, `${what}: a StoreError is an InputError`);
  assert.match(caught.message, re, `${what}: message`);
  return caught;
}

/** A store with one run, some metrics and transitions, closed; returns its path and the run id. */
function populated(transitions = 5): { path: string; id: string } {
  const path = freshPath();
  const s = RunStore.open(path);
  const id = s.createRun(RUN);
  s.putMetrics(id, 0, 1, { "real/return": 1.5 });
  for (let i = 0; i < transitions; i++)
    s.appendTransition(id, 0, 0, i, new Float64Array(64).fill(i), [i, i + 1]);
  s.close();
  return { path, id };
}

describe("schema and migrations", () => {
  test("a new store is created with its parent directories, WAL mode, version and application id", () => {
    const path = join(scratch, "deep", "er", "store.db");
    const s = RunStore.open(path);
    assert.equal(s.path, path, "path is kept as given");
    s.close();
    assert.ok(existsSync(path), "file created");
    const db = new Database(path, { readonly: true });
    try {
      assert.equal(db.pragma("user_version", { simple: true }), SCHEMA_VERSION, "user_version");
      assert.equal(db.pragma("application_id", { simple: true }), APPLICATION_ID, "application_id");
      assert.equal(db.pragma("journal_mode", { simple: true }), "wal", "journal mode");
      const tables = (
        db.prepare("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name").all() as {
          name: string;
        }[]
      ).map((r) => r.name);
      assert.deepEqual(tables, ["checkpoints", "meta", "metrics", "runs", "transitions"], "tables");
      const meta = db.prepare("SELECT value FROM meta WHERE key = 'created_by'").get() as { value: string };
      assert.equal(meta.value, "sim2real", "meta row");
    } finally {
      db.close();
    }
  });

  test("an empty (0-byte) file is migrated; reopening keeps the data", () => {
    const path = freshPath();
    writeFileSync(path, "");
    const s = RunStore.open(path);
    const id = s.createRun(RUN);
    s.close();
    const again = RunStore.open(path);
    assert.equal(again.getRun(id).experiment, "paper-discrete", "run survives reopening");
    again.close();
    const ro = RunStore.open(path, { readonly: true });
    assert.equal(ro.listRuns().length, 1, "read-only open sees the run");
    ro.close();
  });
});

describe("runs", () => {
  test("createRun / getRun round-trip the row; setStatus updates status and error", () => {
    const s = RunStore.open(freshPath());
    const id = s.createRun({ ...RUN, config: { x: Number.POSITIVE_INFINITY, a: [1, 2] }, commit: null });
    assert.match(id, /^\d{8}-\d{6}-[0-9a-f]{6}$/, "id format");
    const r = s.getRun(id);
    assert.equal(r.id, id, "id");
    assert.deepEqual(r.config, { x: Number.POSITIVE_INFINITY, a: [1, 2] }, "config (parsed)");
    assert.equal(r.seed, 7, "seed");
    assert.equal(r.commit, null, "commit");
    assert.deepEqual(r.command, RUN.command, "command");
    assert.equal(r.status, "running", "new run is running");
    assert.equal(r.error, null, "no error");
    assert.ok(!Number.isNaN(Date.parse(r.createdAt)) && r.createdAt === r.updatedAt, "timestamps");
    s.setStatus(id, "failed", "boom");
    assert.equal(s.getRun(id).status, "failed", "status set");
    assert.equal(s.getRun(id).error, "boom", "error set");
    s.setStatus(id, "completed");
    assert.equal(s.getRun(id).error, null, "error cleared");
    throwsStore(() => s.setStatus("nope", "completed"), /no run 'nope'/, "setStatus unknown");
    s.close();
  });

  test("getRun accepts a unique prefix; ambiguous and unknown prefixes are StoreErrors naming the id", () => {
    const s = RunStore.open(freshPath());
    const a = s.createRun(RUN);
    const b = s.createRun(RUN);
    assert.notEqual(a, b, "ids are unique");
    let common = 0;
    while (a[common] === b[common]) common++;
    assert.equal(s.getRun(a.slice(0, common + 1)).id, a, "unique prefix of a");
    assert.equal(s.getRun(b.slice(0, common + 1)).id, b, "unique prefix of b");
    const e = throwsStore(() => s.getRun(a.slice(0, common)), /ambiguous/, "ambiguous prefix");
    assert.ok(e.message.includes(`'${a.slice(0, common)}'`), `names the prefix: ${e.message}`);
    throwsStore(() => s.getRun("zz-unknown"), /no run 'zz-unknown'/, "unknown id");
    throwsStore(() => s.getRun(""), /no run ''/, "empty id");
    s.close();
  });

  test("listRuns: newest first, filters by experiment and status, limit", () => {
    const s = RunStore.open(freshPath());
    const ids = [
      s.createRun(RUN),
      s.createRun({ ...RUN, experiment: "other" }),
      s.createRun(RUN),
      s.createRun({ ...RUN, experiment: "other" }),
    ];
    s.setStatus(ids[0], "completed");
    s.setStatus(ids[3], "completed");
    assert.deepEqual(
      s.listRuns().map((r) => r.id),
      [...ids].reverse(),
      "newest first",
    );
    assert.deepEqual(
      s.listRuns({ experiment: "other" }).map((r) => r.id),
      [ids[3], ids[1]],
      "experiment filter",
    );
    assert.deepEqual(
      s.listRuns({ status: "completed" }).map((r) => r.id),
      [ids[3], ids[0]],
      "status filter",
    );
    assert.deepEqual(
      s.listRuns({ experiment: "paper-discrete", status: "running" }).map((r) => r.id),
      [ids[2]],
      "both filters",
    );
    assert.deepEqual(
      s.listRuns({ limit: 2 }).map((r) => r.id),
      [ids[3], ids[2]],
      "limit",
    );
    s.close();
  });
});

describe("metrics", () => {
  test("round-trip with NaN and ±Infinity, replace on the same key, ordering and filters", () => {
    const s = RunStore.open(freshPath());
    const id = s.createRun(RUN);
    s.putMetrics(id, 1, 0, { b: -0, a: Number.NaN });
    s.putMetrics(id, 0, 2, {
      "real/return": Number.POSITIVE_INFINITY,
      "sim/return": Number.NEGATIVE_INFINITY,
    });
    s.putMetrics(id, 0, 1, { "real/return": 0.1, "sim/return": -5e-324 });
    s.putMetrics(id, 0, 1, { "real/return": 0.25 }); // replaces
    const all = s.metrics(id);
    assert.deepEqual(
      all.map((m) => [m.trial, m.step, m.key]),
      [
        [0, 1, "real/return"],
        [0, 1, "sim/return"],
        [0, 2, "real/return"],
        [0, 2, "sim/return"],
        [1, 0, "a"],
        [1, 0, "b"],
      ],
      "ordered by trial, step, key; one row per key",
    );
    assert.equal(all[0].value, 0.25, "replaced value");
    assert.equal(all[1].value, -5e-324, "subnormal");
    assert.equal(all[2].value, Number.POSITIVE_INFINITY, "+Infinity");
    assert.equal(all[3].value, Number.NEGATIVE_INFINITY, "-Infinity");
    assert.ok(Number.isNaN(all[4].value), "NaN read back as NaN");
    assert.ok(Object.is(all[5].value, -0), "-0 read back as -0");
    assert.deepEqual(
      s.metrics(id, { trial: 0, keyPrefix: "real/" }).map((m) => [m.step, m.value]),
      [
        [1, 0.25],
        [2, Number.POSITIVE_INFINITY],
      ],
      "trial and key-prefix filters",
    );
    assert.deepEqual(
      s.lastMetrics(id).map((m) => [m.trial, m.key, m.step]),
      [
        [0, "real/return", 2],
        [0, "sim/return", 2],
        [1, "a", 0],
        [1, "b", 0],
      ],
      "last value of each key per trial",
    );
    const sum = s.summary(id);
    assert.equal(sum.metrics, 6, "summary metric count");
    assert.equal(sum.lastStep, 2, "summary last step");
    throwsStore(() => s.putMetrics("nope", 0, 0, { a: 1 }), /no run 'nope'/, "metrics of an unknown run");
    s.close();
  });

  test("putMetrics writes all keys of one call or none", () => {
    const s = RunStore.open(freshPath());
    const id = s.createRun(RUN);
    assert.throws(
      () => s.putMetrics(id, 0, 0, { a: 1, b: "x" as unknown as number }),
      /metric 'b' must be a number/,
      "a non-number is refused",
    );
    assert.equal(s.metrics(id).length, 0, "nothing stored");
    s.close();
  });
});

describe("real transitions", () => {
  test("append, read back in idx order, count; a duplicate key is an error and keeps the original", () => {
    const s = RunStore.open(freshPath());
    const id = s.createRun(RUN);
    const d = (k: number) => new Float64Array([k, -0, Number.NaN, Number.POSITIVE_INFINITY, 1e-310]);
    s.appendTransition(id, 0, 3, 1, d(1), [11, 12]);
    s.appendTransition(id, 0, 3, 0, d(0), [1, 2, 3]);
    s.appendTransition(id, 1, 0, 0, d(9), []);
    // A view into a larger buffer: only its own bytes are stored.
    const big = new Float64Array([100, 101, 102, 103]);
    s.appendTransition(id, 0, 3, 2, big.subarray(1, 3), [0]);
    const got = s.transitions(id, 0, 3);
    assert.deepEqual(
      got.map((t) => t.idx),
      [0, 1, 2],
      "ordered by idx",
    );
    assert.deepEqual(
      Buffer.from(got[1].data.buffer),
      Buffer.from(d(1).buffer),
      "data bytes round-trip (-0, NaN, Infinity, subnormal)",
    );
    assert.deepEqual(Array.from(got[2].data), [101, 102], "subarray view");
    assert.deepEqual(got[0].rng, [1, 2, 3], "rng state");
    assert.equal(s.countTransitions(id), 4, "count over trials");
    assert.equal(s.countTransitions(id, 0), 3, "count of trial 0");
    assert.equal(s.countTransitions(id, 5), 0, "count of an empty trial");
    throwsStore(
      () => s.appendTransition(id, 0, 3, 1, new Float64Array([42]), [0]),
      /already stored/,
      "duplicate transition",
    );
    assert.equal(s.transitions(id, 0, 3)[1].data[0], 1, "original transition kept");
    throwsStore(
      () => s.appendTransition("nope", 0, 0, 0, new Float64Array(1), []),
      /no run 'nope'/,
      "transition of an unknown run",
    );
    s.close();
  });

  test("a transition is visible to another connection as soon as appendTransition returns", () => {
    const path = freshPath();
    const s = RunStore.open(path);
    const id = s.createRun(RUN);
    s.appendTransition(id, 0, 0, 0, new Float64Array([1, 2]), [5]);
    const other = new Database(path, { readonly: true });
    try {
      const n = other.prepare("SELECT count(*) AS n FROM transitions").get() as { n: number };
      assert.equal(n.n, 1, "committed, not pending");
    } finally {
      other.close();
      s.close();
    }
  });
});

describe("checkpoints and the codec", () => {
  test("encodeState/decodeState round-trip typed arrays and special numbers bit-exactly", () => {
    const f = new Float64Array([Number.NaN, -0, 0, 5e-324, 2.2250738585072014e-308 / 3, 1 / 3, -Infinity]);
    // A NaN with a non-default payload survives as bytes.
    new DataView(f.buffer).setUint32(0, 0x7ff80000 | 0x1234, true);
    new DataView(f.buffer).setUint32(4, 0x7ff81234, true);
    const state = {
      weights: f,
      counts: new Int32Array([-1, 2 ** 31 - 1, -(2 ** 31)]),
      bytes: new Uint8Array([0, 255, 7]),
      view: new Float64Array([1, 2, 3, 4]).subarray(1, 3),
      f32: new Float32Array([Math.fround(0.1), Number.NaN]),
      nested: {
        deep: [{ x: Number.NaN, y: -0, z: Number.POSITIVE_INFINITY, w: 1e-320 }],
        list: [1, "a", null, true],
      },
      tricky: { $f64: "not a tag" },
      undef: undefined,
      big: 123456789012345678901234567890n,
      ["__proto__"]: { p: 1 },
    };
    const back = decodeState(encodeState(state)) as typeof state;
    assert.ok(back.weights instanceof Float64Array, "Float64Array type");
    assert.deepEqual(
      Buffer.from(back.weights.buffer),
      Buffer.from(f.buffer),
      "Float64Array bytes (NaN payload, -0, subnormals)",
    );
    assert.ok(back.counts instanceof Int32Array && back.bytes instanceof Uint8Array, "integer array types");
    assert.deepEqual(Array.from(back.counts), Array.from(state.counts), "Int32Array values");
    assert.deepEqual(Array.from(back.bytes), [0, 255, 7], "Uint8Array values");
    assert.deepEqual(Array.from(back.view), [2, 3], "a subarray keeps only its own elements");
    assert.deepEqual(Buffer.from(back.f32.buffer), Buffer.from(state.f32.buffer), "Float32Array bytes");
    assert.ok(Object.is(back.nested.deep[0].y, -0), "-0 survives");
    assert.ok(Number.isNaN(back.nested.deep[0].x), "NaN survives");
    assert.equal(back.nested.deep[0].z, Number.POSITIVE_INFINITY, "Infinity survives");
    assert.equal(back.nested.deep[0].w, 1e-320, "subnormal number survives");
    assert.deepEqual(back.nested.list, [1, "a", null, true], "plain JSON");
    assert.deepEqual(back.tricky, { $f64: "not a tag" }, "an object that looks like a tag stays an object");
    assert.ok("undef" in back && back.undef === undefined, "undefined property kept");
    assert.equal(back.big, state.big, "bigint");
    assert.ok(Object.hasOwn(back, "__proto__"), "__proto__ is an own key, not the prototype");
    assert.equal(Object.getPrototypeOf(back), Object.prototype, "prototype untouched");
    assert.deepEqual(decodeState(encodeState([1, [2, { a: 3 }]])), [1, [2, { a: 3 }]], "arrays");
    assert.equal(encodeState({ a: [1, 0.5] }), '{"a":[1,0.5]}', "plain data stays plain JSON");
    assert.throws(() => encodeState({ m: new Map() }), /cannot encode Map at \$\.m/, "a Map is refused");
    const cyc: Record<string, unknown> = {};
    cyc.self = cyc;
    assert.throws(() => encodeState(cyc), /cycle/, "a cycle is refused");
  });

  test("latestCheckpoint is the highest (trial, iteration); per-trial; old ones pruned", () => {
    const s = RunStore.open(freshPath());
    const id = s.createRun(RUN);
    assert.equal(s.latestCheckpoint(id), undefined, "none yet");
    s.saveCheckpoint(id, 0, 10, { it: 10 });
    s.saveCheckpoint(id, 1, 2, { it: 2, w: new Float64Array([Number.NaN, -0]) });
    s.saveCheckpoint(id, 0, 11, { it: 11 });
    s.saveCheckpoint(id, 1, 1, { it: 1 });
    const latest = s.latestCheckpoint(id);
    assert.ok(latest, "a latest checkpoint");
    assert.equal(latest.trial, 1, "highest trial");
    assert.equal(latest.iteration, 2, "highest iteration of that trial");
    const w = (latest.state as { w: Float64Array }).w;
    assert.ok(w instanceof Float64Array && Number.isNaN(w[0]) && Object.is(w[1], -0), "state decoded");
    assert.equal(s.latestCheckpoint(id, 0)?.iteration, 11, "latest of trial 0");
    s.saveCheckpoint(id, 0, 11, { it: "again" });
    assert.deepEqual(s.latestCheckpoint(id, 0)?.state, { it: "again" }, "same (trial, iteration) replaced");
    for (let it = 12; it < 12 + CHECKPOINTS_KEPT + 2; it++) s.saveCheckpoint(id, 0, it, { it });
    assert.equal(
      s.summary(id).checkpoints,
      CHECKPOINTS_KEPT + 2,
      "kept per trial: 3 of trial 0 + 2 of trial 1",
    );
    assert.deepEqual(s.summary(id).lastCheckpoint, { trial: 1, iteration: 2 }, "summary's last checkpoint");
    throwsStore(() => s.saveCheckpoint("nope", 0, 0, {}), /no run 'nope'/, "checkpoint of an unknown run");
    s.close();
  });

  test("transaction commits together or rolls back", () => {
    const s = RunStore.open(freshPath());
    const id = s.createRun(RUN);
    assert.throws(
      () =>
        s.transaction(() => {
          s.putMetrics(id, 0, 0, { a: 1 });
          s.saveCheckpoint(id, 0, 0, {});
          throw new Error("abort");
        }),
      /abort/,
      "the error passes through",
    );
    assert.equal(s.metrics(id).length, 0, "metrics rolled back");
    assert.equal(s.latestCheckpoint(id), undefined, "checkpoint rolled back");
    assert.equal(
      s.transaction(() => {
        s.putMetrics(id, 0, 0, { a: 1 });
        return 42;
      }),
      42,
      "the value is returned",
    );
    assert.equal(s.metrics(id).length, 1, "committed");
    s.close();
  });
});

describe("faults leave the file untouched", () => {
  const CORRUPT = /^store .* is not a sim2real store or is corrupt \(.+\)$/;

  test("a text file, random bytes and a truncated store are refused as corrupt", () => {
    const text = freshPath();
    writeFileSync(text, "this is not a database\n".repeat(50));
    const noise = freshPath();
    writeFileSync(noise, randomBytes(8192));
    const { path: truncated } = populated(200);
    const size = statSync(truncated).size;
    assert.ok(size > 8 * 4096, `populated store spans many pages (${size} bytes)`);
    truncateSync(truncated, Math.floor(size / 4096 / 2) * 4096);
    for (const [name, path] of [
      ["text", text],
      ["noise", noise],
      ["truncated", truncated],
    ]) {
      const before = sha256(path);
      const e = throwsStore(() => RunStore.open(path), CORRUPT, name);
      assert.ok(e.message.includes(path), `${name}: names the path`);
      throwsStore(() => RunStore.open(path, { readonly: true }), CORRUPT, `${name}, read-only open`);
      assert.equal(sha256(path), before, `${name}: file unchanged`);
    }
  });

  test("another application's SQLite database is not a sim2real store", () => {
    const path = freshPath();
    const db = new Database(path);
    db.exec("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('hello');");
    db.close();
    const before = sha256(path);
    throwsStore(() => RunStore.open(path), /is not a sim2real store/, "foreign database");
    assert.equal(sha256(path), before, "file unchanged");
  });

  test("a store from a newer sim2real is refused", () => {
    const { path } = populated();
    const db = new Database(path);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    const before = sha256(path);
    const msg = new RegExp(
      `^store ${path} has schema version ${SCHEMA_VERSION + 1}, newer than this sim2real \\(${SCHEMA_VERSION}\\); upgrade sim2real$`,
    );
    throwsStore(() => RunStore.open(path), msg, "writable open");
    throwsStore(() => RunStore.open(path, { readonly: true }), msg, "read-only open");
    assert.equal(sha256(path), before, "file unchanged");
  });

  test("a store locked by another connection: the write fails quickly with 'locked'", () => {
    const { path, id } = populated();
    const before = sha256(path);
    const holder = new Database(path);
    try {
      holder.exec("BEGIN EXCLUSIVE");
      const t0 = performance.now();
      const s = RunStore.open(path, { busyTimeoutMs: 200 });
      try {
        throwsStore(() => s.createRun(RUN), /^store .* is locked by another process \(.+\)$/, "createRun");
        throwsStore(() => s.putMetrics(id, 0, 2, { a: 1 }), /is locked/, "putMetrics");
        throwsStore(
          () => s.appendTransition(id, 0, 9, 0, new Float64Array(1), []),
          /is locked/,
          "transition",
        );
      } finally {
        s.close();
      }
      assert.ok(performance.now() - t0 < 5000, "fails within seconds");
      assert.equal(sha256(path), before, "file unchanged while locked");
      holder.exec("ROLLBACK");
    } finally {
      holder.close();
    }
    assert.equal(sha256(path), before, "file unchanged");
    const s = RunStore.open(path);
    assert.equal(s.countTransitions(id), 5, "no transition written while locked");
    s.close();
  });

  test("a new store file locked by its creator: open fails with 'locked'", () => {
    const path = freshPath();
    writeFileSync(path, "");
    const holder = new Database(path);
    try {
      holder.exec("BEGIN EXCLUSIVE; CREATE TABLE t (x);");
      throwsStore(() => RunStore.open(path, { busyTimeoutMs: 100 }), /is locked by another process/, "open");
    } finally {
      holder.close();
    }
  });

  test("a read-only file: writable open refused, read-only open works and cannot write", () => {
    const { path, id } = populated();
    const before = sha256(path);
    chmodSync(path, 0o444);
    try {
      throwsStore(() => RunStore.open(path), /^store .* is read-only \(.+\)$/, "writable open");
      const ro = RunStore.open(path, { readonly: true });
      try {
        assert.equal(ro.getRun(id).id, id, "readable");
        assert.equal(ro.countTransitions(id), 5, "transitions readable");
        throwsStore(() => ro.createRun(RUN), /is read-only/, "write through a read-only store");
      } finally {
        ro.close();
      }
    } finally {
      chmodSync(path, 0o644);
    }
    assert.equal(sha256(path), before, "file unchanged");
  });

  test("a read-only directory: neither an existing store nor a new one is opened for writing", () => {
    const { path } = populated();
    const dir = join(path, "..");
    const before = sha256(path);
    chmodSync(dir, 0o555);
    try {
      throwsStore(
        () => RunStore.open(path),
        /is read-only \(directory .* has no write permission\)/,
        "existing",
      );
      const fresh = join(dir, "sub", "new.db");
      throwsStore(() => RunStore.open(fresh), /is read-only/, "new store");
      assert.ok(!existsSync(join(dir, "sub")), "no directory created");
    } finally {
      chmodSync(dir, 0o755);
    }
    assert.equal(sha256(path), before, "file unchanged");
  });

  test("a read-only open of a missing store does not create it", () => {
    const path = join(scratch, "missing", "store.db");
    throwsStore(
      () => RunStore.open(path, { readonly: true }),
      /^no store at .*missing.store\.db$/,
      "missing",
    );
    assert.ok(!existsSync(path) && !existsSync(join(scratch, "missing")), "nothing created");
  });
});
