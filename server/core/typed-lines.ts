/**
 * What a technician typed, as lines, from an asciicast v2 recording's input stream (pure).
 * "i" events carry typed text; a Portcullis "b" event carries exact bytes of a stream (base64, `i:` or
 * `o:`) and is followed by a display event of the same stream: the text those bytes show, UTF-8 with
 * U+FFFD for invalid sequences and without NULs (proxy/recording/asciicast.ts defines the pair). The walk
 * takes a "b" event's text from its display event and leaves its base64 undecoded: decoding it cost
 * 17-23 ns a byte, more CPU than relaying the bytes. Only a "b" whose display event never comes (a torn
 * tail) is decoded, at the end. A "b" event of either stream that is mostly binary (mostlyBinary) gives
 * no lines: a download's or a piped firmware image's bytes were neither typed nor read. A run of binary
 * input stands as one line, BINARY_INPUT_LINE, where it began.
 * Output lines are cut at CR or LF; backspace / DEL remove the last character; escape sequences (arrow
 * keys and the like) and other control characters are dropped.
 * The same walk yields the device's output lines, for the search index. Lines that are not JSON
 * are skipped: a recording torn at its tail still gives what it holds. CastLineWalker is the same walk
 * one line at a time, resumable from a saved state (the search indexer follows live recordings with it).
 */

export interface TimedLine {
  /** seconds since the start of the recording when the line began */
  offsetSeconds: number;
  text: string;
  /** characters of a longer line left out after `text` (the walk's maxLineChars); absent when none were */
  cutChars?: number;
}

export interface CastLines {
  input: TimedLine[];
  output: TimedLine[];
}

// CSI / SS3 / OSC sequences and lone escapes
const ESCAPES = /\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[()][A-Za-z0-9]|O.|.)/g;

/** A line in progress, as stored between two incremental reads of a growing recording. */
export interface PendingLine {
  current: string;
  startedAt: number;
  pendingEscape: string;
  /** when a run of binary input (binaryInput) began, until text follows; absent in older saved states */
  binarySince?: number | null;
  /** characters left out of `current` past maxChars; absent in older saved states */
  cut?: number;
}

/** The typed line that stands for a run of binary input (its bytes are in the recording). */
export const BINARY_INPUT_LINE = '[binary input]';

// characters below space except tab (dropped, or line ends and editing keys); DEL too when editing
const CONTROLS = /[\x00-\x08\x0a-\x1f]/g;
const EDITING_CONTROLS = /[\x00-\x08\x0a-\x1f\x7f]/g;

const isHigh = (c: number) => c >= 0xd800 && c <= 0xdbff;
const isLow = (c: number) => c >= 0xdc00 && c <= 0xdfff;

class LineBuilder {
  readonly lines: TimedLine[] = [];
  private current = '';
  private startedAt = 0;
  private pendingEscape = '';
  private binarySince: number | null = null;
  private cut = 0;

  /** maxChars: a line in progress keeps at most this many characters (the rest of a longer line is
   * dropped, and counted: the line's cutChars) */
  constructor(private readonly editing: boolean, private readonly maxChars = Infinity, from?: PendingLine) {
    if (from) ({ current: this.current, startedAt: this.startedAt, pendingEscape: this.pendingEscape } = from);
    this.binarySince = from?.binarySince ?? null;
    this.cut = from?.cut ?? 0;
  }

  add(time: number, text: string): void {
    if (text) this.endBinary();
    let s = (this.pendingEscape + text);
    this.pendingEscape = '';
    // an escape sequence cut between two events waits for its end (only one near the end can be cut)
    const lastEscape = s.lastIndexOf('\x1b');
    if (lastEscape >= 0) {
      const cut = lastEscape >= s.length - 32 ? /\x1b[^a-zA-Z~\x07]*$/.exec(s) : null;
      if (cut && cut[0].length < 32) {
        this.pendingEscape = cut[0];
        s = s.slice(0, cut.index);
      }
      s = s.replace(ESCAPES, '');
    }
    // runs of ordinary characters are taken whole; control characters one by one
    const controls = this.editing ? EDITING_CONTROLS : CONTROLS;
    controls.lastIndex = 0;
    let from = 0;
    for (;;) {
      const m = controls.exec(s);
      const end = m ? m.index : s.length;
      if (end > from) this.append(time, s.slice(from, end));
      if (!m) return;
      const ch = s[end];
      if (ch === '\r' || ch === '\n') this.flush();
      else if (ch === '\x7f' || ch === '\b') {
        if (this.editing) this.erase();
      } else if (ch === '\x15' && this.editing) { // ^U erases the line
        this.current = '';
        this.cut = 0;
      }
      from = end + 1;
    }
  }

  private append(time: number, piece: string): void {
    if (this.current === '' && this.cut === 0) this.startedAt = time;
    const room = this.maxChars - this.current.length;
    if (piece.length <= room) this.current += piece;
    else {
      if (room > 0) this.current += piece.slice(0, room);
      this.cut += piece.length - Math.max(room, 0);
    }
  }

  /** backspace: the last character (a character left out past maxChars first) */
  private erase(): void {
    if (this.cut > 0) this.cut--;
    else {
      // one code point: a surrogate pair is two code units (what Array.from(current).slice(0, -1) gave, in O(1))
      const n = this.current.length;
      const pair = isLow(this.current.charCodeAt(n - 1)) && isHigh(this.current.charCodeAt(n - 2));
      this.current = this.current.slice(0, pair ? -2 : -1);
    }
  }

  flush(): void {
    const text = this.current.trim();
    if (text) this.lines.push(this.cut ? { offsetSeconds: this.startedAt, text, cutChars: this.cut } : { offsetSeconds: this.startedAt, text });
    this.current = '';
    this.cut = 0;
  }

  /** the completed lines since the last call */
  take(): TimedLine[] {
    return this.lines.splice(0);
  }

  /**
   * A block of binary input (a firmware image piped to stdin): it ends the line before it and, with the
   * blocks right after it, stands as one BINARY_INPUT_LINE — not as garbage lines, and not as nothing
   * (a command sent inside a binary block would otherwise leave no typed line; the recording has it).
   */
  binaryInput(time: number): void {
    this.flush();
    this.binarySince ??= time;
  }

  get inBinary(): boolean {
    return this.binarySince !== null;
  }

  /** The end of a run of binary input: its line. */
  endBinary(): void {
    if (this.binarySince === null) return;
    this.lines.push({ offsetSeconds: this.binarySince, text: BINARY_INPUT_LINE });
    this.binarySince = null;
  }

  pending(): PendingLine {
    return { current: this.current, startedAt: this.startedAt, pendingEscape: this.pendingEscape, binarySince: this.binarySince, ...(this.cut ? { cut: this.cut } : {}) };
  }
}

/** Where a CastLineWalker stands between two reads (JSON-serialisable). */
export interface WalkerState {
  first: boolean;
  /** the next display event adds nothing (a state saved before `display` existed, whose walk took the
   * text of the "b" event before it from its bytes) */
  skipDisplay: boolean;
  /** a "b" event whose display event has not been read yet (absent in states saved before it existed) */
  display?: AwaitedDisplay | null;
  input: PendingLine;
  output: PendingLine;
}

/** A "b" event waiting for its display event: its stream, its time, and the line itself (decoded only
 * if no display event follows; saved as text). */
interface AwaitedDisplay {
  stream: 'i' | 'o';
  time: number;
  line: string | Buffer;
}

/** The start of a "b" event as the recorder writes it, `[1.250000, "b", "o:` (its data is base64: a line
 * that starts so and ends with `"]` is a whole event, read without parsing its payload). */
const BINARY_EVENT = /^\[\s*(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)\s*,\s*"b"\s*,\s*"([io]):/;

/** A "b" line at least this long is read by its start (shorter ones are parsed: it costs less than the test) */
const LONG_LINE = 256;

/** The text a "b" event's bytes show, as its display event carries it (asciicast.ts); null if the line is not JSON. */
function shownText(line: string | Buffer): string | null {
  let data: unknown;
  try {
    data = (JSON.parse(line.toString()) as unknown[])[2];
  } catch {
    return null;
  }
  return typeof data === 'string' ? Buffer.from(data.slice(2), 'base64').toString('utf8').replaceAll('\0', '') : null;
}

/**
 * The walk over a cast's lines, one line at a time, resumable: state() captures the lines in progress
 * so a growing recording can be read in pieces (each piece ending at a line end) with the same result
 * as reading it whole.
 */
export class CastLineWalker {
  private readonly input: LineBuilder;
  private readonly output: LineBuilder;
  private first: boolean;
  private skipDisplay: boolean;
  private display: AwaitedDisplay | null;

  constructor(opts: { maxLineChars?: number; from?: WalkerState } = {}) {
    this.input = new LineBuilder(true, opts.maxLineChars, opts.from?.input);
    this.output = new LineBuilder(false, opts.maxLineChars, opts.from?.output);
    this.first = opts.from?.first ?? true;
    this.skipDisplay = opts.from?.skipDisplay ?? false;
    this.display = opts.from?.display ?? null;
  }

  /** One line of the cast (without its "\n"), as text or as its UTF-8 bytes (decoded only if needed). */
  line(line: string | Buffer): void {
    if (typeof line !== 'string') {
      if (!this.first && this.bytesWalked(line)) return;
      line = line.toString('utf8');
    }
    if (!line.trim()) return;
    const b = this.first || line.length < LONG_LINE ? null : BINARY_EVENT.exec(line);
    if (b && line.endsWith('"]')) return this.binary(b[2] as 'i' | 'o', Number(b[1]), line);
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      return;
    }
    if (this.first) {
      this.first = false;
      if (!Array.isArray(v)) return;
    }
    if (!Array.isArray(v) || v.length !== 3 || typeof v[0] !== 'number' || typeof v[2] !== 'string') return;
    const [time, code, data] = v as [number, string, string];
    if (code === 'b') {
      const stream = data.startsWith('i:') ? 'i' : data.startsWith('o:') ? 'o' : null;
      if (stream) return this.binary(stream, time, line);
      this.settleDisplay();
      this.skipDisplay = true;
      return;
    }
    if (code === 'i' || code === 'o') {
      const awaited = this.display;
      this.display = null;
      if (awaited) this.shown(awaited.stream, awaited.time, data);
      else if (!this.skipDisplay) (code === 'i' ? this.input : this.output).add(time, data);
      this.skipDisplay = false;
    }
  }

  /** The end of the recording: the lines still in progress are complete. */
  finish(): void {
    this.settleDisplay();
    this.input.endBinary();
    this.input.flush();
    this.output.flush();
  }

  /** The lines completed since the last call. */
  take(): CastLines {
    return { input: this.input.take(), output: this.output.take() };
  }

  state(): WalkerState {
    const { display } = this;
    return {
      first: this.first, skipDisplay: this.skipDisplay, display: display && { ...display, line: display.line.toString() },
      input: this.input.pending(), output: this.output.pending(),
    };
  }

  /**
   * A line given as bytes that needs no decoding: a "b" event (held as it is), or the display event of
   * one whose bytes are mostly binary (the line it ends is complete). False: walk it as text.
   */
  private bytesWalked(line: Buffer): boolean {
    const head = line.toString('latin1', 0, 64);
    const b = BINARY_EVENT.exec(head);
    if (b) {
      if (!endsEvent(line)) return false;
      this.binary(b[2] as 'i' | 'o', Number(b[1]), line);
      return true;
    }
    const awaited = this.display;
    if (!awaited || !binaryDisplay(line, head)) return false;
    this.display = null;
    this.skipDisplay = false;
    this.binaryBlockOf(awaited.stream, awaited.time);
    return true;
  }

  /** A "b" event: its text comes with the display event after it. */
  private binary(stream: 'i' | 'o', time: number, line: string | Buffer): void {
    this.settleDisplay();
    this.skipDisplay = false;
    this.display = { stream, time, line };
  }

  /** A "b" event with no display event after it (torn off, or another "b" came first): its own bytes. */
  private settleDisplay(): void {
    const awaited = this.display;
    this.display = null;
    const text = awaited && shownText(awaited.line);
    if (awaited && text !== null) this.shown(awaited.stream, awaited.time, text);
  }

  /** The text shown by a "b" event's bytes. */
  private shown(stream: 'i' | 'o', time: number, shown: string): void {
    // NULs show nothing on a terminal (and make a piece exact: proxy/recording/asciicast.ts castForm): left
    // out before judging (the recorder's display form has none), so text laced with NULs is indexed as
    // the text a terminal showed
    const text = shown.includes('\0') ? shown.replaceAll('\0', '') : shown;
    const builder = stream === 'i' ? this.input : this.output;
    // a block of binary output (a download over exec, a core dump) or input (a firmware image piped to an
    // exec session's stdin) shows nothing anyone searches for and was not typed: it gives no lines (input:
    // one marker line per run) and ends the line before it; a few invalid bytes in text (a keystroke, a
    // paste) are kept as text
    // (the short tail of a binary run, cut off by a packet boundary, continues the run)
    if (binaryBlock(text) || (stream === 'i' && this.input.inBinary && text !== '' && mostlyBinary(text))) this.binaryBlockOf(stream, time);
    else builder.add(time, text);
  }

  /** A block of binary: no output lines (it ends the line before it); for input, its marker line. */
  private binaryBlockOf(stream: 'i' | 'o', time: number): void {
    if (stream === 'i') this.input.binaryInput(time);
    else this.output.flush();
  }
}

/** The shortest "b" output event that can count as a block of binary output. */
const BINARY_BLOCK = 64;

/** A block of binary: at least BINARY_BLOCK characters, mostly binary. */
export const binaryBlock = (text: string): boolean => text.length >= BINARY_BLOCK && mostlyBinary(text);

/** A replacement character or a control character (other than tab, CR, LF, ESC). */
const isOdd = (c: number): boolean => c === 0xfffd || (c < 0x20 && c !== 9 && c !== 10 && c !== 13 && c !== 27) || c === 0x7f;

/** More than one character in eight is odd (isOdd). */
export function mostlyBinary(text: string): boolean {
  let odd = 0;
  for (let i = 0; i < text.length; i++) if (isOdd(text.charCodeAt(i))) odd++;
  return odd * 8 > text.length;
}

/** The start of an "i" or "o" event as the recorder writes it, up to its string's first character. */
const TEXT_EVENT = /^\[\s*\d+(?:\.\d+)?(?:[eE][+-]?\d+)?\s*,\s*"[io]"\s*,\s*"/;

/** The line ends with `"]` (an event whose last element is a string). */
const endsEvent = (line: Buffer): boolean => line.length >= 2 && line[line.length - 2] === 0x22 && line[line.length - 1] === 0x5d;

/** The value of four hex digits at `at`, or -1. */
function hex4(line: Buffer, at: number): number {
  let v = 0;
  for (let i = at; i < at + 4; i++) {
    const h = line[i];
    const d = h === undefined ? -1 : h >= 0x30 && h <= 0x39 ? h - 0x30 : h >= 0x61 && h <= 0x66 ? h - 0x57 : h >= 0x41 && h <= 0x46 ? h - 0x37 : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

/**
 * True when `line` (`head`: its first bytes as latin1) is an "i"/"o" event whose text, NULs left out, is
 * a block of binary (binaryBlock), counted on the JSON bytes without decoding them: characters as UTF-16
 * units, odd ones as isOdd. Anything the recorder would not write (raw control bytes, invalid UTF-8, an
 * unknown escape) gives false, and the line is then decoded and judged as text: false is always safe.
 */
export function binaryDisplay(line: Buffer, head: string): boolean {
  const start = TEXT_EVENT.exec(head)?.[0].length;
  if (start === undefined || !endsEvent(line)) return false;
  const end = line.length - 2;
  let chars = 0;
  let odd = 0;
  let i = start;
  while (i < end) {
    const b = line[i]!;
    if (b < 0x80) {
      if (b === 0x5c) {
        const e = line[i + 1];
        if (e === 0x75) {
          const c = hex4(line, i + 2);
          if (c < 0 || i + 6 > end) return false;
          i += 6;
          if (c !== 0) {
            chars++;
            if (isOdd(c)) odd++;
          }
          continue;
        }
        if (e === 0x62 || e === 0x66) odd++; // \b \f
        else if (e !== 0x6e && e !== 0x72 && e !== 0x74 && e !== 0x22 && e !== 0x5c && e !== 0x2f) return false;
        chars++;
        i += 2;
        continue;
      }
      if (b < 0x20 || b === 0x22) return false;
      chars++;
      if (b === 0x7f) odd++;
      i++;
      continue;
    }
    const c1 = line[i + 1] ?? 0;
    if (b >= 0xc2 && b <= 0xdf) {
      if ((c1 & 0xc0) !== 0x80) return false;
      chars++;
      i += 2;
      continue;
    }
    const c2 = line[i + 2] ?? 0;
    if (b >= 0xe0 && b <= 0xef) {
      const lo = b === 0xe0 ? 0xa0 : 0x80;
      const hi = b === 0xed ? 0x9f : 0xbf;
      if (c1 < lo || c1 > hi || (c2 & 0xc0) !== 0x80) return false;
      chars++;
      if (b === 0xef && c1 === 0xbf && c2 === 0xbd) odd++; // U+FFFD
      i += 3;
      continue;
    }
    const c3 = line[i + 3] ?? 0;
    if (b >= 0xf0 && b <= 0xf4) {
      const lo = b === 0xf0 ? 0x90 : 0x80;
      const hi = b === 0xf4 ? 0x8f : 0xbf;
      if (c1 < lo || c1 > hi || (c2 & 0xc0) !== 0x80 || (c3 & 0xc0) !== 0x80) return false;
      chars += 2; // a surrogate pair
      i += 4;
      continue;
    }
    return false;
  }
  if (i !== end) return false; // an escape or a character ran into the closing `"]`: not JSON
  return chars >= BINARY_BLOCK && odd * 8 > chars; // binaryBlock of the decoded text
}

/** The typed (input) and shown (output) lines of a cast's text. */
export function castLines(cast: string): CastLines {
  const walker = new CastLineWalker();
  for (const line of cast.split('\n')) walker.line(line);
  walker.finish();
  return walker.take();
}
