import type { Player } from 'asciinema-player';
import 'asciinema-player/dist/bundle/asciinema-player.css';
import { useEffect, useRef, useState } from 'react';
import { CastPlayer, type CastEvent } from '../components/cast-player';
import type { Session, Transfer } from '../api/types';
import { Badge, Card, ErrorBox, KV, Loading, Page } from '../components/ui';
import { useDirectory } from '../lib/directory';
import { endReasonText, fmtBytes, fmtDuration, fmtTime } from '../lib/format';
import { useApi } from '../lib/hooks';
import { Link, useLocation } from '../lib/router';

interface Cast {
  text: string;
  header: { width?: number; height?: number; timestamp?: number; title?: string };
  events: CastEvent[];
  markers: { t: number; label: string }[];
  duration: number;
  sha256: string | null;
}

const SPEEDS = [0.5, 1, 2, 4, 8];

async function sha256Hex(text: string): Promise<string | null> {
  // SubtleCrypto exists only in secure contexts (https, localhost)
  if (!globalThis.crypto?.subtle) return null;
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** Reads an asciicast v2 file: the header line, then one JSON event per line. */
function parseCast(text: string): Omit<Cast, 'sha256'> {
  const lines = text.split('\n').filter((l) => l.trim());
  const header = lines.length ? (JSON.parse(lines[0]!) as Cast['header']) : {};
  const markers: Cast['markers'] = [];
  const events: CastEvent[] = [];
  let duration = 0;
  for (const line of lines.slice(1)) {
    try {
      const [t, code, data] = JSON.parse(line) as CastEvent;
      duration = Math.max(duration, t);
      events.push([t, code, data]);
      if (code === 'm') markers.push({ t, label: data });
    } catch {
      // a torn last line of a recording cut by a crash: the player skips it too
    }
  }
  return { text, header, events, markers, duration };
}

/** One session: metadata, and its recording in asciinema-player (auditors and admins). */
export function SessionPage({ sessionId }: { sessionId: string }) {
  const dir = useDirectory();
  const session = useApi<Session>(`/api/sessions/${sessionId}`, undefined, { pollMs: 10_000 });
  const s = session.data;
  useEffect(() => dir.learn([s?.technician]), [s, dir]);
  const [cast, setCast] = useState<Cast | null>(null);
  const [castError, setCastError] = useState<unknown>(null);
  const recordingUrl = `/api/sessions/${sessionId}/recording`;
  const hasRecording = !!s?.recording;

  useEffect(() => {
    if (!hasRecording) return;
    let live = true;
    (async () => {
      const res = await fetch(recordingUrl, { credentials: 'same-origin' });
      if (!res.ok) {
        const body = (await res.json().catch(() => null)) as { error?: { message?: string } } | null;
        throw new Error(body?.error?.message ?? `the recording could not be read (${res.status})`);
      }
      const text = await res.text();
      const parsed = parseCast(text);
      const sha256 = await sha256Hex(text).catch(() => null);
      if (live) setCast({ ...parsed, sha256 });
    })().catch((e: unknown) => live && setCastError(e));
    return () => {
      live = false;
    };
  }, [recordingUrl, hasRecording]);

  const rec = s?.recording;
  const integrity = cast?.sha256 && rec?.sha256 ? (cast.sha256 === rec.sha256 ? 'verified' : 'broken') : null;
  return (
    <Page title={`Session on ${s ? dir.deviceName(s.deviceId) : '…'}`} subtitle={<Link to="/sessions">← Recordings</Link>}
      actions={<>
        {s && (s.endedAt ? <Badge value={s.endReason ?? 'error'} label={endReasonText(s.endReason)} /> : <Badge value="live" />)}
        {s && !s.endedAt && <Link to={`/sessions/${sessionId}/watch`} className="btn">Watch live</Link>}
        {rec && <a className="btn" href={recordingUrl} download={`session-${sessionId}.cast`} data-testid="download-cast">Download .cast</a>}
        {s && <a className="btn" href={`/api/grants/${s.grantId}/evidence`} download={`evidence-${s.grantId}.json`} data-testid="download-evidence">Download evidence</a>}
        {s && <a className="btn btn-ghost" href={`/api/grants/${s.grantId}/evidence?format=html`} target="_blank" rel="noopener">Maintenance record</a>}
      </>}>
      <ErrorBox error={session.error} />
      {!s && !session.error && <Loading />}
      {s && (
        <div className="replay-layout">
          <div className="stack replay-main">
            <ErrorBox error={castError} />
            {s.recording === null && <div className="alert alert-info">This session has no recording.</div>}
            {hasRecording && !cast && !castError && <Loading what="Loading the recording" />}
            {cast && <Replay cast={cast} />}
          </div>
          <div className="stack replay-side">
            {s.cut && <CutNotice cut={s.cut} />}
            <Card title="Session">
              <KV items={[
                ['Device', <span className="mono" key="d">{dir.deviceName(s.deviceId)}</span>],
                ['Technician', dir.userName(s.technicianId)],
                ['Channel', `${s.channel}${s.command ? `: ${s.command}` : ''}`],
                ['Client address', s.clientAddress ?? '—'],
                ['Started', fmtTime(s.startedAt)],
                ['Ended', s.endedAt ? `${fmtTime(s.endedAt)} — ${endReasonText(s.endReason)}` : 'still live'],
                ['Traffic', `${fmtBytes(s.bytesIn)} in, ${fmtBytes(s.bytesOut)} out`],
              ]} />
            </Card>
            {s.access && (
              <Card title="Access" className="session-access">
                <KV items={[
                  ['Reason', <span key="r" data-testid="access-reason">{s.access.reason ?? '—'}</span>],
                  ['Ticket', <span key="t" className="mono" data-testid="access-ticket">{s.access.ticketRef ?? '—'}</span>],
                  ['Vendor', s.access.vendor?.name ?? '—'],
                  ['Window', `${fmtTime(s.access.startsAt)} – ${fmtTime(s.access.endsAt)}`],
                  ['Grant', <span key="g"><Badge value={s.access.status} />{s.access.emergency && <> <Badge value="emergency" /></>}</span>],
                ]} />
              </Card>
            )}
            {!!s.transfers?.length && <TransferList transfers={s.transfers} startedAt={s.startedAt} />}
            {rec && (
              <Card title="Recording">
                <KV items={[
                  ['Size', fmtBytes(rec.sizeBytes)],
                  ['Duration', fmtDuration(rec.durationMs)],
                  ['Finalised', rec.finalisedAt ? fmtTime(rec.finalisedAt) : 'not yet (session live or cut)'],
                  ['SHA-256', <span className="mono hash" key="h">{rec.sha256 ?? '—'}</span>],
                  ['Integrity', integrity ? <Badge key="i" value={integrity} label={integrity === 'verified' ? 'file matches the audited hash' : 'file does NOT match the audited hash'} /> : '—'],
                ]} />
                <p className="muted small">Every read of a recording is written to the audit log.</p>
              </Card>
            )}
          </div>
        </div>
      )}
    </Page>
  );
}

/** Who cut the session and why: the approver's termination, or the revocation of its grant. */
function CutNotice({ cut }: { cut: NonNullable<Session['cut']> }) {
  const who = cut.by?.displayName ?? 'the broker';
  return (
    <div className="alert alert-warn" role="note" data-testid="session-cut">
      <strong>{cut.kind === 'terminated' ? `Terminated by ${who}` : `Cut off: access revoked by ${who}`}</strong>
      {' '}at {fmtTime(cut.at)}{cut.reason ? <> — “{cut.reason}”</> : ''}
    </div>
  );
}

/**
 * asciinema-player only draws markers strictly before the recording's last event, and a cut-off
 * marker is often the last thing recorded: a silent half-second tail keeps it on the timeline.
 * Display only: the file's hash is checked, and downloaded, as it is.
 */
function playable(cast: Cast): string {
  if (!cast.markers.some((m) => m.t >= cast.duration)) return cast.text;
  return `${cast.text.replace(/\n*$/, '\n')}${JSON.stringify([Number((cast.duration + 0.5).toFixed(6)), 'o', ''])}\n`;
}

/**
 * asciinema-player carries its terminal emulator as WebAssembly; where the page's CSP does not allow
 * compiling it ('wasm-unsafe-eval'), the recording plays in the xterm.js player instead.
 */
let wasmAllowed: Promise<boolean> | null = null;
function canCompileWasm(): Promise<boolean> {
  // the smallest valid module: magic number and version
  wasmAllowed ??= WebAssembly.compile(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0])).then(() => true, () => false);
  return wasmAllowed;
}

function Replay({ cast }: { cast: Cast }) {
  const box = useRef<HTMLDivElement>(null);
  const player = useRef<Player | null>(null);
  const [speed, setSpeed] = useState(1);
  const [engine, setEngine] = useState<'checking' | 'asciinema' | 'xterm'>('checking');
  const [seekTo, setSeekTo] = useState<{ t: number; n: number } | undefined>(undefined);
  // a search hit opens the replay at its moment (?t=seconds)
  const resumeAt = useRef(Number(useLocation().search.get('t')) || 0);

  useEffect(() => {
    void canCompileWasm().then((ok) => setEngine(ok ? 'asciinema' : 'xterm'));
  }, []);

  useEffect(() => {
    if (engine !== 'asciinema') return;
    let p: Player | null = null;
    let live = true;
    void import('asciinema-player').then((AsciinemaPlayer) => {
      if (!live) return;
      p = AsciinemaPlayer.create({ data: playable(cast) }, box.current!, {
        speed,
        startAt: resumeAt.current,
        // no idle-time compression: the timeline shows the session's real times, which auditors quote
        fit: 'width',
        terminalFontSize: 'small',
        preload: true,
        controls: true,
        // markers: the recording's own "m" events (warnings, revocation, expiry)
      });
      player.current = p;
    });
    return () => {
      live = false;
      if (p) {
        resumeAt.current = p.getCurrentTime() || resumeAt.current;
        p.dispose();
      }
      player.current = null;
    };
  }, [cast, speed, engine]);

  const seek = (t: number, marker?: number) => {
    if (engine === 'xterm') return setSeekTo((old) => ({ t, n: (old?.n ?? 0) + 1 }));
    void player.current?.seek(marker !== undefined ? { marker } : t).then(() => player.current?.play());
  };

  return (
    <Card className="replay" title={cast.header.title ?? 'Recording'}
      actions={
        <label className="inline">
          Speed{' '}
          <select aria-label="Playback speed" value={speed} onChange={(e) => {
            resumeAt.current = player.current?.getCurrentTime() ?? 0;
            setSpeed(Number(e.target.value));
          }}>
            {SPEEDS.map((x) => <option key={x} value={x}>{x}×</option>)}
          </select>
        </label>
      }>
      <div ref={box} className="player" data-testid="player" data-engine={engine}>
        {engine === 'xterm' && (
          <CastPlayer width={cast.header.width ?? 80} height={cast.header.height ?? 24} events={cast.events} markers={cast.markers} speed={speed} seekTo={seekTo} />
        )}
      </div>
      <div className="player-foot">
        <span className="muted small">
          {cast.header.width}×{cast.header.height} · {fmtDuration(cast.duration * 1000)}
          {cast.header.timestamp ? ` · recorded ${fmtTime(new Date(cast.header.timestamp * 1000).toISOString())}` : ''}
          {engine === 'xterm' && ' · basic player (asciinema-player needs WebAssembly, which this server\'s security policy blocks)'}
        </span>
        {engine === 'asciinema' && <button type="button" className="btn btn-small" onClick={() => void player.current?.play()}>Play</button>}
        <button type="button" className="btn btn-small" onClick={() => seek(0)}>From the start</button>
      </div>
      {!!cast.markers.length && (
        <div className="markers">
          <h3>Markers</h3>
          <ul className="compact">
            {cast.markers.map((m, i) => (
              <li key={i}>
                <button type="button" className="link" onClick={() => seek(m.t, i)}>{fmtDuration(m.t * 1000)}</button> {m.label}
              </li>
            ))}
          </ul>
        </div>
      )}
    </Card>
  );
}

/** The files moved in an SFTP session: what, where, how much, the SHA-256, declared or not, and when in the replay. */
function TransferList({ transfers, startedAt }: { transfers: Transfer[]; startedAt: string }) {
  const at = (t: string) => `${Math.max(0, (Date.parse(t) - Date.parse(startedAt)) / 1000).toFixed(1)} s`;
  return (
    <Card title="Transfers">
      <ul className="transfers" data-testid="transfers">
        {transfers.map((t) => (
          <li key={t.id}>
            <Badge value={t.outcome === 'complete' ? 'approved' : t.outcome === 'partial' ? 'pending' : 'denied'} label={t.outcome} />{' '}
            {t.direction === 'upload' ? '⬆ upload' : '⬇ download'} <span className="mono">{t.path}</span>{' '}
            <span className="muted">({fmtBytes(t.bytes)}, at {at(t.endedAt)} in the replay)</span>
            {t.direction === 'upload' && (t.declared
              ? <> <Badge value="approved" label="declared" /></>
              : <> <Badge value="denied" label="undeclared" /></>)}
            <div className="mono hash small">SHA-256 {t.sha256 ?? '—'}</div>
            {t.reason && <div className="muted small">{t.reason}</div>}
          </li>
        ))}
      </ul>
    </Card>
  );
}
