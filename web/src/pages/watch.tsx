import { useCallback, useEffect, useRef, useState } from 'react';
import { wsUrl } from '../api/client';
import type { Session } from '../api/types';
import { XtermView, type XtermHandle } from '../components/xterm-view';
import { Badge, Card, ErrorBox, Page } from '../components/ui';
import { useDirectory } from '../lib/directory';
import { endReasonText, fmtTime } from '../lib/format';
import { useApi } from '../lib/hooks';
import { Link } from '../lib/router';
import { hasRole, useUser } from '../lib/session';
import { Terminate } from './live';

type WatchMessage =
  | { type: 'header'; header: { width: number; height: number; timestamp?: number; title?: string } }
  | { type: 'event'; event: [number, string, string] }
  | { type: 'end'; reason?: string; message?: string }
  | { type: 'supervising' };

/**
 * Who supervises a live session of a device that requires supervision (SPEC §8.6): the technician's
 * input flows only while someone does. Refreshed with the session.
 */
function Supervision({ session }: { session: Session }) {
  const dir = useDirectory();
  if (!session.supervisors || session.endedAt) return null;
  const names = session.supervisors.map((p) => p.displayName).join(', ');
  const department = dir.device(session.deviceId)?.policy.approverDepartment;
  return session.supervisors.length
    ? <div className="alert alert-ok" role="status" data-testid="supervision"><strong>Supervised by</strong> {names} · the technician can type.</div>
    : <div className="alert alert-warn" role="status" data-testid="supervision">
        <strong>Input held:</strong> waiting for a supervisor{department ? ` from ${department}` : ''}. An approver of the
        department watching this page supervises the session.
      </div>;
}

/**
 * Closes a socket without the browser's "closed before the connection is established" warning: one
 * still connecting is closed as soon as it opens (the server then sees an ordinary leave).
 */
function closeQuietly(sock: WebSocket, reason: string): void {
  if (sock.readyState === WebSocket.CONNECTING) sock.onopen = () => sock.close(1000, reason);
  else if (sock.readyState === WebSocket.OPEN) sock.close(1000, reason);
}

/** A live session, read-only: what was recorded so far, then everything as it happens. */
export function WatchPage({ sessionId }: { sessionId: string }) {
  const me = useUser();
  const dir = useDirectory();
  const session = useApi<Session>(`/api/sessions/${sessionId}`, undefined, { pollMs: 3000 });
  const s = session.data;
  useEffect(() => dir.learn([s?.technician]), [s, dir]);
  const [state, setState] = useState<'connecting' | 'watching' | 'ended'>('connecting');
  const [ended, setEnded] = useState<string | null>(null);
  const [markers, setMarkers] = useState<{ t: number; text: string }[]>([]);
  const [size, setSize] = useState<string>('');
  const ws = useRef<WebSocket | null>(null);

  const onOpen = useCallback(({ term }: XtermHandle) => {
    let sock: WebSocket | null = null;
    let endSeen = false;
    const connect = (s: WebSocket) => {
      s.onmessage = (ev) => {
        if (typeof ev.data !== 'string') return;
        let msg: WatchMessage;
        try {
          msg = JSON.parse(ev.data) as WatchMessage;
        } catch {
          return;
        }
        if (msg.type === 'supervising') {
          session.reload(); // this watch now counts as supervision: show it at once
        } else if (msg.type === 'header') {
          term.resize(msg.header.width, msg.header.height);
          setSize(`${msg.header.width}×${msg.header.height}`);
          setState('watching');
        } else if (msg.type === 'event') {
          const [t, code, data] = msg.event;
          if (code === 'o') term.write(data);
          else if (code === 'r') {
            const m = /^(\d+)x(\d+)$/.exec(data);
            if (m) (term.resize(Number(m[1]), Number(m[2])), setSize(`${m[1]}×${m[2]}`));
          } else if (code === 'm') setMarkers((old) => [...old, { t, text: data }]);
        } else if (msg.type === 'end') {
          endSeen = true;
          setState('ended');
          setEnded(`${endReasonText(msg.reason)}${msg.message ? ` — ${msg.message}` : ''}`);
          session.reload();
        }
      };
      s.onclose = (ev) => {
        if (ws.current !== s) return;
        setState('ended');
        if (!endSeen) setEnded(ev.code === 1000 ? 'the session ended' : `the watch connection closed${ev.reason ? `: ${ev.reason}` : ''} (code ${ev.code})`);
      };
    };
    // a moment later, so a mount React undoes at once (StrictMode in development) opens no watch at all:
    // for a supervised session that would be a join and a leave in the audit trail
    const timer = setTimeout(() => {
      sock = new WebSocket(wsUrl(`/api/sessions/${sessionId}/watch`));
      ws.current = sock;
      connect(sock);
    }, 0);
    return () => {
      clearTimeout(timer);
      ws.current = null;
      if (!sock) return;
      sock.onmessage = null;
      closeQuietly(sock, 'page left');
    };
  }, [sessionId]);

  return (
    <Page title={`Watching ${s ? dir.deviceName(s.deviceId) : '…'}`}
      subtitle={<Link to="/live">← Live sessions</Link>}
      actions={<>
        <Badge value={state === 'ended' ? 'expired' : 'live'} label={state === 'ended' ? 'ended' : state === 'watching' ? 'live · read-only' : 'connecting'} />
        {s && !s.endedAt && hasRole(me, 'approver', 'admin') && <Terminate session={s} onDone={session.reload} />}
      </>}>
      <ErrorBox error={session.error} />
      {s && (
        <p className="muted small">
          {dir.userName(s.technicianId)} · {s.channel} · started {fmtTime(s.startedAt)}{size && ` · ${size}`}
        </p>
      )}
      {s && <Supervision session={s} />}
      {ended && <div className="alert alert-info" role="status" data-testid="watch-ended"><strong>Session ended:</strong> {ended}</div>}
      <div className="terminal-frame watch">
        <XtermView onOpen={onOpen} fitToBox={false} options={{ disableStdin: true, cursorBlink: false }} label="Live session (read-only)" />
      </div>
      {!!markers.length && (
        <Card title="Markers">
          <ul className="compact">
            {markers.map((m, i) => (<li key={i}><span className="mono">{m.t.toFixed(1)} s</span> {m.text}</li>))}
          </ul>
        </Card>
      )}
    </Page>
  );
}
