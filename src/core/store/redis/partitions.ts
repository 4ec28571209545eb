/**
 * A twin's partition: FNV-1a (32 bit) of its id, modulo the partition count. Stable across
 * processes, versions and platforms, which is all it must be: every instance must agree.
 */
export function partitionOf(id: string, partitions: number): number {
  return fnv1a(id) % partitions;
}

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** MurmurHash3's finaliser: FNV alone barely reorders strings that differ in their last characters. */
function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Which live instance should lead a partition: rendezvous hashing (the instance with the highest
 * hash of instance and partition), so an instance that joins or leaves moves only its share.
 */
export function ownerOf(partition: number, instances: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestScore = -1;
  for (const instance of instances) {
    const score = mix(fnv1a(`${partition}#${instance}`));
    if (score > bestScore || (score === bestScore && best !== undefined && instance < best)) {
      best = instance;
      bestScore = score;
    }
  }
  return best;
}

/** Compares two stream ids ("ms-seq"): negative, 0 or positive. */
export function compareIds(a: string, b: string): number {
  const [am, as] = a.split("-");
  const [bm, bs] = b.split("-");
  const ms = Number(am) - Number(bm);
  return ms !== 0 ? ms : Number(as ?? 0) - Number(bs ?? 0);
}
