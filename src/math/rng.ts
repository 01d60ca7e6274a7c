/**
 * Seeded random numbers. One seed gives a root generator; `split()` hands out independent streams
 * (xoroshiro128+ jumps of 2^64 steps), so adding draws to one component never shifts another's.
 * Generators are always passed in explicitly; nothing here is global.
 */
import { uniformFloat64 } from "pure-rand/distribution/uniformFloat64";
import { xoroshiro128plus, xoroshiro128plusFromState } from "pure-rand/generator/xoroshiro128plus";
import type { JumpableRandomGenerator } from "pure-rand/types/JumpableRandomGenerator";

export class Rng {
  private gen: JumpableRandomGenerator;
  /** Second Box–Muller variate, kept so that normal() wastes no draws. */
  private spare: number | null = null;

  private constructor(gen: JumpableRandomGenerator) {
    this.gen = gen;
  }

  static fromSeed(seed: number): Rng {
    if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
    // Mix the high bits in too: pure-rand takes a 32-bit seed.
    return new Rng(xoroshiro128plus((seed ^ Math.floor(seed / 2 ** 32)) | 0));
  }

  /** Restore from `state()`. */
  static fromState(state: readonly number[]): Rng {
    const r = new Rng(xoroshiro128plusFromState(state.slice(0, 4)));
    if (state.length > 4) r.spare = state[4];
    return r;
  }

  /** The full generator state (for checkpoints). */
  state(): number[] {
    const s = [...this.gen.getState()];
    if (this.spare !== null) s.push(this.spare);
    return s;
  }

  /** Put this generator back into a `state()` it had (in place, so every holder sees it). */
  restore(state: readonly number[]): void {
    this.gen = xoroshiro128plusFromState(state.slice(0, 4));
    this.spare = state.length > 4 ? state[4] : null;
  }

  /** An independent stream: a copy of this generator moved 2^64 steps ahead; this generator also jumps
   * once more, so successive calls give distinct streams. */
  split(): Rng {
    this.gen.jump();
    const child = new Rng(this.gen.clone());
    this.gen.jump();
    return child;
  }

  /** Uniform on [0, 1), 53 random bits. */
  uniform(): number {
    return uniformFloat64(this.gen);
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    if (this.spare !== null) {
      const z = this.spare;
      this.spare = null;
      return z;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Index i with probability p[offset + i], i < n (p need not be normalised exactly). */
  categorical(p: ArrayLike<number>, offset = 0, n = p.length - offset): number {
    let total = 0;
    for (let i = 0; i < n; i++) total += p[offset + i];
    let u = this.uniform() * total;
    for (let i = 0; i < n - 1; i++) {
      u -= p[offset + i];
      if (u < 0) return i;
    }
    return n - 1;
  }
}
