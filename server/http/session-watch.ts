/**
 * Live watch: a read-only stream of a session's recording, from its first event and on without
 * gaps, by following the cast file the proxy flushes (so it works whichever process relays the
 * session). Ends when the session has ended and the file is read to its end. A slow watcher holds
 * the reading back (at most MAX_BUFFERED bytes wait in the socket's queue), and a watcher that has
 * gone stops the following at once, even if it went while the watch was being set up.
 */
import fs from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import type { WebSocket } from 'ws';
import { auditActor, requireRole } from '../core/access.js';
import type { CoreDeps } from '../core/ports.js';
import { getSession } from '../core/sessions.js';
import { joinSupervision, leaveSupervision, refreshSupervision, SUPERVISOR_BEAT_MS } from '../core/supervision.js';
import type { Actor } from '../core/types.js';

const POLL_MS = 200;
const MAX_BUFFERED = 1024 * 1024;

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
  const open = () => ws.readyState === ws.OPEN;
  if (!open()) return;
  // an eligible approver watching a supervised device's live session supervises it while this watch is
  // open (the technician's input is held otherwise); the watch is refreshed so a dead process stops counting
  const device = session.endedAt ? null : await deps.store.read.devices.byId(session.deviceId);
  const supervising = device ? await joinSupervision(deps, actor, session, device) : null;
  const beat = supervising ? setInterval(() => void refreshSupervision(deps, supervising).catch(() => undefined), SUPERVISOR_BEAT_MS) : null;
  try {
    if (supervising && open()) ws.send(JSON.stringify({ type: 'supervising' }));
    await follow(deps, sessionId, session.recording.path, ws, open);
  } finally {
    if (beat) clearInterval(beat);
    if (supervising) await leaveSupervision(deps, actor, supervising).catch(() => undefined);
  }
}

/** Streams the cast file from its start, then as it grows, until the session has ended. */
async function follow(deps: CoreDeps, sessionId: string, path: string, ws: WebSocket, open: () => boolean): Promise<void> {
  const file = await fs.open(path, 'r');
  let offset = 0;
  let partial = '';
  const utf8 = new StringDecoder('utf8'); // a character split across two reads stays whole
  let headerSent = false;
  let sent: Promise<void> = Promise.resolve();
  const send = (message: unknown) => {
    sent = new Promise((resolve) => ws.send(JSON.stringify(message), () => resolve()));
  };
  const drain = async () => {
    const buf = Buffer.alloc(64 * 1024);
    for (;;) {
      const { bytesRead } = await file.read(buf, 0, buf.length, offset);
      if (bytesRead === 0) return;
      offset += bytesRead;
      const lines = (partial + utf8.write(buf.subarray(0, bytesRead))).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.trim() || !open()) continue;
        const parsed = JSON.parse(line) as unknown;
        send(headerSent ? { type: 'event', event: parsed } : { type: 'header', header: parsed });
        headerSent = true;
      }
      // the callback of the last frame comes once it is handed to the kernel (or the socket has closed)
      if (ws.bufferedAmount > MAX_BUFFERED) await sent;
      if (!open()) return;
    }
  };
  try {
    while (open()) {
      await drain();
      const now = await deps.store.read.sessions.byId(sessionId);
      if (now?.endedAt) {
        await drain();
        if (open()) send({ type: 'end', reason: now.endReason });
        ws.close(1000, 'session ended');
        return;
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  } finally {
    await file.close();
  }
}
