/**
 * The display form of bytes that are not valid UTF-8 (asciicast.ts castForm), built in one pass over the
 * bytes: exactly the UTF-8 bytes of `JSON.stringify(bytes.toString('utf8').replaceAll('\0', '')).slice(1, -1)`.
 * - Decoding as Node (and a terminal) does: each maximal ill-formed subsequence becomes one U+FFFD (the
 *   WHATWG / Unicode "maximal subpart" rule); a well-formed sequence is its own bytes.
 * - JSON escaping as JSON.stringify does: `"` and `\`, \b \t \n \f \r, other control characters below
 *   space as `\u00xx` (lower-case hex); DEL and everything else as is. NUL bytes are left out.
 * Why: decoding random binary to a string, escaping it and encoding it back cost ~57 ns a byte in V8
 * (invalid UTF-8 takes the decoder's slow path); this is ~20 ns a byte on random bytes (their branches
 * are most of it) and ~5 on text, and the recording is unchanged byte for byte
 * (test/unit/display-form.test.ts checks it against that expression).
 */

const REPLACEMENT = [0xef, 0xbf, 0xbd];
const HEX = Buffer.from('0123456789abcdef', 'latin1');
// the short escapes JSON.stringify uses: \b \t \n \f \r
const SHORT = new Uint8Array(32);
SHORT[8] = 0x62;
SHORT[9] = 0x74;
SHORT[10] = 0x6e;
SHORT[12] = 0x66;
SHORT[13] = 0x72;

/** Reused output space (the most a byte can become is 6: `\u001b`); one caller at a time per thread. */
let scratch = Buffer.allocUnsafe(64 * 1024);
const SCRATCH_MAX = 8 * 1024 * 1024;

/** The JSON-escaped display form of `bytes` as UTF-8 bytes (a new Buffer of exactly that length). */
export function escapedDisplayBytes(bytes: Uint8Array): Buffer {
  const n = bytes.length;
  const need = n * 6;
  let out = scratch;
  if (need > out.length) {
    out = Buffer.allocUnsafe(need);
    if (need <= SCRATCH_MAX) scratch = out;
  }
  let o = 0;
  let i = 0;
  while (i < n) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      if (b >= 0x20) {
        if (b === 0x22 || b === 0x5c) out[o++] = 0x5c;
        out[o++] = b;
      } else if (b !== 0) {
        out[o++] = 0x5c;
        const short = SHORT[b]!;
        if (short !== 0) out[o++] = short;
        else {
          out[o++] = 0x75; // u00xx
          out[o++] = 0x30;
          out[o++] = 0x30;
          out[o++] = HEX[b >> 4]!;
          out[o++] = HEX[b & 15]!;
        }
      }
      continue;
    }
    // a lead byte: how many continuation bytes it needs, and the range allowed for the first of them
    let more: number;
    let lower = 0x80;
    let upper = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) more = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      more = 2;
      if (b === 0xe0) lower = 0xa0; // no overlong forms
      else if (b === 0xed) upper = 0x9f; // no surrogates
    } else if (b >= 0xf0 && b <= 0xf4) {
      more = 3;
      if (b === 0xf0) lower = 0x90;
      else if (b === 0xf4) upper = 0x8f; // nothing above U+10FFFF
    } else more = 0; // a continuation byte without its lead, C0, C1 or F5-FF: ill-formed on its own
    let j = i + 1;
    let got = 0;
    while (got < more && j < n) {
      const c = bytes[j]!;
      if (c < lower || c > upper) break;
      lower = 0x80;
      upper = 0xbf;
      j++;
      got++;
    }
    if (more > 0 && got === more) {
      while (i < j) out[o++] = bytes[i++]!;
    } else {
      // the maximal subpart read so far is one U+FFFD; the byte that broke it (if any) is read again
      out[o++] = REPLACEMENT[0]!;
      out[o++] = REPLACEMENT[1]!;
      out[o++] = REPLACEMENT[2]!;
      i = j;
    }
  }
  return Buffer.from(out.subarray(0, o));
}
