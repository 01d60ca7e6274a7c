/**
 * Checkpoint and resume of the tabular bi-level loop, in process: a run stopped at any point (even in
 * the middle of a real batch) and continued from an earlier checkpoint with its recorded real transitions
 * ends with exactly the records of an uninterrupted run.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { thetaFromMDP } from "../src/envs/tabular.ts";
import type { RealTransitionLog } from "../src/envs/tabular-rollout.ts";
import { paperDiscreteProblem } from "../src/experiments/problems.ts";
import { Rng } from "../src/math/rng.ts";
import { makeAscent } from "../src/outer/ascent.ts";
import { BilevelConfigSchema, BilevelRunner, type IterationRecord } from "../src/outer/bilevel.ts";

/** An in-memory log that can "crash": it throws once `limit` transitions have been committed. */
class MemoryLog implements RealTransitionLog {
  readonly batches = new Map<number, { data: Float64Array; rng: number[] }[]>();
  commits = 0;
  limit = Number.POSITIVE_INFINITY;
  recorded(batch: number) {
    return (this.batches.get(batch) ?? []).map((t) => ({ data: Float64Array.from(t.data), rng: [...t.rng] }));
  }
  commit(batch: number, idx: number, data: Float64Array, rng: readonly number[]) {
    if (this.commits >= this.limit) throw new Error("crash");
    const list = this.batches.get(batch) ?? [];
    assert.equal(idx, list.length, `transition ${idx} of batch ${batch} committed out of order`);
    list.push({ data: Float64Array.from(data), rng: [...rng] });
    this.batches.set(batch, list);
    this.commits++;
  }
}

const problem = paperDiscreteProblem();
const config = BilevelConfigSchema.parse({
  sensitivity: "sampled",
  realGradient: "sampled",
  iterations: 12,
  stepDecay: 100,
  optimizer: "adam",
  realTrajectories: 3,
  realHorizon: 20,
  simSteps: 300,
});
const theta0 = Float64Array.from(thetaFromMDP(problem.real), (v, i) => v + 0.3 * Math.sin(i + 1));

function sameRecords(a: IterationRecord[], b: IterationRecord[], what: string) {
  assert.equal(a.length, b.length, `${what}: record count`);
  for (let i = 0; i < a.length; i++) {
    for (const k of ["soft", "hard", "realJ", "realTransitions", "gradNorm", "innerIterations"] as const)
      assert.ok(Object.is(a[i][k], b[i][k]), `${what}: iteration ${i} ${k}: ${a[i][k]} vs ${b[i][k]}`);
    assert.deepEqual(Array.from(a[i].theta), Array.from(b[i].theta), `${what}: iteration ${i} θ`);
  }
}

test("a run resumed from a checkpoint with a half-recorded real batch matches the uninterrupted run bit for bit", () => {
  const full = new BilevelRunner(problem, theta0, config, Rng.fromSeed(7), { realLog: new MemoryLog() });
  while (full.step());
  assert.equal(full.records.length, config.iterations + 1, "uninterrupted run length");
  const perBatch = config.realTrajectories * config.realHorizon;
  // Crash points: inside the first batch, exactly at a batch end, and in the middle of later batches.
  for (const crashAt of [5, perBatch, 3 * perBatch + 17, 7 * perBatch + 59]) {
    const log = new MemoryLog();
    log.limit = crashAt;
    const records: IterationRecord[] = [];
    const a = new BilevelRunner(problem, theta0, config, Rng.fromSeed(7), {
      realLog: log,
      onMetrics: () => {},
    });
    const checkpoints = [a.checkpoint()];
    try {
      while (a.step()) if (a.iteration % 3 === 0) checkpoints.push(a.checkpoint());
      assert.fail("the log should have crashed");
    } catch (err) {
      assert.equal((err as Error).message, "crash", `crash at ${crashAt}: unexpected error ${err}`);
    }
    assert.equal(log.commits, crashAt, "transitions committed before the crash");
    const ckpt = checkpoints[checkpoints.length - 1];
    log.limit = Number.POSITIVE_INFINITY;
    const b = BilevelRunner.restore(problem, config, ckpt, { realLog: log });
    while (b.step());
    records.push(...a.records.slice(0, ckpt.iteration), ...b.records);
    sameRecords(records, full.records, `crash after ${crashAt} transitions`);
    assert.equal(
      log.commits,
      config.iterations * perBatch,
      `crash at ${crashAt}: every transition recorded once`,
    );
  }
});

test("with a log, real batches are drawn exactly as without one", () => {
  const plain = new BilevelRunner(problem, theta0, config, Rng.fromSeed(3));
  while (plain.step());
  const logged = new BilevelRunner(problem, theta0, config, Rng.fromSeed(3), { realLog: new MemoryLog() });
  while (logged.step());
  sameRecords(logged.records, plain.records, "logged vs plain");
});

test("Adam's checkpointed state continues exactly", () => {
  const rng = Rng.fromSeed(1);
  const grads = Array.from({ length: 9 }, () => Float64Array.from({ length: 5 }, () => rng.normal()));
  for (const kind of ["sga", "adam", "adam-norm"] as const) {
    const x = new Float64Array(5);
    const step = makeAscent(kind, 0.1, 3, x);
    for (const [i, g] of grads.entries()) step(g, i);
    const y = new Float64Array(5);
    const first = makeAscent(kind, 0.1, 3, y);
    for (let i = 0; i < 4; i++) first(grads[i], i);
    const z = Float64Array.from(y);
    const second = makeAscent(kind, 0.1, 3, z);
    second.restore(first.state());
    for (let i = 4; i < grads.length; i++) second(grads[i], i);
    assert.deepEqual(Array.from(z), Array.from(x), `${kind}: resumed ascent differs`);
  }
});
