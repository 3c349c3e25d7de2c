/**
 * The state of SIEM delivery for people (§8.7): per sink, the last audit event delivered, how far
 * behind the log it is, and the last failure. Auditors and admins. The delivery itself runs in the
 * worker (server/siem/).
 */
import { requireOversight } from './scope.js';
import type { CoreDeps } from './ports.js';
import type { Actor } from './types.js';

export interface SiemCursor {
  sink: string;
  lastSeq: number;
  deliveredAt: Date | null;
  failures: number;
  lastError: string | null;
  lastErrorAt: Date | null;
}

export interface SiemSinksRepo {
  /** every sink that has a cursor, with `lag` = the audit head's seq − its last delivered seq */
  list(): Promise<(SiemCursor & { lag: number })[]>;
}

export async function listSiemSinks(deps: CoreDeps, actor: Actor): Promise<{ items: (SiemCursor & { lag: number })[] }> {
  requireOversight(actor);
  return { items: await deps.store.read.siemSinks.list() };
}
