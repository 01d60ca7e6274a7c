import assert from "node:assert/strict";
import { test } from "node:test";
import { allocBatch, ReplayBuffer } from "../src/inner/replay-buffer.ts";
import { Rng } from "../src/math/rng.ts";

/** Transition k: obs (k, −k), action 10k, reward 100k, nextObs (k + 0.5, −k), terminated when k is odd. */
function addTransition(buf: ReplayBuffer, k: number): number {
  return buf.add([k, -k], [10 * k], 100 * k, [k + 0.5, -k], k % 2 === 1);
}

test("replay buffer: fills, wraps around and overwrites the oldest transitions", () => {
  const buf = new ReplayBuffer(5, 2, 1);
  assert.equal(buf.size, 0, "a new buffer is empty");
  for (let k = 0; k < 3; k++) assert.equal(addTransition(buf, k), k, `transition ${k} goes to row ${k}`);
  assert.equal(buf.size, 3, "three transitions stored");
  for (let k = 3; k < 7; k++) addTransition(buf, k);
  assert.equal(buf.size, 5, "size stops at the capacity");
  assert.equal(buf.totalAdded, 7, "seven transitions were added");
  assert.equal(buf.position, 2, "after 7 adds into 5 rows the next write goes to row 2");
  // rows 0 and 1 now hold transitions 5 and 6; rows 2..4 still hold 2..4
  const expected = [5, 6, 2, 3, 4];
  expected.forEach((k, row) => {
    assert.deepEqual(
      Array.from(buf.obs.subarray(2 * row, 2 * row + 2)),
      [k, -k],
      `row ${row} obs is transition ${k}`,
    );
    assert.equal(buf.actions[row], 10 * k, `row ${row} action`);
    assert.equal(buf.rewards[row], 100 * k, `row ${row} reward`);
    assert.deepEqual(
      Array.from(buf.nextObs.subarray(2 * row, 2 * row + 2)),
      [k + 0.5, -k],
      `row ${row} next obs`,
    );
    assert.equal(buf.terminated[row], k % 2, `row ${row} terminated flag`);
  });
});

test("replay buffer: add takes a row of batched arrays", () => {
  const buf = new ReplayBuffer(4, 2, 2);
  const obs = Float64Array.of(1, 2, 3, 4);
  const act = Float64Array.of(5, 6, 7, 8);
  const next = Float64Array.of(9, 10, 11, 12);
  buf.add(obs, act, 0.5, next, false, 1);
  assert.deepEqual(Array.from(buf.obs.subarray(0, 2)), [3, 4], "row 1 of obs");
  assert.deepEqual(Array.from(buf.actions.subarray(0, 2)), [7, 8], "row 1 of actions");
  assert.deepEqual(Array.from(buf.nextObs.subarray(0, 2)), [11, 12], "row 1 of next obs");
  assert.throws(
    () => buf.add(obs, act, 0, next, false, 2),
    RangeError,
    "a row outside the arrays is rejected",
  );
});

test("replay buffer: addStep stores each row with s′ = finalObs where the episode ended, obs elsewhere", () => {
  const buf = new ReplayBuffer(8, 1, 1);
  // Three copies: running, terminated, truncated. obs after the step is the next episode's start (100+)
  // where one ended; finalObs is where the step landed.
  buf.addStep([1, 2, 3], [10, 20, 30], {
    reward: [0.1, 0.2, 0.3],
    terminated: Uint8Array.of(0, 1, 0),
    truncated: Uint8Array.of(0, 0, 1),
    obs: [1.5, 102, 103],
    finalObs: [1.5, 2.5, 3.5],
  });
  assert.equal(buf.size, 3, "one transition per copy");
  assert.deepEqual(Array.from(buf.obs.subarray(0, 3)), [1, 2, 3], "s");
  assert.deepEqual(Array.from(buf.actions.subarray(0, 3)), [10, 20, 30], "a");
  assert.deepEqual(Array.from(buf.rewards.subarray(0, 3)), [0.1, 0.2, 0.3], "r");
  assert.deepEqual(Array.from(buf.nextObs.subarray(0, 3)), [1.5, 2.5, 3.5], "s′ never the reset observation");
  assert.deepEqual(Array.from(buf.terminated.subarray(0, 3)), [0, 1, 0], "d only for the termination");
});

test("replay buffer: sampling is uniform over stored rows, aligned and deterministic for a seed", () => {
  const buf = new ReplayBuffer(8, 2, 1);
  for (let k = 0; k < 11; k++) addTransition(buf, k); // stores transitions 3..10
  const a = buf.sample(Rng.fromSeed(7), 64);
  const b = buf.sample(Rng.fromSeed(7), 64);
  assert.deepEqual(Array.from(a.obs), Array.from(b.obs), "same seed, same batch");
  assert.deepEqual(Array.from(a.rewards), Array.from(b.rewards), "same seed, same rewards");
  const c = buf.sample(Rng.fromSeed(8), 64);
  assert.notDeepEqual(Array.from(a.rewards), Array.from(c.rewards), "another seed, another batch");
  for (let r = 0; r < a.size; r++) {
    const k = a.obs[2 * r];
    assert.ok(k >= 3 && k <= 10 && Number.isInteger(k), `row ${r} is a stored transition (k = ${k})`);
    assert.equal(a.obs[2 * r + 1], -k, `row ${r} obs entries belong together`);
    assert.equal(a.actions[r], 10 * k, `row ${r} action belongs to its obs`);
    assert.equal(a.rewards[r], 100 * k, `row ${r} reward belongs to its obs`);
    assert.equal(a.nextObs[2 * r], k + 0.5, `row ${r} next obs belongs to its obs`);
    assert.equal(a.terminated[r], k % 2, `row ${r} terminated flag belongs to its obs`);
  }
  // uniformity: 8000 draws over 8 rows, each count within 5 standard deviations of 1000
  const counts = new Map<number, number>();
  const big = buf.sample(Rng.fromSeed(1), 8000);
  for (let r = 0; r < big.size; r++) counts.set(big.obs[2 * r], (counts.get(big.obs[2 * r]) ?? 0) + 1);
  assert.equal(counts.size, 8, "every stored row is drawn");
  for (const [k, n] of counts)
    assert.ok(
      Math.abs(n - 1000) < 5 * Math.sqrt(8000 * (1 / 8) * (7 / 8)),
      `row of k = ${k} drawn ${n} times`,
    );
});

test("replay buffer: sample into a preallocated batch; empty buffer and bad sizes throw", () => {
  const buf = new ReplayBuffer(3, 1, 1);
  assert.throws(() => buf.sample(Rng.fromSeed(0), 2), RangeError, "sampling an empty buffer throws");
  buf.add([1], [2], 3, [4], true);
  const out = allocBatch(4, 1, 1);
  const res = buf.sample(Rng.fromSeed(0), 4, out);
  assert.equal(res, out, "the given batch is filled and returned");
  assert.deepEqual(Array.from(out.rewards), [3, 3, 3, 3], "the only transition is drawn four times");
  assert.throws(
    () => buf.sample(Rng.fromSeed(0), 5, out),
    RangeError,
    "a batch too small for the size throws",
  );
  assert.throws(() => new ReplayBuffer(0, 1, 1), RangeError, "capacity 0 is rejected");
  buf.clear();
  assert.equal(buf.size, 0, "clear empties the buffer");
});
