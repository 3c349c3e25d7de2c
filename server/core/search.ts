/**
 * Full-text search across sessions (§8.7): the segments a session contributes to the index (pure) and
 * the search entry point (auditors and admins). A segment is what the device showed (`output`, a few
 * consecutive lines),
 * one line the technician typed (`input`, from the recording's input events: found even when the
 * device did not echo it, as with `stty -echo`) or one file path moved (`transfer`), each with its
 * offset in seconds from the start of the session, so a hit opens the player at that moment.
 * Lines are indexed as the recording grows (a running session is searchable within seconds) and
 * transfers once the session has ended (server/jobs/search-indexer.ts).
 */
import { requireOversight } from './scope.js';
import type { CoreDeps } from './ports.js';
import type { CastLines } from './typed-lines.js';
import type { Actor, Transfer } from './types.js';

export type SegmentKind = 'output' | 'input' | 'transfer';

export interface Segment {
  offsetSeconds: number;
  kind: SegmentKind;
  text: string;
}

export interface SearchQuery {
  q: string;
  deviceId?: string;
  vendorId?: string;
  technicianId?: string;
  from?: Date;
  to?: Date;
  limit: number;
}

export interface SearchHit {
  sessionId: string;
  deviceName: string;
  offsetSeconds: number;
  kind: SegmentKind;
  /** the segment's text around the match; matched words between ⟦ and ⟧ */
  snippet: string;
}

/** The search index (server/db/search-repo.ts). */
export interface SearchRepo {
  search(q: SearchQuery): Promise<SearchHit[]>;
}

/** the longest text a segment holds (the table's CHECK); longer lines are cut */
export const MAX_TEXT = 4000;

/**
 * Output lines are indexed a few at a time: consecutive lines the device showed within OUTPUT_WINDOW
 * seconds of the first, up to OUTPUT_CHARS characters, make one segment (joined by "\n", at the first
 * line's offset). A device prints screens, not single lines; a segment per screenful keeps the index a
 * fraction of the rows (and its words once per segment) while a hit still opens the player within a
 * second or two of the line. Typed lines stay one segment each.
 */
const OUTPUT_WINDOW = 2;
const OUTPUT_CHARS = 2000;

/** The segments of a recording's lines (those completed so far, for a session still running). */
export function lineSegments(lines: CastLines): Segment[] {
  const out: Segment[] = [];
  // a screenful's lines, joined once it is complete: one flat string (appending made a chain of
  // concatenations that the tokeniser then read through, ~20 % slower)
  let chunk: { offsetSeconds: number; lines: string[]; length: number } | null = null;
  const close = () => chunk && out.push({ offsetSeconds: chunk.offsetSeconds, kind: 'output', text: chunk.lines.join('\n') });
  for (const l of lines.output) {
    const text = l.text.slice(0, MAX_TEXT);
    if (chunk && l.offsetSeconds - chunk.offsetSeconds <= OUTPUT_WINDOW && chunk.length + 1 + text.length <= OUTPUT_CHARS) {
      chunk.lines.push(text);
      chunk.length += 1 + text.length;
      continue;
    }
    close();
    chunk = { offsetSeconds: l.offsetSeconds, lines: [text], length: text.length };
  }
  close();
  for (const l of lines.input) out.push({ offsetSeconds: l.offsetSeconds, kind: 'input', text: l.text.slice(0, MAX_TEXT) });
  return out.sort((a, b) => a.offsetSeconds - b.offsetSeconds);
}

/** The segments of a session's file transfers (their paths, and SHA-256 when known), at their start. */
export function transferSegments(session: { startedAt: Date }, transfers: Transfer[]): Segment[] {
  return transfers.map((t) => ({
    offsetSeconds: Math.max(0, (t.startedAt.getTime() - session.startedAt.getTime()) / 1000),
    kind: 'transfer' as const,
    text: `${t.direction} ${t.path}${t.sha256 ? ` ${t.sha256}` : ''}`.slice(0, MAX_TEXT),
  }));
}

/** `GET /api/search`: ranked hits, best first (auditor, admin). */
export async function searchSessions(deps: CoreDeps, actor: Actor, q: SearchQuery): Promise<SearchHit[]> {
  requireOversight(actor);
  return deps.store.read.search.search(q);
}
