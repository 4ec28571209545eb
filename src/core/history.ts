/**
 * Bounded history of one numeric property, compressed in the spirit of Gorilla (Pelkonen et al.,
 * VLDB 2015): timestamps as delta-of-delta, values as deltas of scaled integers when they are
 * short decimals (what sensors send: 21.53 is 2153 at scale 2) and XOR against the previous value
 * otherwise. Every value and timestamp comes back bit-exact (-0, NaN, huge, tiny included).
 *
 * Why the storage looks like this: a fleet of 100,000 twins x 10 properties is 1,000,000 series,
 * so the fixed cost per series matters as much as the bytes per point. A typed array per series
 * costs ~190 B of heap plus allocator overhead, more than the compressed points themselves. So
 * all series share one arena of fixed 64-byte blocks (module level, allocated in 256 KiB chunks),
 * each block self-contained (its first point raw) and linked to the next; the per-series encoder
 * state sits in shared typed tables indexed by a series id. A Series object holds four small
 * integers. The ring drops whole blocks: points older than the newest `capacity` are hidden
 * (`skip`) until their block holds nothing visible, then the block goes back to the free list.
 * Blocks and ids of a Series that is no longer referenced are reclaimed by a FinalizationRegistry,
 * so a deleted twin needs no explicit release (and a Series still in use can never be freed).
 */
export interface Point { ts: number; value: number }

// ---------------------------------------------------------------------------------------------
// Arena of fixed blocks.
//
// Block layout (64 bytes): next block id (int32, -1 = none) | count of points (u8) |
// scale at block start (u8) | first ts (f64) | first value (f64) | 42 bytes of bit stream.
const BLOCK = 64;
const CHUNK_SHIFT = 12; // 4096 blocks (256 KiB) per chunk
const CHUNK_BLOCKS = 1 << CHUNK_SHIFT;
const H_COUNT = 4;
const H_SCALE = 5;
const H_TS = 6;
const H_VALUE = 14;
const PAYLOAD = 22;
const PAYLOAD_BITS = (BLOCK - PAYLOAD) * 8;
const MAX_COUNT = 255;

/** Bytes of a block in the snapshot form (Series.encode): all but its link. */
const STORED = BLOCK - H_COUNT;
/** The snapshot form's format byte. */
const ENCODING = 1;

const chunks: Uint8Array[] = [];
let nextFresh = 0;
let freeBlock = -1;

function chunkOf(b: number): Uint8Array {
  return chunks[b >>> CHUNK_SHIFT];
}

function offOf(b: number): number {
  return (b & (CHUNK_BLOCKS - 1)) * BLOCK;
}

function readI32(c: Uint8Array, o: number): number {
  return c[o] | (c[o + 1] << 8) | (c[o + 2] << 16) | (c[o + 3] << 24);
}

function writeI32(c: Uint8Array, o: number, v: number): void {
  c[o] = v & 255;
  c[o + 1] = (v >>> 8) & 255;
  c[o + 2] = (v >>> 16) & 255;
  c[o + 3] = (v >>> 24) & 255;
}

const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);
const f64Words = new Uint32Array(f64.buffer); // little endian: [0] low word, [1] high word

function readF64(c: Uint8Array, o: number): number {
  for (let k = 0; k < 8; k++) f64Bytes[k] = c[o + k];
  return f64[0];
}

function writeF64(c: Uint8Array, o: number, v: number): void {
  f64[0] = v;
  for (let k = 0; k < 8; k++) c[o + k] = f64Bytes[k];
}

function allocBlock(): number {
  let b: number;
  if (freeBlock >= 0) {
    b = freeBlock;
    freeBlock = readI32(chunkOf(b), offOf(b));
  } else {
    b = nextFresh++;
    if ((b >>> CHUNK_SHIFT) >= chunks.length) chunks.push(new Uint8Array(CHUNK_BLOCKS * BLOCK));
  }
  const c = chunkOf(b);
  const o = offOf(b);
  c.fill(0, o, o + BLOCK);
  writeI32(c, o, -1);
  return b;
}

function freeBlockId(b: number): void {
  writeI32(chunkOf(b), offOf(b), freeBlock);
  freeBlock = b;
}

// ---------------------------------------------------------------------------------------------
// Bit stream inside one block's payload, most significant bit first. `n` <= 32 per call.

function putBits(c: Uint8Array, base: number, pos: number, value: number, n: number): number {
  while (n > 0) {
    const i = base + (pos >>> 3);
    const free = 8 - (pos & 7);
    const take = free < n ? free : n;
    const part = (value >>> (n - take)) & ((1 << take) - 1);
    c[i] |= part << (free - take);
    pos += take;
    n -= take;
  }
  return pos;
}

let readPos = 0;

function getBits(c: Uint8Array, base: number, n: number): number {
  let out = 0;
  let pos = readPos;
  while (n > 0) {
    const byte = c[base + (pos >>> 3)];
    const avail = 8 - (pos & 7);
    const take = avail < n ? avail : n;
    out = out * (1 << take) + ((byte >>> (avail - take)) & ((1 << take) - 1));
    pos += take;
    n -= take;
  }
  readPos = pos;
  return out;
}

/** Writes a non-negative integer below 2^n (n <= 52). */
function putWide(c: Uint8Array, base: number, pos: number, value: number, n: number): number {
  if (n <= 32) return putBits(c, base, pos, value, n);
  const hi = Math.floor(value / 4294967296);
  pos = putBits(c, base, pos, hi, n - 32);
  return putBits(c, base, pos, value >>> 0, 32);
}

function getWide(c: Uint8Array, base: number, n: number): number {
  if (n <= 32) return getBits(c, base, n);
  const hi = getBits(c, base, n - 32);
  return hi * 4294967296 + getBits(c, base, 32);
}

/** Number of leading 1 bits of a unary prefix, up to `max` (a 0 ends it). */
function getPrefix(c: Uint8Array, base: number, max: number): number {
  let k = 0;
  let pos = readPos;
  while (k < max) {
    const bit = (c[base + (pos >>> 3)] >>> (7 - (pos & 7))) & 1;
    pos++;
    if (bit === 0) break;
    k++;
  }
  readPos = pos;
  return k;
}

const zig = (n: number): number => (n >= 0 ? 2 * n : -2 * n - 1);
const unzig = (z: number): number => (z % 2 === 0 ? z / 2 : -(z + 1) / 2);

// ---------------------------------------------------------------------------------------------
// Codes. Timestamps: prefix 1^k 0 selects the width of the zigzagged delta-of-delta; for
// k = 1..3 two bits first name its unit (ms, s, min, day), so monthly and yearly series, whose
// deltas differ by whole days, and jittery second-based ones take a few bits too.
const TS_WIDTH = [0, 7, 14, 26, 52]; // k = 0..4; k = 5 (11111): the raw 64 bits
const TS_UNITS = [1, 1000, 60000, 86400000];
const TS_WIDE = 4;
const TS_RAW = 5;
// Values: 0 same value | 10 same delta | 1^k 0 + width for k = 2..5 | 111110 scale + raw |
// 111111 XOR against the previous value.
const V_WIDTH = [0, 0, 6, 12, 24, 52];
const V_SCALE = 6;
const V_XOR = 7;
const MAX_SCALE = 9;
const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];
const SCALED_LIMIT = 2 ** 50;
/** Powers of two up to 2^64: a variable exponent (`2 ** n`) costs a Math.pow call on every point. */
const POW2 = Array.from({ length: 65 }, (_, n) => 2 ** n);
const DOD_LIMIT = 2 ** 51;

/** v as an integer at `scale` decimals when that gives v back bit-exact, else NaN. */
function scaled(v: number, scale: number): number {
  const p = POW10[scale];
  const n = Math.round(v * p) + 0; // + 0 turns -0 into 0 (so -0 itself never passes)
  if (!(Math.abs(n) < SCALED_LIMIT)) return NaN;
  return sameNumber(n / p, v) ? n : NaN;
}

/** The smallest scale >= `from` at which v is exact, or -1. */
function scaleFor(v: number, from: number): number {
  for (let s = from; s <= MAX_SCALE; s++) if (!Number.isNaN(scaled(v, s))) return s;
  return -1;
}

/**
 * Object.is for two numbers: -0 is not 0, NaN is NaN. Written out because optimized code calls
 * Object.is with both doubles boxed, two heap numbers per call: most of a point's allocation.
 */
function sameNumber(a: number, b: number): boolean {
  return a === b ? a !== 0 || 1 / a === 1 / b : a !== a && b !== b;
}

function tsDelta(ts: number, prev: number): number {
  if (!Number.isSafeInteger(ts) || (ts === 0 && 1 / ts < 0) || !Number.isSafeInteger(prev)) return NaN;
  const d = ts - prev;
  return Number.isSafeInteger(d) ? d : NaN;
}

// ---------------------------------------------------------------------------------------------
// Per-series state, in tables indexed by series id (grown by doubling).
// f: prev ts, prev value, prev ts delta, prev scaled value (NaN = none), prev value delta (NaN = none)
// i: head block, tail block, bit position in the tail block, current scale
const F = 5;
const I = 4;
let fTab = new Float64Array(1024 * F);
let iTab = new Int32Array(1024 * I);
let nextId = 0;
const freeIds: number[] = [];

function allocId(): number {
  if (freeIds.length) return freeIds.pop() as number;
  const id = nextId++;
  if (id * I >= iTab.length) {
    const f = new Float64Array(fTab.length * 2);
    f.set(fTab);
    fTab = f;
    const i = new Int32Array(iTab.length * 2);
    i.set(iTab);
    iTab = i;
  }
  return id;
}

function releaseId(id: number): void {
  let b = iTab[id * I];
  while (b >= 0) {
    const next = readI32(chunkOf(b), offOf(b));
    freeBlockId(b);
    b = next;
  }
  iTab[id * I] = -1;
  iTab[id * I + 1] = -1;
  freeIds.push(id);
}

const reaper = new FinalizationRegistry<number>(releaseId);

/** Arena figures, for the benchmark: bytes the arena holds and bytes of blocks in use. */
export function arenaStats(): { chunkBytes: number; blocksInUse: number; blockBytes: number } {
  let free = 0;
  for (let b = freeBlock; b >= 0; b = readI32(chunkOf(b), offOf(b))) free++;
  return { chunkBytes: chunks.length * CHUNK_BLOCKS * BLOCK, blocksInUse: nextFresh - free, blockBytes: BLOCK };
}

// ---------------------------------------------------------------------------------------------
// Block decoding into shared scratch arrays (one block holds at most MAX_COUNT points).
const outTs = new Float64Array(MAX_COUNT);
const outValue = new Float64Array(MAX_COUNT);

/** Decodes block b into outTs/outValue, stopping after the first point later than `until`. */
function decodeBlock(b: number, until = Infinity): number {
  const c = chunkOf(b);
  const o = offOf(b);
  const base = o + PAYLOAD;
  const count = c[o + H_COUNT];
  let scale = c[o + H_SCALE];
  let ts = readF64(c, o + H_TS);
  let value = readF64(c, o + H_VALUE);
  let dTs = 0;
  let n = scaled(value, scale);
  let dv = NaN;
  outTs[0] = ts;
  outValue[0] = value;
  readPos = 0;
  for (let k = 1; k < count; k++) {
    const tk = getPrefix(c, base, TS_RAW);
    if (tk === TS_RAW) {
      f64Words[1] = getBits(c, base, 32);
      f64Words[0] = getBits(c, base, 32);
      const t = f64[0];
      const d = tsDelta(t, ts);
      dTs = Number.isNaN(d) ? 0 : d;
      ts = t;
    } else {
      const unit = tk > 0 && tk < TS_WIDE ? TS_UNITS[getBits(c, base, 2)] : 1;
      const dod = tk === 0 ? 0 : unzig(getWide(c, base, TS_WIDTH[tk])) * unit;
      dTs += dod;
      ts += dTs;
    }
    const vk = getPrefix(c, base, V_XOR);
    if (vk === 0) {
      // same value
    } else if (vk === 1 || vk < V_SCALE) {
      if (vk > 1) dv = unzig(getWide(c, base, V_WIDTH[vk]));
      n += dv;
      value = n / POW10[scale];
    } else if (vk === V_SCALE) {
      scale = getBits(c, base, 4);
      f64Words[1] = getBits(c, base, 32);
      f64Words[0] = getBits(c, base, 32);
      value = f64[0];
      n = scaled(value, scale);
      dv = NaN;
    } else {
      f64[0] = value;
      let hi = f64Words[1];
      let lo = f64Words[0];
      const lead = getBits(c, base, 5);
      const len = getBits(c, base, 6) + 1;
      // The meaningful bits, positions [lead, lead + len) of the 64-bit XOR, as the encoder wrote them.
      const end = lead + len;
      let xHi = 0;
      let xLo = 0;
      if (lead < 32) {
        const e = end < 32 ? end : 32;
        xHi = (getBits(c, base, e - lead) * POW2[32 - e]) >>> 0;
      }
      if (end > 32) {
        const s = lead > 32 ? lead : 32;
        xLo = (getBits(c, base, end - s) * POW2[64 - end]) >>> 0;
      }
      hi = (hi ^ xHi) >>> 0;
      lo = (lo ^ xLo) >>> 0;
      f64Words[1] = hi;
      f64Words[0] = lo;
      value = f64[0];
      n = scaled(value, scale);
      dv = NaN;
    }
    outTs[k] = ts;
    outValue[k] = value;
    if (ts > until) return k + 1;
  }
  return count;
}

function clz32Wide(hi: number, lo: number): number {
  return hi !== 0 ? Math.clz32(hi) : 32 + Math.clz32(lo);
}

function ctz32(x: number): number {
  return x === 0 ? 32 : 31 - Math.clz32(x & -x);
}

// Encoder scratch: the plan for one point, checked against the room left before it is written.
// Numbers that may exceed a small integer live in a typed array: a module-level `let` holding a
// double would allocate a heap number on every store.
const planF = new Float64Array(4); // ts zigzag, ts delta, value zigzag, scaled value
const PTS_Z = 0;
const PTS_D = 1;
const PV_Z = 2;
const PV_N = 3;
let planTsK = 0;
let planTsU = 0;
let planVK = 0;
let planScale = 0;
let planXHi = 0;
let planXLo = 0;
let planLead = 0;
let planLen = 0;

/** Bits the point needs after the previous one of the same block; fills the plan. */
function plan(id: number, ts: number, value: number): number {
  const fo = id * F;
  let bits: number;
  const d = tsDelta(ts, fTab[fo]);
  const dod = d - fTab[fo + 2];
  if (!Number.isNaN(d) && Math.abs(dod) < DOD_LIMIT) {
    planF[PTS_D] = d;
    if (dod === 0) {
      planTsK = 0;
      bits = 1;
    } else {
      // The largest unit that divides the delta-of-delta. A unit larger than it can not (the
      // delta is not 0): skipped without a remainder, which on doubles is a call into C, for the
      // millisecond jitter most series have.
      const size = dod < 0 ? -dod : dod;
      let u = TS_UNITS.length - 1;
      while (u > 0 && (size < TS_UNITS[u] || dod % TS_UNITS[u] !== 0)) u--;
      planTsU = u;
      planF[PTS_Z] = zig(dod / TS_UNITS[u]);
      if (planF[PTS_Z] < 128) planTsK = 1;
      else if (planF[PTS_Z] < 16384) planTsK = 2;
      else if (planF[PTS_Z] < 67108864) planTsK = 3;
      else {
        planTsK = TS_WIDE;
        planF[PTS_Z] = zig(dod);
      }
      bits = planTsK + 1 + (planTsK < TS_WIDE ? 2 : 0) + TS_WIDTH[planTsK];
    }
  } else {
    planTsK = TS_RAW;
    bits = TS_RAW + 64;
  }
  const prev = fTab[fo + 1];
  if (sameNumber(value, prev)) {
    planVK = 0;
    return bits + 1;
  }
  const scale = iTab[id * I + 3];
  const n = scaled(value, scale);
  const prevN = fTab[fo + 3];
  if (!Number.isNaN(n) && !Number.isNaN(prevN)) {
    const dv = n - prevN;
    planF[PV_N] = n;
    if (dv === fTab[fo + 4]) {
      planVK = 1;
      return bits + 2;
    }
    planF[PV_Z] = zig(dv);
    if (planF[PV_Z] < 64) planVK = 2;
    else if (planF[PV_Z] < 4096) planVK = 3;
    else if (planF[PV_Z] < 16777216) planVK = 4;
    else planVK = 5;
    return bits + planVK + 1 + V_WIDTH[planVK];
  }
  const s = Number.isNaN(n) ? scaleFor(value, scale + 1) : scale;
  if (s >= 0) {
    planVK = V_SCALE;
    planScale = s;
    return bits + V_SCALE + 1 + 4 + 64;
  }
  planVK = V_XOR;
  f64[0] = prev;
  const pHi = f64Words[1];
  const pLo = f64Words[0];
  f64[0] = value;
  planXHi = pHi ^ f64Words[1]; // int32: stays a small integer
  planXLo = pLo ^ f64Words[0];
  let lead = clz32Wide(planXHi, planXLo);
  if (lead > 31) lead = 31;
  const trail = planXLo !== 0 ? ctz32(planXLo) : 32 + ctz32(planXHi);
  planLead = lead;
  planLen = 64 - lead - trail;
  return bits + V_XOR + 5 + 6 + planLen;
}

/** Writes the planned point at the tail block's bit position and updates the state. */
function emit(id: number, ts: number, value: number): void {
  const fo = id * F;
  const io = id * I;
  const b = iTab[io + 1];
  const c = chunkOf(b);
  const o = offOf(b);
  const base = o + PAYLOAD;
  let pos = iTab[io + 2];
  // The common case (small codes for both) as one write: a reading a second with a small change.
  if (planTsK < TS_WIDE && planVK < 5) {
    const tw = TS_WIDTH[planTsK];
    const tsLen = planTsK === 0 ? 1 : planTsK + 3 + tw;
    const tsCode = planTsK === 0 ? 0 : (((1 << planTsK) - 1) << 1) * POW2[2 + tw] + planTsU * POW2[tw] + planF[PTS_Z];
    const vw = V_WIDTH[planVK];
    const vLen = planVK === 0 ? 1 : planVK + 1 + vw;
    const vCode = planVK === 0 ? 0 : (((1 << planVK) - 1) << 1) * POW2[vw] + (planVK > 1 ? planF[PV_Z] : 0);
    if (tsLen + vLen <= 32) {
      pos = putBits(c, base, pos, tsCode * POW2[vLen] + vCode, tsLen + vLen);
    } else {
      pos = putBits(c, base, pos, tsCode, tsLen);
      pos = putBits(c, base, pos, vCode, vLen);
    }
  } else {
    pos = writeTs(c, base, pos, ts);
    pos = writeValue(c, base, pos, value);
  }
  iTab[io + 2] = pos;
  c[o + H_COUNT]++;
  // State, as the decoder will rebuild it.
  if (planTsK === TS_RAW) {
    const d = tsDelta(ts, fTab[fo]);
    fTab[fo + 2] = Number.isNaN(d) ? 0 : d;
  } else {
    fTab[fo + 2] = planF[PTS_D];
  }
  fTab[fo] = ts;
  if (planVK === 0) return;
  fTab[fo + 1] = value;
  if (planVK < V_SCALE) {
    if (planVK > 1) fTab[fo + 4] = unzig(planF[PV_Z]);
    fTab[fo + 3] = planF[PV_N];
    return;
  }
  if (planVK === V_SCALE) iTab[io + 3] = planScale;
  fTab[fo + 3] = scaled(value, iTab[io + 3]);
  fTab[fo + 4] = NaN;
}

function writeTs(c: Uint8Array, base: number, pos: number, ts: number): number {
  if (planTsK === TS_RAW) {
    pos = putBits(c, base, pos, 31, 5);
    f64[0] = ts;
    pos = putBits(c, base, pos, f64Words[1], 32);
    return putBits(c, base, pos, f64Words[0], 32);
  }
  pos = putBits(c, base, pos, ((1 << planTsK) - 1) << 1, planTsK + 1);
  if (planTsK > 0 && planTsK < TS_WIDE) pos = putBits(c, base, pos, planTsU, 2);
  if (planTsK > 0) pos = putWide(c, base, pos, planF[PTS_Z], TS_WIDTH[planTsK]);
  return pos;
}

function writeValue(c: Uint8Array, base: number, pos: number, value: number): number {
  if (planVK === 0) return putBits(c, base, pos, 0, 1);
  if (planVK < V_SCALE) {
    pos = putBits(c, base, pos, ((1 << planVK) - 1) << 1, planVK + 1);
    if (planVK > 1) pos = putWide(c, base, pos, planF[PV_Z], V_WIDTH[planVK]);
    return pos;
  }
  if (planVK === V_SCALE) {
    pos = putBits(c, base, pos, 0b1111110, 7);
    pos = putBits(c, base, pos, planScale, 4);
    f64[0] = value;
    pos = putBits(c, base, pos, f64Words[1], 32);
    return putBits(c, base, pos, f64Words[0], 32);
  }
  pos = putBits(c, base, pos, 0b1111111, 7);
  pos = putBits(c, base, pos, planLead, 5);
  pos = putBits(c, base, pos, planLen - 1, 6);
  // the meaningful bits: positions [lead, lead + len) of the 64-bit XOR
  const end = planLead + planLen;
  if (planLead < 32) {
    const e = end < 32 ? end : 32;
    pos = putBits(c, base, pos, (planXHi >>> (32 - e)) & (e - planLead === 32 ? -1 : (1 << (e - planLead)) - 1), e - planLead);
  }
  if (end > 32) {
    const s = planLead > 32 ? planLead : 32;
    pos = putBits(c, base, pos, (planXLo >>> (64 - end)) & (end - s === 32 ? -1 : (1 << (end - s)) - 1), end - s);
  }
  return pos;
}

/** Starts a block with (ts, value) as its raw first point, linked after the tail. */
function startBlock(id: number, ts: number, value: number): void {
  const io = id * I;
  const fo = id * F;
  const b = allocBlock();
  const c = chunkOf(b);
  const o = offOf(b);
  const current = iTab[io + 3];
  const s = Number.isNaN(scaled(value, current)) ? scaleFor(value, current + 1) : current;
  const scale = s >= 0 ? s : current;
  c[o + H_COUNT] = 1;
  c[o + H_SCALE] = scale;
  writeF64(c, o + H_TS, ts);
  writeF64(c, o + H_VALUE, value);
  const tail = iTab[io + 1];
  if (tail >= 0) writeI32(chunkOf(tail), offOf(tail), b);
  else iTab[io] = b;
  iTab[io + 1] = b;
  iTab[io + 2] = 0;
  iTab[io + 3] = scale;
  fTab[fo] = ts;
  fTab[fo + 1] = value;
  fTab[fo + 2] = 0;
  fTab[fo + 3] = scaled(value, scale);
  fTab[fo + 4] = NaN;
}

export class Series {
  private readonly id: number;
  private size = 0;
  /** Points at the head of the oldest block that the ring has already let go of. */
  private skip = 0;

  constructor(readonly capacity: number) {
    this.id = allocId();
    iTab[this.id * I] = -1;
    iTab[this.id * I + 1] = -1;
    iTab[this.id * I + 3] = 0;
    reaper.register(this, this.id);
  }

  get length(): number {
    return this.size;
  }

  /** Appends a point. Points arrive in time order (older readings are refused upstream). */
  push(ts: number, value: number): void {
    if (!(this.capacity >= 1)) return;
    const id = this.id;
    const io = id * I;
    const tail = iTab[io + 1];
    if (tail < 0) startBlock(id, ts, value);
    else {
      const c = chunkOf(tail);
      const o = offOf(tail);
      if (c[o + H_COUNT] < MAX_COUNT && iTab[io + 2] + plan(id, ts, value) <= PAYLOAD_BITS) emit(id, ts, value);
      else startBlock(id, ts, value);
    }
    if (this.size < this.capacity) this.size++;
    else this.skip++;
    // Drop the oldest block once nothing in it is visible (never the block being written).
    let head = iTab[io];
    while (head !== iTab[io + 1]) {
      const c = chunkOf(head);
      const o = offOf(head);
      const count = c[o + H_COUNT];
      if (count > this.skip) break;
      this.skip -= count;
      const next = readI32(c, o);
      freeBlockId(head);
      head = next;
      iTab[io] = head;
    }
  }

  /**
   * Calls visit(ts, value, k) for the visible points of the blocks that can hold ts in
   * [from, to], k being the index among visible points; stops when visit returns false.
   */
  private scan(from: number, to: number, visit: (ts: number, value: number) => boolean): void {
    let b = iTab[this.id * I];
    let hidden = this.skip;
    while (b >= 0) {
      const c = chunkOf(b);
      const o = offOf(b);
      const next = readI32(c, o);
      const count = c[o + H_COUNT];
      // Skip a block whose successor already starts before `from` (time order).
      if (next >= 0 && hidden < count && readF64(chunkOf(next), offOf(next) + H_TS) < from) {
        hidden = 0;
        b = next;
        continue;
      }
      if (hidden >= count) {
        hidden -= count;
        b = next;
        continue;
      }
      if (readF64(c, o + H_TS) > to) return;
      const n = decodeBlock(b, to);
      for (let k = hidden; k < n; k++) if (!visit(outTs[k], outValue[k])) return;
      hidden = 0;
      b = next;
    }
  }

  /** Points with from <= ts <= to, oldest first; with a limit, the newest `limit` of them. */
  range(from = -Infinity, to = Infinity, limit = Infinity): Point[] {
    const out: Point[] = [];
    if (!(limit > 0)) return out;
    if (Number.isNaN(from)) from = -Infinity; // as the binary search over the old ring did
    this.scan(from, to, (ts, value) => {
      if (ts > to) return false;
      if (ts >= from) out.push({ ts, value });
      return true;
    });
    return out.length > limit ? out.slice(out.length - limit) : out;
  }

  /** The latest point at or before t, or undefined. */
  valueAt(t: number): Point | undefined {
    let found: Point | undefined;
    if (Number.isNaN(t)) return undefined;
    // Every block starting after t is past the answer; the answer is in the last one before.
    let b = iTab[this.id * I];
    let hidden = this.skip;
    let best = -1;
    let bestHidden = 0;
    while (b >= 0) {
      const c = chunkOf(b);
      const o = offOf(b);
      if (readF64(c, o + H_TS) > t) break;
      const count = c[o + H_COUNT];
      if (hidden < count) {
        best = b;
        bestHidden = hidden;
        hidden = 0;
      } else {
        hidden -= count;
      }
      b = readI32(c, o);
    }
    if (best < 0) return undefined;
    const n = decodeBlock(best, t);
    for (let k = bestHidden; k < n; k++) {
      if (outTs[k] > t) break;
      found = { ts: outTs[k], value: outValue[k] };
    }
    return found;
  }

  /** Compact form for the snapshot: [ts0, v0, ts1, v1, ...], oldest first. */
  toJSON(): number[] {
    const out: number[] = [];
    this.scan(-Infinity, Infinity, (ts, value) => {
      out.push(ts, value);
      return true;
    });
    return out;
  }

  /**
   * Compact form for the snapshot: the series' blocks as they are encoded, base64. Writing a
   * snapshot then copies bytes instead of turning every point into decimal text (most of a
   * snapshot's time and size with histories of numbers). Layout: a format byte (1), the points
   * hidden at the head (`skip`), then each block from the oldest without its link: count, scale,
   * first ts, first value, payload (BLOCK - 4 bytes).
   */
  encode(): string {
    let blocks = 0;
    for (let b = iTab[this.id * I]; b >= 0; b = readI32(chunkOf(b), offOf(b))) blocks++;
    const out = new Uint8Array(2 + blocks * STORED);
    out[0] = ENCODING;
    out[1] = this.skip;
    let at = 2;
    for (let b = iTab[this.id * I]; b >= 0; b = readI32(chunkOf(b), offOf(b))) {
      const o = offOf(b);
      out.set(chunkOf(b).subarray(o + H_COUNT, o + BLOCK), at);
      at += STORED;
    }
    return Buffer.from(out.buffer, out.byteOffset, out.byteLength).toString("base64");
  }

  /**
   * A series from `encode`'s form, read as untrusted: its points are decoded and appended one by
   * one, as fromJSON appends, so a damaged form can give wrong points but never a broken series.
   * A block whose points would run past its payload ends the series there; a form that is not
   * one gives an empty series. With `signedZero` false a -0 is read as 0 (see SeriesMap.restore).
   */
  static decode(capacity: number, text: unknown, signedZero = true): Series {
    const series = new Series(capacity);
    if (typeof text !== "string") return series;
    const bytes = Buffer.from(text, "base64");
    if (bytes.length < 2 || bytes[0] !== ENCODING || (bytes.length - 2) % STORED !== 0) return series;
    let hidden = bytes[1];
    const scratch = allocBlock();
    const c = chunkOf(scratch);
    const o = offOf(scratch);
    try {
      for (let at = 2; at < bytes.length; at += STORED) {
        c.fill(0, o, o + BLOCK);
        c.set(bytes.subarray(at, at + STORED), o + H_COUNT);
        if (c[o + H_COUNT] === 0 || c[o + H_SCALE] > MAX_SCALE) break;
        const n = decodeBlock(scratch);
        if (readPos > PAYLOAD_BITS) break;
        // + 0 turns -0 into 0 and leaves any other value as it is: one add a point, beside the
        // push's encoding of it. The loop kept apart keeps NaN payloads bit-exact too.
        if (signedZero) for (let k = hidden; k < n; k++) series.push(outTs[k], outValue[k]);
        else for (let k = hidden; k < n; k++) series.push(outTs[k], outValue[k] + 0);
        hidden = hidden > n ? hidden - n : 0;
      }
    } finally {
      freeBlockId(scratch);
    }
    return series;
  }

  /** A series from toJSON's form; with `signedZero` false a -0 is read as 0, as decode reads it. */
  static fromJSON(capacity: number, flat: unknown, signedZero = true): Series {
    const series = new Series(capacity);
    if (Array.isArray(flat)) {
      for (let k = 0; k + 1 < flat.length; k += 2) {
        const ts = flat[k];
        const value = flat[k + 1];
        if (typeof ts === "number" && typeof value === "number") series.push(ts, signedZero ? value : value + 0);
      }
    }
    return series;
  }
}

/**
 * A twin's histories by property name, with the part of the Map interface the core uses (get,
 * set, has, size, iteration in insertion order). A Map of 10 entries takes ~760 B of heap; this
 * keeps the series on a plain object, whose shape twins with the same property names share
 * (~150 B), which is 60 MB at 100,000 twins. Names are property names (names.ts: identifiers,
 * never `__proto__`), so they never collide with an integer index or the prototype.
 *
 * A series restored from a snapshot stays in the form the snapshot holds it (`restore`) until it
 * is first read: building 1,000,000 series was a third of a restart of 100,000 twins, and most
 * are read only by the next reading of their property, which decodes one.
 */
export class SeriesMap implements Iterable<[string, Series]> {
  /** A Series, or a restored series in its stored form: a flat array, encoded text, or null (none usable). */
  private byName: Record<string, Series | Stored> = {};
  private count = 0;
  /** The capacity restored series are decoded with. */
  private capacity = 0;

  get size(): number {
    return this.count;
  }

  get(name: string): Series | undefined {
    if (!Object.prototype.hasOwnProperty.call(this.byName, name)) return undefined;
    const held = this.byName[name];
    return held instanceof Series ? held : this.load(name, held);
  }

  has(name: string): boolean {
    return Object.prototype.hasOwnProperty.call(this.byName, name);
  }

  set(name: string, series: Series): this {
    if (name === "__proto__") throw new TypeError("a history is kept per property name, and __proto__ is none");
    if (!this.has(name)) this.count++;
    this.byName[name] = series;
    return this;
  }

  /**
   * A series as a snapshot holds it, untrusted: `flat` for Series.fromJSON's form, else
   * Series.decode's. Decoded as they would decode it, on first read; a form that is not one
   * gives an empty series, as they do. A -0 reads as 0: a twin stores -0 as 0 wherever it enters
   * (json.ts, admit), but blocks encoded before it did keep one bit-exact (and JSON.parse reads a
   * "-0" typed by hand as -0): a restored twin holds what a write would have stored.
   */
  restore(name: string, capacity: number, stored: unknown, flat: boolean): this {
    if (name === "__proto__") throw new TypeError("a history is kept per property name, and __proto__ is none");
    if (!this.has(name)) this.count++;
    this.capacity = capacity;
    if (flat && Array.isArray(stored) && stored.length >= FLAT_KEPT) this.byName[name] = Series.fromJSON(capacity, stored, false);
    else this.byName[name] = flat ? (Array.isArray(stored) ? stored : null) : typeof stored === "string" ? stored : null;
    return this;
  }

  /**
   * A series restored from a snapshot and not read since, in the form it was restored from, for
   * a snapshot to write again as it is: the encoded text, or the points written out. Decoding it
   * only to write it again made the first compaction after a restart decode every restored series
   * (and keep them all decoded). The form read back gives the points the series holds, as the one
   * written from them does (Series.decode and fromJSON read either), unless it holds more points
   * than this map's capacity keeps (written under a larger history length) or is written out with
   * anything but numbers: then undefined, as for a series read already.
   */
  asRestored(name: string): string | number[] | undefined {
    if (!this.has(name)) return undefined;
    const held = this.byName[name];
    if (typeof held === "string") return visiblePoints(held) <= this.capacity ? held : undefined;
    if (Array.isArray(held) && held.length % 2 === 0 && held.length / 2 <= this.capacity && held.every((n) => typeof n === "number")) return held as number[];
    return undefined;
  }

  private load(name: string, stored: Stored): Series {
    const series = typeof stored === "string" ? Series.decode(this.capacity, stored, false) : Series.fromJSON(this.capacity, stored, false);
    this.byName[name] = series;
    return series;
  }

  keys(): string[] {
    return Object.keys(this.byName);
  }

  values(): Series[] {
    return this.keys().map((name) => this.get(name) as Series);
  }

  entries(): [string, Series][] {
    return this.keys().map((name) => [name, this.get(name) as Series]);
  }

  [Symbol.iterator](): Iterator<[string, Series]> {
    return this.entries()[Symbol.iterator]();
  }
}

/**
 * Numbers of a series written out that are kept as they are until first read. A snapshot writes a
 * series out below 8 points (journal.ts, ENCODED_FROM); a longer one is from a snapshot written
 * before the encoded form, whose points kept as JavaScript numbers would take several times the
 * bytes of their blocks: it is decoded at once.
 */
const FLAT_KEPT = 16;

/**
 * Points an encoded form holds past its hidden ones, by its blocks' counts, without decoding them
 * (a damaged block ends a decode early: never more). Infinity for a text that is not the form.
 */
function visiblePoints(text: string): number {
  const bytes = Buffer.from(text, "base64");
  if (bytes.length < 2 || bytes[0] !== ENCODING || (bytes.length - 2) % STORED !== 0) return Infinity;
  let points = -bytes[1];
  for (let at = 2; at < bytes.length; at += STORED) points += bytes[at];
  return points;
}

/** A restored series not read yet: Series.fromJSON's form (an array), Series.decode's (text), or null. */
type Stored = unknown[] | string | null;
