import { useState } from 'react';
import { post } from '../api/client';
import type { Grant, Items, Session } from '../api/types';
import { FieldErrors, onField } from '../components/form-errors';
import { Badge, Card, Countdown, Empty, ErrorBox, Field, Loading, Page, useAction } from '../components/ui';
import { useDirectory } from '../lib/directory';
import { fmtTime } from '../lib/format';
import { useApi, useNow } from '../lib/hooks';
import { Link } from '../lib/router';

const RECENT_MS = 24 * 60 * 60_000;

/**
 * Who may reach which device now, who will, and whose access just ended (approvers: their
 * department's devices; admins: all). The kill switch for a grant works here whether or not a
 * session is live on it.
 */
export function AccessPage() {
  const now = useNow(5000);
  const poll = { pollMs: 5000 };
  const active = useApi<Items<Grant>>('/api/grants', { status: 'active', limit: 500 }, poll);
  const scheduled = useApi<Items<Grant>>('/api/grants', { status: 'scheduled', limit: 500 }, poll);
  const latest = useApi<Items<Grant>>('/api/grants', { limit: 300 }, poll);
  const live = useApi<Items<Session>>('/api/sessions', { live: 'true', limit: 500 }, poll);
  const reload = () => (active.reload(), scheduled.reload(), latest.reload(), live.reload());
  const ended = latest.data?.items.filter((g) => (g.status === 'expired' || g.status === 'revoked') && g.endedAt && now - Date.parse(g.endedAt) < RECENT_MS)
    .sort((a, b) => Date.parse(b.endedAt!) - Date.parse(a.endedAt!));
  const sessionsOf = (grantId: string) => live.data?.items.filter((s) => s.grantId === grantId) ?? [];
  const soonestFirst = (items: Grant[] | undefined, key: 'endsAt' | 'startsAt') => [...(items ?? [])].sort((a, b) => Date.parse(a[key]) - Date.parse(b[key]));

  return (
    <Page title="Access" subtitle="Who may reach which device now, who will, and whose access just ended. Revoking ends a grant at once and cuts its live sessions.">
      <ErrorBox error={active.error ?? scheduled.error ?? latest.error} />
      <Card title={<>Active now {active.data && <span className="muted">({active.data.items.length})</span>}</>}>
        {active.loading && <Loading />}
        {active.data && !active.data.items.length && <Empty>Nobody has access right now.</Empty>}
        {!!active.data?.items.length && (
          <GrantTable testId="grants-active" grants={soonestFirst(active.data.items, 'endsAt')} sessionsOf={sessionsOf} onDone={reload} when="left" />
        )}
      </Card>
      <Card title={<>Scheduled {scheduled.data && <span className="muted">({scheduled.data.items.length})</span>}</>}>
        {scheduled.loading && <Loading />}
        {scheduled.data && !scheduled.data.items.length && <Empty>No access is scheduled.</Empty>}
        {!!scheduled.data?.items.length && (
          <GrantTable testId="grants-scheduled" grants={soonestFirst(scheduled.data.items, 'startsAt')} sessionsOf={sessionsOf} onDone={reload} when="starts" />
        )}
      </Card>
      <Card title="Ended in the last 24 hours">
        {latest.loading && <Loading />}
        {ended && !ended.length && <Empty>No access ended in the last 24 hours.</Empty>}
        {!!ended?.length && <GrantTable testId="grants-ended" grants={ended} sessionsOf={sessionsOf} onDone={reload} when="ended" />}
      </Card>
    </Page>
  );
}

function GrantTable({ grants, sessionsOf, onDone, when, testId }: {
  grants: Grant[]; sessionsOf(grantId: string): Session[]; onDone(): void; when: 'left' | 'starts' | 'ended'; testId: string;
}) {
  const dir = useDirectory();
  return (
    <div className="table-wrap">
      <table className="table" data-testid={testId}>
        <thead>
          <tr>
            <th>Device</th><th>Technician</th><th>Vendor</th><th>Window</th>
            <th>{when === 'left' ? 'Time left' : when === 'starts' ? 'Starts in' : 'Ended'}</th><th>Reason</th><th />
          </tr>
        </thead>
        <tbody>
          {grants.map((g) => {
            const sessions = sessionsOf(g.id);
            return (
              <tr key={g.id} data-grant-id={g.id} data-testid="grant-row">
                <td data-label="Device" className="mono">
                  {g.device?.name ?? dir.deviceName(g.deviceId)} {g.emergency && <Badge value="emergency" />}
                </td>
                <td data-label="Technician">{g.technician?.displayName ?? dir.userName(g.technicianId)}</td>
                <td data-label="Vendor">{g.vendor?.name ?? dir.vendorName(g.vendorId)}</td>
                <td data-label="Window">{fmtTime(g.startsAt)} – {fmtTime(g.endsAt)}</td>
                <td data-label={when === 'left' ? 'Time left' : when === 'starts' ? 'Starts in' : 'Ended'}>
                  {when === 'left' && <Countdown to={g.endsAt} />}
                  {when === 'starts' && <Countdown to={g.startsAt} />}
                  {when === 'ended' && <Ending grant={g} />}
                  {sessions.length > 0 && (
                    <div className="small">
                      <Badge value="live" label={`${sessions.length} live`} />{' '}
                      <Link to={`/sessions/${sessions[0]!.id}/watch`}>watch</Link>
                    </div>
                  )}
                </td>
                <td data-label="Reason">
                  {g.request ? <>{g.request.reason} <span className="muted small mono">{g.request.ticketRef}</span></> : '—'}
                </td>
                <td className="row-actions">
                  {(g.status === 'active' || g.status === 'scheduled') && <Revoke grant={g} onDone={onDone} />}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

/** How an ended grant ended: expired at its end, or revoked by whom and why. */
function Ending({ grant }: { grant: Grant }) {
  return (
    <>
      <Badge value={grant.status} /> <span className="small">{fmtTime(grant.endedAt)}</span>
      {grant.status === 'revoked' && (
        <div className="small" data-testid="revoked-by">
          by {grant.revoker?.displayName ?? 'the broker'}{grant.endReason ? `: ${grant.endReason}` : ''}
        </div>
      )}
    </>
  );
}

/** The kill switch for a grant: a reason (the technician reads it) and one click. */
function Revoke({ grant, onDone }: { grant: Grant; onDone(): void }) {
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState('');
  const { busy, error, run } = useAction();
  if (!open) return <button type="button" className="btn btn-small btn-danger" onClick={() => setOpen(true)}>Revoke…</button>;
  const fieldError = onField(error, 'reason');
  return (
    <form className="form inset" aria-label="Revoke access"
      onSubmit={(e) => (e.preventDefault(), void run(() => post(`/api/grants/${grant.id}/revoke`, { reason: reason.trim() })).then((r) => r && (setOpen(false), onDone())))}>
      <FieldErrors error={fieldError}>
        <ErrorBox error={fieldError} />
        <Field label="Reason for revoking (shown to the technician)" name="reason">
          <input value={reason} onChange={(e) => setReason(e.target.value)} required maxLength={2000} autoFocus />
        </Field>
        <p className="small muted">The grant ends now; live sessions on it are cut and cannot be reopened.</p>
      </FieldErrors>
      <div className="form-actions">
        <button className="btn btn-small btn-danger" disabled={busy || !reason.trim()}>Revoke now</button>
        <button type="button" className="btn btn-small btn-ghost" onClick={() => setOpen(false)}>Cancel</button>
      </div>
    </form>
  );
}
