/**
 * Full-text search across sessions (§8.7): the segments a session contributes to the index (pure) and
 * the search entry point (auditors and admins). A segment is one line the device showed (`output`),
 * one line the technician typed (`input`, from the recording's input events: found even when the
 * device did not echo it, as with `stty -echo`) or one file path moved (`transfer`), each with its
 * offset in seconds from the start of the session, so a hit opens the player at that moment.
 */
import { requireRole } from './access.js';
import type { CoreDeps } from './ports.js';
import { castLines } from './typed-lines.js';
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

const MAX_TEXT = 4000;

/** The segments of one ended session: its recording's lines (when readable) and its transfers. */
export function sessionSegments(session: { startedAt: Date }, cast: string | null, transfers: Transfer[]): Segment[] {
  const out: Segment[] = [];
  if (cast !== null) {
    const { input, output } = castLines(cast);
    for (const l of output) out.push({ offsetSeconds: l.offsetSeconds, kind: 'output', text: l.text.slice(0, MAX_TEXT) });
    for (const l of input) out.push({ offsetSeconds: l.offsetSeconds, kind: 'input', text: l.text.slice(0, MAX_TEXT) });
  }
  for (const t of transfers) {
    const offset = Math.max(0, (t.startedAt.getTime() - session.startedAt.getTime()) / 1000);
    out.push({ offsetSeconds: offset, kind: 'transfer', text: `${t.direction} ${t.path}${t.sha256 ? ` ${t.sha256}` : ''}`.slice(0, MAX_TEXT) });
  }
  return out.sort((a, b) => a.offsetSeconds - b.offsetSeconds);
}

/** `GET /api/search`: ranked hits, best first (auditor, admin). */
export async function searchSessions(deps: CoreDeps, actor: Actor, q: SearchQuery): Promise<SearchHit[]> {
  requireRole(actor, 'auditor', 'admin');
  return deps.store.read.search.search(q);
}
