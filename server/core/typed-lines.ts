/**
 * What a technician typed, as lines, from an asciicast v2 recording's input stream (pure).
 * "i" events carry typed text; a Portcullis "b" event carries exact bytes of a stream (base64, `i:` or
 * `o:`) and is followed by a display event of the same stream that adds nothing (proxy/recording/
 * asciicast.ts defines the pair). Output lines are cut at CR or LF; backspace / DEL remove the last
 * character; escape sequences (arrow keys and the like) and other control characters are dropped.
 * The same walk yields the device's output lines, for the search index. Lines that are not JSON
 * are skipped: a recording torn at its tail still gives what it holds.
 */

export interface TimedLine {
  /** seconds since the start of the recording when the line began */
  offsetSeconds: number;
  text: string;
}

export interface CastLines {
  input: TimedLine[];
  output: TimedLine[];
}

// CSI / SS3 / OSC sequences and lone escapes
const ESCAPES = /\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[()][A-Za-z0-9]|O.|.)/g;

class LineBuilder {
  readonly lines: TimedLine[] = [];
  private current = '';
  private startedAt = 0;
  private pendingEscape = '';

  constructor(private readonly editing: boolean) {}

  add(time: number, text: string): void {
    let s = (this.pendingEscape + text);
    this.pendingEscape = '';
    // an escape sequence cut between two events waits for its end
    const cut = /\x1b[^a-zA-Z~\x07]*$/.exec(s);
    if (cut && cut[0].length < 32) {
      this.pendingEscape = cut[0];
      s = s.slice(0, cut.index);
    }
    s = s.replace(ESCAPES, '');
    for (const ch of s) {
      if (ch === '\r' || ch === '\n') {
        this.flush();
        continue;
      }
      if (this.editing && (ch === '\x7f' || ch === '\b')) {
        this.current = Array.from(this.current).slice(0, -1).join('');
        continue;
      }
      if (this.editing && ch === '\x15') {
        this.current = ''; // ^U erases the line
        continue;
      }
      if (ch < ' ' && ch !== '\t') continue;
      if (this.current === '') this.startedAt = time;
      this.current += ch;
    }
  }

  flush(): void {
    const text = this.current.trim();
    if (text) this.lines.push({ offsetSeconds: this.startedAt, text });
    this.current = '';
  }
}

/** The typed (input) and shown (output) lines of a cast's text. */
export function castLines(cast: string): CastLines {
  const input = new LineBuilder(true);
  const output = new LineBuilder(false);
  let skipDisplay = false;
  let first = true;
  for (const line of cast.split('\n')) {
    if (!line.trim()) continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      continue;
    }
    if (first) {
      first = false;
      if (!Array.isArray(v)) continue;
    }
    if (!Array.isArray(v) || v.length !== 3 || typeof v[0] !== 'number' || typeof v[2] !== 'string') continue;
    const [time, code, data] = v as [number, string, string];
    if (code === 'b') {
      const builder = data.startsWith('i:') ? input : data.startsWith('o:') ? output : null;
      builder?.add(time, Buffer.from(data.slice(2), 'base64').toString('utf8'));
      skipDisplay = true;
      continue;
    }
    if (code === 'i' || code === 'o') {
      if (!skipDisplay) (code === 'i' ? input : output).add(time, data);
      skipDisplay = false;
    }
  }
  input.flush();
  output.flush();
  return { input: input.lines, output: output.lines };
}
