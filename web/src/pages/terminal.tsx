import { useCallback, useEffect, useRef, useState } from 'react';
import type { Terminal } from '@xterm/xterm';
import { ApiError, post, wsUrl } from '../api/client';
import type { Grant, TerminalToken } from '../api/types';
import { XtermView, type XtermHandle } from '../components/xterm-view';
import { Badge, Countdown, ErrorBox, Page } from '../components/ui';
import { useDirectory } from '../lib/directory';
import { endReasonText } from '../lib/format';
import { useApi } from '../lib/hooks';
import { Link } from '../lib/router';

type Phase = 'idle' | 'connecting' | 'live' | 'ended';

/** Keys a phone's keyboard lacks. */
const KEYS: [string, string][] = [
  ['Esc', '\x1b'], ['Tab', '\t'], ['Ctrl-C', '\x03'], ['Ctrl-D', '\x04'], ['↑', '\x1b[A'], ['↓', '\x1b[B'], ['←', '\x1b[D'], ['→', '\x1b[C'],
];

interface Ended {
  reason: string;
  message: string;
}

/** Ends nobody needs to worry about: the technician (or the program) finished, or the device closed it. */
const NORMAL = new Set(['client_closed', 'device_closed', 'closed']);

/**
 * One line about how the session ended: calm for a normal end, with the exit status when there is
 * one; for a cut, the reason and the broker's message, each said once.
 */
export function endNotice(e: Ended): { calm: boolean; text: string } {
  const why = e.reason === 'closed' ? 'disconnected' : endReasonText(e.reason);
  if (NORMAL.has(e.reason)) {
    const status = /exit status \d+/.exec(e.message)?.[0];
    return { calm: true, text: `Session ended: ${why}${status ? ` (${status})` : ''}.` };
  }
  const detail = e.message.trim();
  const repeats = !detail || detail.toLowerCase().includes(why.toLowerCase()) || why.toLowerCase().includes(detail.toLowerCase().replace(/\.$/, ''));
  return { calm: false, text: `Session ended: ${why}.${repeats ? '' : ` ${detail[0]!.toUpperCase()}${detail.slice(1)}`}` };
}

/** Why a terminal WebSocket closed without an `end` message. */
function closeText(code: number, reason: string): Ended {
  if (code === 4401) return { reason: 'refused', message: 'The terminal link was refused: it expired or was already used. Reconnect to get a new one.' };
  if (code === 4403) return { reason: 'refused', message: reason || 'You are not allowed to open a terminal on this grant now.' };
  if (code === 1000) return { reason: 'closed', message: '' };
  return { reason: 'disconnected', message: `The connection to the broker was lost${reason ? `: ${reason}` : ''} (code ${code}).` };
}

/** The browser terminal: xterm.js over a WebSocket authenticated by a single-use terminal token. */
export function TerminalPage({ grantId }: { grantId: string }) {
  const dir = useDirectory();
  const grant = useApi<Grant>(`/api/grants/${grantId}`, undefined, { pollMs: 5000 });
  const g = grant.data;
  const handle = useRef<XtermHandle | null>(null);
  const ws = useRef<WebSocket | null>(null);
  const [phase, setPhase] = useState<Phase>('idle');
  const [ended, setEnded] = useState<Ended | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [notices, setNotices] = useState<string[]>([]);

  const generation = useRef(0);
  const connect = useCallback(async () => {
    const h = handle.current;
    if (!h) return;
    // a newer connect, or leaving the page, makes this one moot (checked after each await)
    const mine = ++generation.current;
    ws.current?.close();
    setError(null);
    setEnded(null);
    setNotices([]);
    setPhase('connecting');
    let token: TerminalToken;
    try {
      token = await post<TerminalToken>(`/api/grants/${grantId}/terminal-token`);
    } catch (e) {
      if (mine !== generation.current) return;
      setError(e);
      setPhase('idle');
      return;
    }
    if (mine !== generation.current) return;
    try {
      h.fit.fit();
    } catch {
      // not laid out yet: the terminal's current size is sent
    }
    const url = new URL(token.url, location.href);
    url.searchParams.set('cols', String(h.term.cols));
    url.searchParams.set('rows', String(h.term.rows));
    const sock = new WebSocket(wsUrl(url.pathname + url.search));
    sock.binaryType = 'arraybuffer';
    ws.current = sock;
    let endSeen = false;
    sock.onmessage = (ev) => {
      if (typeof ev.data !== 'string') {
        h.term.write(new Uint8Array(ev.data as ArrayBuffer));
        return;
      }
      let msg: { type?: string; text?: string; reason?: string; message?: string };
      try {
        msg = JSON.parse(ev.data) as typeof msg;
      } catch {
        return;
      }
      if (msg.type === 'ready') {
        setPhase('live');
        h.term.focus();
      } else if (msg.type === 'notice' && msg.text) {
        setNotices((n) => [...n.slice(-4), msg.text!]);
      } else if (msg.type === 'end') {
        endSeen = true;
        const e = { reason: msg.reason ?? 'closed', message: msg.message ?? '' };
        // the cut-off notice and the end say the same thing: show it once
        setNotices((n) => n.filter((x) => x !== e.message));
        setEnded(e);
        setPhase('ended');
        writeEnd(h.term, e);
      }
    };
    sock.onclose = (ev) => {
      if (ws.current !== sock) return;
      ws.current = null;
      if (!endSeen) {
        const e = closeText(ev.code, ev.reason);
        setEnded(e);
        writeEnd(h.term, e);
      }
      setPhase('ended');
    };
  }, [grantId]);

  const onOpen = useCallback(
    (h: XtermHandle) => {
      handle.current = h;
      const input = h.term.onData((data) => {
        if (ws.current?.readyState === WebSocket.OPEN) ws.current.send(JSON.stringify({ type: 'input', data }));
      });
      void connect();
      return () => {
        generation.current++;
        input.dispose();
        const sock = ws.current;
        ws.current = null;
        sock?.close(1000, 'page left');
        handle.current = null;
      };
    },
    [connect],
  );

  const sendKeys = (data: string) => {
    if (ws.current?.readyState === WebSocket.OPEN) ws.current.send(JSON.stringify({ type: 'input', data }));
    handle.current?.term.focus();
  };

  const onResize = useCallback((cols: number, rows: number) => {
    if (ws.current?.readyState === WebSocket.OPEN) ws.current.send(JSON.stringify({ type: 'resize', cols, rows }));
  }, []);

  // the grant ended underneath us (expiry, revocation): the broker cuts the session, we say so
  useEffect(() => {
    if (g && g.status !== 'active' && phase === 'idle' && !ended) setEnded({ reason: g.status, message: `This grant is ${g.status}.` });
  }, [g, phase, ended]);

  const grantActive = g?.status === 'active' && new Date(g.endsAt).getTime() > Date.now();
  const deviceName = g ? dir.deviceName(g.deviceId) : '…';
  return (
    <Page
      title={`Terminal · ${deviceName}`}
      subtitle={<Link to="/access">← My access</Link>}
      actions={
        <>
          {g && <Badge value={g.status} />}
          {g && g.status === 'active' && <span className="muted">ends in <Countdown to={g.endsAt} /></span>}
          {phase === 'live' && (
            <button type="button" className="btn" onClick={() => ws.current?.close(1000, 'closed by the technician')}>Disconnect</button>
          )}
          {(phase === 'ended' || phase === 'idle') && grantActive && (
            <button type="button" className="btn btn-primary" onClick={() => void connect()}>Reconnect</button>
          )}
        </>
      }
    >
      <ErrorBox error={error instanceof ApiError && error.status === 404 ? new Error('The terminal is not available for this grant.') : error} />
      {phase === 'connecting' && <div className="alert alert-info">Connecting to <span className="mono">{deviceName}</span>…</div>}
      {notices.map((n, i) => (
        <div key={i} className="alert alert-warn" data-testid="terminal-notice">{n}</div>
      ))}
      {ended && <EndedNotice ended={ended} />}
      <div className={`terminal-frame ${phase}`}>
        <XtermView onOpen={onOpen} onResize={onResize} label={`Terminal on ${deviceName}`} />
      </div>
      {phase === 'live' && (
        <div className="term-keys" aria-label="Special keys">
          {KEYS.map(([label, seq]) => (
            <button key={label} type="button" className="btn btn-small" onClick={() => sendKeys(seq)}>{label}</button>
          ))}
        </div>
      )}
      <p className="muted small">Everything in this terminal is recorded. The session is cut when your access window ends.</p>
    </Page>
  );
}

function EndedNotice({ ended }: { ended: Ended }) {
  const { calm, text } = endNotice(ended);
  const [head, ...rest] = text.split('. ');
  return (
    <div className={`alert ${calm ? 'alert-info' : 'alert-bad'}`} role="status" data-testid="terminal-ended" data-calm={calm}>
      <strong>{rest.length ? `${head}.` : head}</strong>{rest.length > 0 && ` ${rest.join('. ')}`}
    </div>
  );
}

function writeEnd(term: Terminal, e: Ended) {
  const { calm, text } = endNotice(e);
  // dim for a normal end, red for a cut
  term.write(`\r\n\x1b[${calm ? '2' : '1;31'}m[portcullis] ${text}\x1b[0m\r\n`);
}
