/**
 * Second-order forward-mode differentiation of scalar expressions in d variables: every quantity carries
 * its value, gradient (d) and Hessian (d×d, dense, symmetric), packed in one Float64Array
 * [v, g_0…g_{d−1}, h_00…h_{d−1,d−1}]. Exact to rounding (no step size), which is what the exact DDP
 * Hessian and the implicit-function sensitivities need; used where hand-written second derivatives would
 * be long (the cart-pole). Chain rules:
 *   (a·b)″ = a b″ + b a″ + a′b′ᵀ + b′a′ᵀ,   φ(a)″ = φ′(a) a″ + φ″(a) a′a′ᵀ.
 * Jets come from a pool that `reset()` recycles (allocation dominated the cost): a jet is valid until the
 * next `reset()`. Meant for small models (d ≲ 12).
 */

export type Ad2 = Float64Array;

export class Ad2Space {
  readonly d: number;
  /** Length of one jet: 1 + d + d². */
  readonly size: number;

  private readonly pool: Float64Array[] = [];
  private used = 0;

  constructor(d: number) {
    this.d = d;
    this.size = 1 + d + d * d;
  }

  /** Recycle every jet handed out so far. */
  reset(): void {
    this.used = 0;
  }

  /** A jet from the pool, contents undefined. */
  private next(): Ad2 {
    if (this.used === this.pool.length) this.pool.push(new Float64Array(this.size));
    return this.pool[this.used++];
  }

  value(a: Ad2): number {
    return a[0];
  }

  /** ∂a/∂z_i. */
  grad(a: Ad2, i: number): number {
    return a[1 + i];
  }

  /** ∂²a/∂z_i∂z_j. */
  hess(a: Ad2, i: number, j: number): number {
    return a[1 + this.d + i * this.d + j];
  }

  constant(v: number): Ad2 {
    const r = this.next();
    r.fill(0);
    r[0] = v;
    return r;
  }

  /** The i-th independent variable at value v. */
  variable(i: number, v: number): Ad2 {
    const r = this.constant(v);
    r[1 + i] = 1;
    return r;
  }

  /** α a + β b. */
  lin(alpha: number, a: Ad2, beta: number, b: Ad2): Ad2 {
    const r = this.next();
    for (let i = 0; i < r.length; i++) r[i] = alpha * a[i] + beta * b[i];
    return r;
  }

  add(a: Ad2, b: Ad2): Ad2 {
    return this.lin(1, a, 1, b);
  }

  sub(a: Ad2, b: Ad2): Ad2 {
    return this.lin(1, a, -1, b);
  }

  scale(a: Ad2, c: number): Ad2 {
    const r = this.next();
    for (let i = 0; i < r.length; i++) r[i] = c * a[i];
    return r;
  }

  addConst(a: Ad2, c: number): Ad2 {
    const r = this.next();
    r.set(a);
    r[0] += c;
    return r;
  }

  mul(a: Ad2, b: Ad2): Ad2 {
    const d = this.d;
    const r = this.next();
    const av = a[0];
    const bv = b[0];
    r[0] = av * bv;
    for (let i = 1; i <= d; i++) r[i] = av * b[i] + bv * a[i];
    const h0 = 1 + d;
    for (let i = 0; i < d; i++) {
      const ai = a[1 + i];
      const bi = b[1 + i];
      const row = h0 + i * d;
      for (let j = 0; j < d; j++)
        r[row + j] = av * b[row + j] + bv * a[row + j] + ai * b[1 + j] + bi * a[1 + j];
    }
    return r;
  }

  /** φ(a) given φ(a₀), φ′(a₀), φ″(a₀). */
  unary(a: Ad2, f0: number, f1: number, f2: number): Ad2 {
    const d = this.d;
    const r = this.next();
    r[0] = f0;
    for (let i = 1; i <= d; i++) r[i] = f1 * a[i];
    const h0 = 1 + d;
    for (let i = 0; i < d; i++) {
      const gi = f2 * a[1 + i];
      const row = h0 + i * d;
      for (let j = 0; j < d; j++) r[row + j] = f1 * a[row + j] + gi * a[1 + j];
    }
    return r;
  }

  sin(a: Ad2): Ad2 {
    const s = Math.sin(a[0]);
    return this.unary(a, s, Math.cos(a[0]), -s);
  }

  cos(a: Ad2): Ad2 {
    const c = Math.cos(a[0]);
    return this.unary(a, c, -Math.sin(a[0]), -c);
  }

  /** 1/a. */
  recip(a: Ad2): Ad2 {
    const q = 1 / a[0];
    return this.unary(a, q, -q * q, 2 * q * q * q);
  }

  div(a: Ad2, b: Ad2): Ad2 {
    return this.mul(a, this.recip(b));
  }
}
