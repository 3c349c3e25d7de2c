/**
 * The search index's one tokeniser (pure): what a segment is indexed as, what an auditor's query asks
 * for, and which words of a hit are marked — the same function for all three, so index and query
 * always agree (migration 036: PostgreSQL stores the tsvector built here and never parses the
 * recording's text itself).
 *
 * Invariants:
 * - A lexeme is a maximal run of letters, digits and combining marks (Unicode), lower-cased: every
 *   other character separates words, so `/etc/passwd` is `etc` `passwd`, `CHG-1042` is `chg` `1042`,
 *   `rate_ml=5` is `rate` `ml` `5`. Each word has its own position (1, 2, 3 …), so a path, a
 *   hyphenated word or a quoted phrase is found as a phrase of its words (`etc <-> passwd`), and a
 *   single component (`passwd`) is found on its own.
 * - Left out: words longer than MAX_LEXEME characters, and runs of base64 (BLOB_MIN or more characters of
 *   the base64 alphabet with upper case, lower case and digits mixed: keys, tokens, encoded files) —
 *   nobody searches for them and each is a distinct entry in the GIN index. Hex digests (a SHA-256 is 64
 *   lower-case hex digits) are kept: auditors search for a file's hash.
 * - Left out too: the bytes of hex dumps (indexedLexemes).
 * - Positions stop at PostgreSQL's 16,383 and a lexeme keeps at most 256 of them (tsvector's limits).
 * - Lexemes hold only letters, digits and marks, so a tsvector / tsquery literal never needs more than
 *   the quoting done here; lone surrogates and control characters are separators.
 */

/** the longest word indexed, in UTF-16 units */
export const MAX_LEXEME = 64;
/** the shortest run of the base64 alphabet that can be left out as a blob */
const BLOB_MIN = 48;
const MAX_POSITION = 16383;
const MAX_POSITIONS = 256;

/** A word of a text: its lexeme and where it stands (UTF-16 offsets). */
export interface Word {
  lexeme: string;
  start: number;
  end: number;
}

// character classes for the scan (ASCII by table, the rest by Unicode property)
const ALNUM = 1;
const UPPER = 2;
const B64 = 4; // the base64 alphabet, with '-' and '_' (URL-safe)
const ASCII = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  if (/[a-z0-9]/.test(ch)) ASCII[c] = ALNUM | B64;
  if (/[A-Z]/.test(ch)) ASCII[c] = ALNUM | UPPER | B64;
  if ('+/=_-'.includes(ch)) ASCII[c] = B64;
}
const LETTER = /[\p{L}\p{N}\p{M}]/u;

function isWordChar(text: string, i: number, c: number): boolean {
  if (c < 128) return (ASCII[c]! & ALNUM) !== 0;
  if (c >= 0xd800 && c <= 0xdfff) {
    // a letter outside the BMP is a surrogate pair; a lone surrogate separates
    const cp = text.codePointAt(i)!;
    return cp > 0xffff && LETTER.test(String.fromCodePoint(cp));
  }
  return LETTER.test(text[i]!);
}

/** The end of the base64-alphabet run at `i`, negated when the run is a blob (mixed case and digits, BLOB_MIN+). */
function base64Run(text: string, i: number): number {
  let flags = 0;
  let j = i;
  for (; j < text.length; j++) {
    const c = text.charCodeAt(j);
    if (c >= 128 || !(ASCII[c]! & B64)) break;
    flags |= c >= 97 && c <= 122 ? 1 : c >= 65 && c <= 90 ? 2 : c >= 48 && c <= 57 ? 4 : 0;
  }
  return j - i >= BLOB_MIN && flags === 7 ? -j : j;
}

/** Calls `emit` for each word of `text`, in order (blobs and over-long words left out). */
function scan(text: string, emit: (lexeme: string, start: number, end: number) => void): void {
  const n = text.length;
  let checkedTo = 0; // base64 runs are looked at once, from their first character
  let i = 0;
  while (i < n) {
    let c = text.charCodeAt(i);
    if (c < 128) {
      const k = ASCII[c]!;
      if (i >= checkedTo && k & B64) {
        const end = base64Run(text, i);
        if (end < 0) {
          i = checkedTo = -end;
          continue;
        }
        checkedTo = end;
      }
      if (!(k & ALNUM)) {
        i++;
        continue;
      }
    } else if (!isWordChar(text, i, c)) {
      i++;
      continue;
    }
    const start = i;
    let plain = true; // ASCII without upper case: already a lexeme
    while (i < n) {
      c = text.charCodeAt(i);
      if (c < 128) {
        const k = ASCII[c]!;
        if (!(k & ALNUM)) break;
        if (k & UPPER) plain = false;
        i++;
      } else if (isWordChar(text, i, c)) {
        plain = false;
        i += c >= 0xd800 && c <= 0xdbff ? 2 : 1;
      } else break;
    }
    if (i - start <= MAX_LEXEME) {
      const w = text.slice(start, i);
      emit(plain ? w : w.toLowerCase(), start, i);
    }
  }
}

/** The words of `text`, in order (blobs and over-long words left out). */
export function words(text: string): Word[] {
  const out: Word[] = [];
  scan(text, (lexeme, start, end) => out.push({ lexeme, start, end }));
  return out;
}

/** a lexeme quoted for a tsvector or tsquery literal */
function quote(lexeme: string): string {
  return `'${lexeme.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

/** 2 or 4 lower-case hex digits: a byte or a pair of a hex dump's columns */
function isHexColumn(lexeme: string): boolean {
  return (lexeme.length === 2 || lexeme.length === 4) && isHex(lexeme);
}

function isHex(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

/**
 * The lexemes indexed for `text` (and asked for by a query): its words, less the bytes of hex dumps —
 * a run of HEX_RUN or more words of 2 or 4 hex digits (`hexdump -C`, `xxd`), and the offset (up to 8
 * hex digits) before it. Nobody searches a dump's bytes (its text column, `|...|`, is kept), and each
 * line of them was a dozen or more entries in the GIN index.
 */
export function indexedLexemes(text: string): string[] {
  const all: string[] = [];
  scan(text, (lexeme) => all.push(lexeme));
  let out: string[] | null = null; // a copy only when something is dropped
  for (let i = 0; i < all.length; ) {
    if (!isHexColumn(all[i]!)) {
      out?.push(all[i]!);
      i++;
      continue;
    }
    let j = i;
    while (j < all.length && isHexColumn(all[j]!)) j++;
    if (j - i >= HEX_RUN) {
      out ??= all.slice(0, i);
      const offset = out[out.length - 1];
      if (offset !== undefined && offset.length <= 8 && isHex(offset)) out.pop();
    } else {
      for (let k = i; k < j; k++) out?.push(all[k]!);
    }
    i = j;
  }
  return out ?? all;
}
const HEX_RUN = 8;

/** A segment's tsvector: its distinct lexemes in order of first appearance, and each one's positions (rising). */
export interface TsvectorEntries {
  lexemes: string[];
  positions: number[][];
}

/** The tsvector of a segment's text: each distinct lexeme once, with its positions. */
export function tsvectorEntries(text: string): TsvectorEntries {
  const index = new Map<string, number>();
  const lexemes: string[] = [];
  const positions: number[][] = [];
  let pos = 0;
  for (const lexeme of indexedLexemes(text)) {
    if (pos < MAX_POSITION) pos++;
    const k = index.get(lexeme);
    if (k === undefined) {
      index.set(lexeme, lexemes.length);
      lexemes.push(lexeme);
      positions.push([pos]);
    } else {
      const p = positions[k]!;
      if (p.length < MAX_POSITIONS && pos < MAX_POSITION) p.push(pos);
    }
  }
  return { lexemes, positions };
}

/**
 * The tsvector literal of a segment's text (cast with `::tsvector`). Empty string when the text has no
 * words. (The indexer sends tsvectorEntries in PostgreSQL's binary form instead: server/db/pg-binary.ts.)
 */
export function tsvectorOf(text: string): string {
  const { lexemes, positions } = tsvectorEntries(text);
  // a lexeme holds only letters, digits and marks: quoting it needs no escapes
  return lexemes.map((lexeme, k) => `'${lexeme}':${positions[k]!.join(',')}`).join(' ');
}

/** An auditor's query, parsed. */
export interface ParsedQuery {
  /** a tsquery literal (cast with `::tsquery`) */
  tsquery: string;
  /** the lexemes asked for (not excluded): the words marked in a snippet */
  terms: Set<string>;
}

type Node = { kind: 'term'; lexemes: string[] } | { kind: 'not'; lexemes: string[] };

/**
 * The query syntax of websearch_to_tsquery: words are all required, `"…"` is a phrase, `or` between
 * two terms is either, `-word` or `-"…"` excludes. A word made of several (`/etc/passwd`, `CHG-1042`,
 * `rm -rf` in quotes) is the phrase of its words. Null when the query asks for nothing: no words, or
 * only exclusions (which would match nearly every segment, read through the whole index).
 */
export function parseQuery(q: string): ParsedQuery | null {
  // terms, each followed by the operator to the next: '&' or '|'
  const nodes: { node: Node; or: boolean }[] = [];
  let pendingOr = false;
  let i = 0;
  while (i < q.length) {
    const c = q[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    let negate = false;
    if (c === '-' && i + 1 < q.length && !/\s/.test(q[i + 1]!)) {
      negate = true;
      i++;
    }
    let chunk: string;
    let quoted = false;
    if (q[i] === '"') {
      const close = q.indexOf('"', i + 1);
      const end = close < 0 ? q.length : close;
      chunk = q.slice(i + 1, end);
      i = end + 1;
      quoted = true;
    } else {
      let end = i;
      while (end < q.length && !/\s/.test(q[end]!) && q[end] !== '"') end++;
      chunk = q.slice(i, end);
      i = end;
    }
    if (!quoted && !negate && chunk.toLowerCase() === 'or') {
      if (nodes.length > 0) pendingOr = true;
      continue;
    }
    const lexemes = indexedLexemes(chunk);
    if (lexemes.length === 0) continue;
    nodes.push({ node: { kind: negate ? 'not' : 'term', lexemes }, or: pendingOr });
    pendingOr = false;
  }
  const positives = nodes.filter((n) => n.node.kind === 'term');
  if (positives.length === 0) return null;
  const phrase = (lexemes: string[]) => (lexemes.length === 1 ? quote(lexemes[0]!) : `(${lexemes.map(quote).join(' <-> ')})`);
  let tsquery = '';
  for (const [k, { node, or }] of nodes.entries()) {
    const text = node.kind === 'not' ? `!${phrase(node.lexemes)}` : phrase(node.lexemes);
    tsquery += k === 0 ? text : ` ${or ? '|' : '&'} ${text}`;
  }
  return { tsquery, terms: new Set(positives.flatMap((n) => n.node.lexemes)) };
}

const OPEN = '⟦';
const CLOSE = '⟧';
/** a snippet shows about this many words (as ts_headline's MaxWords did) */
const SNIPPET_WORDS = 35;
/** words shown before the first match */
const SNIPPET_LEAD = 10;

/**
 * The part of a hit's text around its first match, matched words between ⟦ and ⟧ (what ts_headline
 * gave, with the same tokeniser as the index: `passwd` is marked inside `/etc/passwd`).
 */
export function snippet(text: string, terms: Set<string>): string {
  const all = words(text);
  if (all.length === 0) return text.slice(0, 200);
  const first = Math.max(0, all.findIndex((w) => terms.has(w.lexeme)));
  const from = Math.max(0, Math.min(first - SNIPPET_LEAD, all.length - SNIPPET_WORDS));
  const to = Math.min(all.length, from + SNIPPET_WORDS);
  let out = '';
  let at = from === 0 ? 0 : all[from]!.start;
  for (let k = from; k < to; k++) {
    const w = all[k]!;
    if (!terms.has(w.lexeme)) continue;
    out += text.slice(at, w.start) + OPEN + text.slice(w.start, w.end) + CLOSE;
    at = w.end;
  }
  return out + text.slice(at, to === all.length ? text.length : all[to - 1]!.end);
}
