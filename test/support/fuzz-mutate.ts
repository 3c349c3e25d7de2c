/**
 * Deterministic fuzzing primitives: a seeded PRNG (mulberry32) and byte-level mutations of a valid
 * input (bit flips, interesting values, length fields, insertions, deletions, truncation, splices).
 * The same seed always yields the same inputs, so a failure names its seed and can be replayed.
 */

export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** uniform in [0, 1) */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** integer in [0, n) */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }

  /** a child generator, so that one stream's consumption does not shift another's */
  fork(): Rng {
    return new Rng(this.int(2 ** 32));
  }
}

const INTERESTING_BYTES = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x0a, 0x0d, 0x25, 0x3a, 0x3b, 0x3d, 0x5b, 0x22, 0x5c];
const INTERESTING_U32 = [0, 1, 0x7f, 0xff, 0x100, 0x7fff, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];
const INTERESTING_TEXT = ['%', '%%', '%E0%A4%A', '%00', '\0', '\r\n', '\r\n\r\n', '[', ']', '\\', '"', "'", '{', '}', ':', ';', '=', '..', '/..', '\u00ff', '\ud800', 'Infinity', 'NaN', '-1', '1e309', '__proto__', 'constructor', 'http://[/', '//', '?', '#', ' '];

type Mutation = (rng: Rng, b: Buffer) => Buffer;

const mutations: Mutation[] = [
  // flip one to eight bits
  (rng, b) => {
    if (!b.length) return b;
    const out = Buffer.from(b);
    for (let n = 1 + rng.int(8); n > 0; n--) {
      const i = rng.int(out.length);
      out[i] = out[i]! ^ (1 << rng.int(8));
    }
    return out;
  },
  // an interesting byte somewhere
  (rng, b) => {
    if (!b.length) return b;
    const out = Buffer.from(b);
    out[rng.int(out.length)] = rng.pick(INTERESTING_BYTES);
    return out;
  },
  // an interesting 32-bit big-endian value (SSH lengths, counts)
  (rng, b) => {
    if (b.length < 4) return b;
    const out = Buffer.from(b);
    out.writeUInt32BE(rng.pick(INTERESTING_U32), rng.int(out.length - 3));
    return out;
  },
  // insert random bytes or interesting text
  (rng, b) => {
    const at = rng.int(b.length + 1);
    const ins = rng.chance(0.5) ? rng.bytes(1 + rng.int(32)) : Buffer.from(rng.pick(INTERESTING_TEXT));
    return Buffer.concat([b.subarray(0, at), ins, b.subarray(at)]);
  },
  // delete a range
  (rng, b) => {
    if (!b.length) return b;
    const at = rng.int(b.length);
    return Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + rng.int(Math.min(64, b.length - at)))]);
  },
  // truncate
  (rng, b) => b.subarray(0, rng.int(b.length + 1)),
  // duplicate a range in place
  (rng, b) => {
    if (!b.length) return b;
    const at = rng.int(b.length);
    const len = 1 + rng.int(Math.min(256, b.length - at));
    return Buffer.concat([b.subarray(0, at + len), b.subarray(at, at + len), b.subarray(at + len)]);
  },
  // overwrite a range with random bytes
  (rng, b) => {
    if (!b.length) return b;
    const out = Buffer.from(b);
    const at = rng.int(out.length);
    rng.bytes(Math.min(out.length - at, 1 + rng.int(16))).copy(out, at);
    return out;
  },
];

/** One to `max` random mutations of `input`. */
export function mutate(rng: Rng, input: Buffer, max = 4): Buffer {
  let out = input;
  for (let n = 1 + rng.int(max); n > 0; n--) out = rng.pick(mutations)(rng, out);
  return out;
}

/** Cuts `input` into 1..4 pieces, to exercise parsers that see a message in several reads. */
export function pieces(rng: Rng, input: Buffer): Buffer[] {
  const cuts = new Set<number>();
  for (let n = rng.int(4); n > 0; n--) cuts.add(rng.int(input.length));
  const sorted = [...cuts].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const c of sorted) {
    if (c > from) out.push(input.subarray(from, c));
    from = c;
  }
  out.push(input.subarray(from));
  return out;
}

export const hostileText = (rng: Rng) => rng.pick(INTERESTING_TEXT);
