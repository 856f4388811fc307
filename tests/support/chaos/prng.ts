/**
 * A small seeded pseudo-random generator (mulberry32): the same seed gives the same
 * sequence of numbers on every machine, so a chaos run can be replayed from its seed.
 *
 * @module
 */

/** Deterministic random choices from one 32-bit seed. */
export class Prng {
  #state: number;

  constructor(readonly seed: number) {
    // invariant: the state is always an unsigned 32-bit integer
    this.#state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max] (both included). */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error("Prng.pick of an empty list");
    return items[Math.floor(this.next() * items.length)];
  }

  /** One key of `weights`, chosen with probability proportional to its weight (> 0). */
  weighted<K extends string>(weights: Partial<Record<K, number>>): K {
    const entries = Object.entries(weights).filter(([, w]) => (w as number) > 0) as [K, number][];
    if (entries.length === 0) throw new Error("Prng.weighted with no positive weight");
    const total = entries.reduce((sum, [, w]) => sum + w, 0);
    let x = this.next() * total;
    for (const [key, w] of entries) {
      x -= w;
      if (x < 0) return key;
    }
    return entries[entries.length - 1][0];
  }
}

/** The seed of this run: `ZVPG_CHAOS_SEED` when set (replay), else a fresh random one. */
export function chaosSeed(): number {
  const given = Deno.env.get("ZVPG_CHAOS_SEED");
  if (given !== undefined && given !== "") {
    const seed = Number(given);
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new Error(`ZVPG_CHAOS_SEED must be an integer in 0..4294967295, got '${given}'`);
    }
    return seed;
  }
  return crypto.getRandomValues(new Uint32Array(1))[0];
}
