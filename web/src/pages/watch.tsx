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
  | { type: 'end'; reason?: string; message?: string };

/** A live session, read-only: what was recorded so far, then everything as it happens. */
export function WatchPage({ sessionId }: { sessionId: string }) {
  const me = useUser();
  const dir = useDirectory();
  const session = useApi<Session>(`/api/sessions/${sessionId}`, undefined, { pollMs: 5000 });
  const s = session.data;
  useEffect(() => dir.learn([s?.technician]), [s, dir]);
  const [state, setState] = useState<'connecting' | 'watching' | 'ended'>('connecting');
  const [ended, setEnded] = useState<string | null>(null);
  const [markers, setMarkers] = useState<{ t: number; text: string }[]>([]);
  const [size, setSize] = useState<string>('');
  const ws = useRef<WebSocket | null>(null);

  const onOpen = useCallback(({ term }: XtermHandle) => {
    const sock = new WebSocket(wsUrl(`/api/sessions/${sessionId}/watch`));
    ws.current = sock;
    let endSeen = false;
    sock.onmessage = (ev) => {
      if (typeof ev.data !== 'string') return;
      let msg: WatchMessage;
      try {
        msg = JSON.parse(ev.data) as WatchMessage;
      } catch {
        return;
      }
      if (msg.type === 'header') {
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
    sock.onclose = (ev) => {
      if (ws.current !== sock) return;
      setState('ended');
      if (!endSeen) setEnded(ev.code === 1000 ? 'the session ended' : `the watch connection closed${ev.reason ? `: ${ev.reason}` : ''} (code ${ev.code})`);
    };
    return () => {
      ws.current = null;
      sock.close(1000, 'page left');
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
