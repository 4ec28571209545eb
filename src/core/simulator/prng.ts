/**
 * Seeded, counter-based randomness for the simulator. Every reading draws its random numbers
 * from a generator seeded with (seed, device, property, reading number), so a reading is the
 * same in every run with the same seed, whatever was skipped or stopped before it, and adding a
 * device or a property never changes the series of the others.
 */

/** 32-bit FNV-1a of a string: stable names for devices, properties and faults. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Mixes 32-bit words into one (murmur3's finaliser after each word). */
export function mix(...words: number[]): number {
  let h = 0x9e3779b9;
  for (const w of words) {
    h = Math.imul(h ^ (w >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/** A small, fast generator (mulberry32) that can be reseeded without allocating. */
export class Rng {
  private state = 0;

  constructor(seed = 0) {
    this.state = seed >>> 0;
  }

  reseed(...words: number[]): this {
    this.state = mix(...words);
    return this;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Standard normal (Box-Muller); always uses exactly two draws. */
  gaussian(): number {
    const u1 = 1 - this.next(); // (0, 1]: log stays finite
    const u2 = this.next();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
}

/**
 * The seed a setting gives: a whole number is used as it is (modulo 2^32), any other text is
 * hashed. Returns null for an empty setting (the caller picks a random seed).
 */
export function seedOf(value: unknown): number | null {
  if (value === undefined || value === null) return null;
  const text = String(value).trim();
  if (text === "") return null;
  if (/^\d{1,15}$/.test(text)) return Number(text) % 4294967296;
  return hashString(text);
}
