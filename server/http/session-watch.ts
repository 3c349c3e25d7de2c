/**
 * Live watch: a read-only stream of a session's recording, from its first event and on without
 * gaps, by following the cast file the proxy flushes (so it works whichever process relays the
 * session). Ends when the session has ended and the file is read to its end.
 */
import fs from 'node:fs/promises';
import type { WebSocket } from 'ws';
import { auditActor, requireRole } from '../core/access.js';
import type { CoreDeps } from '../core/ports.js';
import { getSession } from '../core/sessions.js';
import type { Actor } from '../core/types.js';

const POLL_MS = 200;

/** Audits the watch, then streams {type:'header'|'event'|'end'} JSON frames until the session ends. */
export async function watchSession(deps: CoreDeps, actor: Actor, sessionId: string, ws: WebSocket): Promise<void> {
  requireRole(actor, 'approver', 'admin', 'auditor');
  const session = await getSession(deps, actor, sessionId);
  if (!session.recording) throw new Error('session has no recording');
  await deps.store.transaction((tx) =>
    tx.audit.append(
      { ...auditActor(actor), action: 'session.watched', subjectType: 'session', subjectId: sessionId, details: { live: !session.endedAt } },
      deps.clock.now(),
    ),
  );
  const file = await fs.open(session.recording.path, 'r');
  let offset = 0;
  let partial = '';
  let headerSent = false;
  let open = true;
  ws.on('close', () => (open = false));
  const drain = async () => {
    const buf = Buffer.alloc(64 * 1024);
    for (;;) {
      const { bytesRead } = await file.read(buf, 0, buf.length, offset);
      if (bytesRead === 0) return;
      offset += bytesRead;
      const lines = (partial + buf.subarray(0, bytesRead).toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.trim() || !open) continue;
        const parsed = JSON.parse(line) as unknown;
        ws.send(JSON.stringify(headerSent ? { type: 'event', event: parsed } : { type: 'header', header: parsed }));
        headerSent = true;
      }
    }
  };
  try {
    while (open) {
      await drain();
      const now = await deps.store.read.sessions.byId(sessionId);
      if (now?.endedAt) {
        await drain();
        if (open) ws.send(JSON.stringify({ type: 'end', reason: now.endReason }));
        ws.close(1000, 'session ended');
        return;
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  } finally {
    await file.close();
  }
}
