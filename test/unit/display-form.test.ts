/**
 * proxy/recording/display-form.ts against what it stands for: the UTF-8 bytes of
 * JSON.stringify(bytes.toString('utf8') without NULs).slice(1, -1) — Node's own decoder and escaper —
 * on crafted sequences (every lead byte with every kind of continuation, truncated at every point) and on
 * random bytes biased towards the UTF-8 edge cases.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { escapedDisplayBytes } from '../../proxy/recording/display-form.js';

const reference = (b: Uint8Array): Buffer =>
  Buffer.from(JSON.stringify(Buffer.from(b).toString('utf8').replaceAll('\0', '')).slice(1, -1));

function check(b: Uint8Array): void {
  const got = escapedDisplayBytes(b);
  const want = reference(b);
  if (!got.equals(want)) expect(got.toString('hex'), `input ${Buffer.from(b).toString('hex')}`).toBe(want.toString('hex'));
}

/** a prng so a failure can be re-run: mulberry32 */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// bytes where UTF-8 decoding changes its mind: range edges of leads and continuations, controls, quotes
const EDGES = [0x00, 0x01, 0x08, 0x09, 0x0a, 0x0c, 0x0d, 0x1b, 0x1f, 0x20, 0x22, 0x41, 0x5c, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf,
  0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xf8, 0xfe, 0xff];

describe('escapedDisplayBytes', () => {
  it('is the JSON-escaped, NUL-free decoding Node makes, for every pair and triple of edge bytes', () => {
    for (const a of EDGES) {
      for (const b of EDGES) {
        check(Uint8Array.of(a, b));
        for (const c of EDGES) check(Uint8Array.of(a, b, c));
      }
    }
  });

  it('handles well-formed characters of every length, cut at every point', () => {
    const text = Buffer.from('a"\\\b\t\n\f\r\x1b\x7f é € 𝄞 \u2028 \ufffd end');
    check(text);
    for (let cut = 0; cut <= text.length; cut++) {
      check(text.subarray(0, cut));
      check(text.subarray(cut));
      check(Buffer.concat([text.subarray(0, cut), Buffer.from([0xff]), text.subarray(cut)]));
    }
  });

  it('matches on random bytes, plain and biased towards lead and continuation bytes', () => {
    const rnd = prng(20261201);
    for (let round = 0; round < 3000; round++) {
      const n = 1 + Math.floor(rnd() * 64);
      const b = new Uint8Array(n);
      for (let k = 0; k < n; k++) b[k] = rnd() < 0.6 ? EDGES[Math.floor(rnd() * EDGES.length)]! : Math.floor(rnd() * 256);
      check(b);
    }
    for (let round = 0; round < 20; round++) check(randomBytes(64 * 1024));
  });

  it('returns a buffer of its own (the space it writes in is reused)', () => {
    const first = escapedDisplayBytes(Buffer.from([0xff, 0x41]));
    escapedDisplayBytes(randomBytes(4096));
    expect(first.toString('utf8')).toBe('\ufffdA');
    expect(escapedDisplayBytes(new Uint8Array(0))).toHaveLength(0);
    check(randomBytes(3 * 1024 * 1024)); // more than the reused space holds
  });
});
