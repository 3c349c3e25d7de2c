import { useEffect, useState } from 'react';
import { post } from '../api/client';
import type { Items, Session } from '../api/types';
import { Badge, Empty, ErrorBox, Field, Loading, Page, useAction } from '../components/ui';
import { useDirectory } from '../lib/directory';
import { fmtCountdown, fmtTime } from '../lib/format';
import { useApi, useNow } from '../lib/hooks';
import { Link } from '../lib/router';
import { hasRole, useUser } from '../lib/session';

/** Sessions running now: watch them read-only, or cut one (kill switch). */
export function LivePage() {
  const me = useUser();
  const dir = useDirectory();
  const now = useNow(1000);
  const live = useApi<Items<Session>>('/api/sessions', { live: 'true', limit: 200 }, { pollMs: 3000 });
  const canKill = hasRole(me, 'approver', 'admin');
  useEffect(() => dir.learn(live.data?.items.map((x) => x.technician) ?? []), [live.data, dir]);
  return (
    <Page title="Live sessions" subtitle="Every session through the broker that is open right now. Updates by itself.">
      <ErrorBox error={live.error} />
      {live.loading && <Loading />}
      {live.data && !live.data.items.length && <Empty>No live session.</Empty>}
      {!!live.data?.items.length && (
        <div className="table-wrap">
          <table className="table" data-testid="live-sessions">
            <thead>
              <tr><th>Device</th><th>Technician</th><th>Channel</th><th>Started</th><th>Actions</th></tr>
            </thead>
            <tbody>
              {live.data.items.map((s) => (
                <tr key={s.id} data-session-id={s.id}>
                  <td data-label="Device" className="mono">{dir.deviceName(s.deviceId)}</td>
                  <td data-label="Technician">{dir.userName(s.technicianId)}</td>
                  <td data-label="Channel"><Badge value="live" label={s.channel} />{s.command && <code className="small"> {s.command}</code>}</td>
                  <td data-label="Started">{fmtTime(s.startedAt)} <span className="muted">({fmtCountdown(now - new Date(s.startedAt).getTime())} ago)</span></td>
                  <td className="row-actions">
                    <Link to={`/sessions/${s.id}/watch`} className="btn btn-small">Watch</Link>
                    {canKill && <Terminate session={s} onDone={live.reload} />}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Page>
  );
}

/** The kill switch for one session, with the reason the technician will read. */
export function Terminate({ session, onDone }: { session: Session; onDone(): void }) {
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState('');
  const [revoke, setRevoke] = useState(false);
  const { busy, error, run } = useAction();
  if (!open) return <button type="button" className="btn btn-small btn-danger" onClick={() => setOpen(true)}>Terminate…</button>;
  // revoking the grant cuts every session of it and stops reconnection; terminating cuts this one session
  const kill = () => revoke
    ? post(`/api/grants/${session.grantId}/revoke`, { reason: reason.trim() })
    : post(`/api/sessions/${session.id}/terminate`, { reason: reason.trim() });
  return (
    <form className="form inset terminate" aria-label="Terminate session"
      onSubmit={(e) => (e.preventDefault(), void run(kill).then((r) => r && (setOpen(false), onDone())))}>
      <ErrorBox error={error} />
      <Field label="Reason (shown to the technician)">
        <input name="reason" value={reason} onChange={(e) => setReason(e.target.value)} required maxLength={2000} autoFocus />
      </Field>
      <label className="check-line">
        <input type="checkbox" checked={revoke} onChange={(e) => setRevoke(e.target.checked)} /> Also revoke the grant (no reconnecting)
      </label>
      <div className="form-actions">
        <button className="btn btn-small btn-danger" disabled={busy || !reason.trim()}>Terminate now</button>
        <button type="button" className="btn btn-small btn-ghost" onClick={() => setOpen(false)}>Cancel</button>
      </div>
    </form>
  );
}
