import { useEffect, useState } from 'react';
import { ApiError, post } from '../api/client';
import type { Items, Session } from '../api/types';
import { FieldErrors, onField } from '../components/form-errors';
import { Badge, Countdown, Empty, ErrorBox, Field, Loading, Page, useAction } from '../components/ui';
import { useDirectory } from '../lib/directory';
import { fmtClock, fmtCountdown, fmtTime } from '../lib/format';
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
              <tr><th>Device</th><th>Technician</th><th>Vendor</th><th>Channel</th><th>Started</th><th>Access ends</th><th>Actions</th></tr>
            </thead>
            <tbody>
              {live.data.items.map((s) => (
                <tr key={s.id} data-session-id={s.id}>
                  <td data-label="Device" className="mono">{dir.deviceName(s.deviceId)}</td>
                  <td data-label="Technician">{dir.userName(s.technicianId)}</td>
                  <td data-label="Vendor">{s.access?.vendor?.name ?? dir.vendorName(s.technician?.vendorId)}</td>
                  <td data-label="Channel"><Badge value="live" label={s.channel} />{s.command && <code className="small"> {s.command}</code>}</td>
                  <td data-label="Started">{fmtTime(s.startedAt)} <span className="muted">({fmtCountdown(now - new Date(s.startedAt).getTime())} ago)</span></td>
                  <td data-label="Access ends" data-testid="grant-end">
                    {s.access ? <>{fmtClock(s.access.endsAt)} · <Countdown to={s.access.endsAt} prefix="" /> left{s.access.emergency && <> <Badge value="emergency" /></>}</> : '—'}
                  </td>
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

/**
 * The kill switch for one session, with the reason the technician will read. Revoking the grant too is
 * the default: terminating alone cuts this session, and the grant stays, so the technician can reconnect.
 */
export function Terminate({ session, onDone }: { session: Session; onDone(): void }) {
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState('');
  const [revoke, setRevoke] = useState(true);
  const { busy, error, run } = useAction();
  if (!open) return <button type="button" className="btn btn-small btn-danger" onClick={() => setOpen(true)}>Terminate…</button>;
  const kill = async () => {
    const why = reason.trim();
    // the session first, so the technician reads this reason; then the grant, which cuts its other sessions
    await post(`/api/sessions/${session.id}/terminate`, { reason: why }).catch((e: unknown) => {
      // it ended by itself meanwhile: the grant may still need revoking
      if (!(revoke && e instanceof ApiError && e.status === 409)) throw e;
    });
    if (revoke) {
      await post(`/api/grants/${session.grantId}/revoke`, { reason: why }).catch((e: unknown) => {
        if (!(e instanceof ApiError && e.status === 409)) throw e; // already ended: nothing left to revoke
      });
    }
    return true;
  };
  const fieldError = onField(error, 'reason');
  return (
    <form className="form inset terminate" aria-label="Terminate session"
      onSubmit={(e) => (e.preventDefault(), void run(kill).then((r) => r && (setOpen(false), onDone())))}>
      <FieldErrors error={fieldError}>
        <ErrorBox error={fieldError} />
        <Field label="Reason (shown to the technician)" name="reason">
          <input name="reason" value={reason} onChange={(e) => setReason(e.target.value)} required maxLength={2000} autoFocus />
        </Field>
        <label className="check-line">
          <input type="checkbox" checked={revoke} onChange={(e) => setRevoke(e.target.checked)} /> Also revoke the grant (no reconnecting)
        </label>
        <p className="small muted" data-testid="terminate-explainer">
          {revoke
            ? 'The grant ends now: every session on it is cut and the technician cannot reconnect.'
            : 'Only this session is cut. The grant stays active: the technician can reconnect until it ends.'}
        </p>
      </FieldErrors>
      <div className="form-actions">
        <button className="btn btn-small btn-danger" disabled={busy || !reason.trim()}>Terminate now</button>
        <button type="button" className="btn btn-small btn-ghost" onClick={() => setOpen(false)}>Cancel</button>
      </div>
    </form>
  );
}
