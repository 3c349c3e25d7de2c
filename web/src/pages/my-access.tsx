import { useState, type FormEvent } from 'react';
import { post } from '../api/client';
import type { AccessRequest, Grant, Items, RequestView } from '../api/types';
import { EmergencyBadge } from '../components/break-glass';
import { RecordFirmware } from '../components/firmware-form';
import { Badge, Card, Countdown, Empty, ErrorBox, Field, Loading, Page, useAction } from '../components/ui';
import { useDirectory } from '../lib/directory';
import { fmtMinutes, fmtTime } from '../lib/format';
import { useApi } from '../lib/hooks';
import { Link, useLocation } from '../lib/router';

/** The technician's requests and grants, refreshed every few seconds. */
export function MyAccessPage() {
  const { search } = useLocation();
  const created = search.get('created');
  const grants = useApi<Items<Grant>>('/api/grants', undefined, { pollMs: 4000 });
  const requests = useApi<Items<AccessRequest>>('/api/access-requests', undefined, { pollMs: 4000 });
  const open = grants.data?.items.filter((g) => g.status === 'active' || g.status === 'scheduled') ?? [];
  const past = grants.data?.items.filter((g) => g.status !== 'active' && g.status !== 'scheduled') ?? [];

  return (
    <Page title="My access" subtitle="Your grants and requests. Statuses update by themselves.">
      {created && requests.data?.items.some((r) => r.id === created && r.status === 'pending') && (
        <div className="alert alert-ok">Request sent. This page updates by itself when an approver decides.</div>
      )}
      <ErrorBox error={grants.error ?? requests.error} />
      <h2 className="section">Grants</h2>
      {grants.loading && <Loading />}
      {grants.data && !open.length && <Empty>No active or scheduled grant. Request access from <Link to="/devices">Devices</Link>.</Empty>}
      <div className="grid">
        {open.map((g) => (
          <GrantCard key={g.id} grant={g} onChange={grants.reload} />
        ))}
      </div>
      <h2 className="section">Requests</h2>
      {requests.data && !requests.data.items.length && <Empty>You have not requested access yet.</Empty>}
      {!!requests.data?.items.length && <RequestTable items={requests.data.items} onChange={requests.reload} />}
      {!!past.length && (
        <>
          <h2 className="section">Past grants</h2>
          <PastGrants items={past} />
        </>
      )}
    </Page>
  );
}

function GrantCard({ grant: g, onChange }: { grant: Grant; onChange(): void }) {
  const dir = useDirectory();
  const [extending, setExtending] = useState(false);
  const active = g.status === 'active' && new Date(g.endsAt).getTime() > Date.now();
  return (
    <Card className="grant-card" title={<span className="mono">{dir.deviceName(g.deviceId)}</span>} actions={<><EmergencyBadge grant={g} /><Badge value={g.status} /></>}>
      {g.emergency && <p className="small tone-text-bad">Emergency access: the approvers have been told and one will review it.</p>}
      <div className="grant-time" data-testid="grant">
        {g.status === 'scheduled' ? (
          <>Starts in <Countdown to={g.startsAt} /> <span className="muted">({fmtTime(g.startsAt)})</span></>
        ) : (
          <>Ends in <Countdown to={g.endsAt} /> <span className="muted">({fmtTime(g.endsAt)})</span></>
        )}
      </div>
      <p className="muted small">Window {fmtTime(g.startsAt)} – {fmtTime(g.endsAt)}</p>
      {active && (
        <div className="card-foot">
          <Link to={`/grants/${g.id}/terminal`} className="btn btn-primary">Open terminal</Link>
          <Link to={`/grants/${g.id}/certificate`} className="btn">Get SSH certificate</Link>
          <button type="button" className="btn btn-ghost" onClick={() => setExtending(!extending)}>Ask for more time</button>
        </div>
      )}
      {extending && <ExtendForm grant={g} onDone={() => (setExtending(false), onChange())} />}
      <RecordFirmware grant={g} onDone={onChange} />
    </Card>
  );
}

function ExtendForm({ grant, onDone }: { grant: Grant; onDone(): void }) {
  const dir = useDirectory();
  const max = dir.device(grant.deviceId)?.policy.maxSessionMinutes ?? 60;
  const [minutes, setMinutes] = useState(Math.min(30, max));
  const [reason, setReason] = useState('');
  const { busy, error, run } = useAction();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const ok = await run(() => post(`/api/grants/${grant.id}/extend`, { minutes, reason: reason.trim() }));
    if (ok !== undefined) onDone();
  };
  return (
    <form className="form inset" onSubmit={submit}>
      <ErrorBox error={error} />
      <Field label={`Extra minutes (at most ${max})`}>
        <input type="number" min={1} max={max} value={minutes} onChange={(e) => setMinutes(Number(e.target.value))} required />
      </Field>
      <Field label="Why">
        <input value={reason} onChange={(e) => setReason(e.target.value)} required maxLength={2000} />
      </Field>
      <button className="btn" disabled={busy}>Request extension</button>
      <small className="hint">An extension needs a fresh approval.</small>
    </form>
  );
}

function RequestTable({ items, onChange }: { items: AccessRequest[]; onChange(): void }) {
  const dir = useDirectory();
  const { run, error, busy } = useAction();
  return (
    <div className="table-wrap">
      <ErrorBox error={error} />
      <table className="table" data-testid="my-requests">
        <thead>
          <tr>
            <th>Device</th><th>Reason</th><th>Ticket</th><th>Window</th><th>Status</th><th />
          </tr>
        </thead>
        <tbody>
          {items.map((r) => (
            <tr key={r.id} data-request-id={r.id}>
              <td data-label="Device" className="mono">{dir.deviceName(r.deviceId)}{r.kind === 'extension' && <small className="muted"> (extension)</small>}{r.kind === 'break_glass' && <small className="tone-text-bad"> (emergency)</small>}</td>
              <td data-label="Reason">{r.reason}</td>
              <td data-label="Ticket">{r.ticketRef}</td>
              <td data-label="Window">
                {r.startsOnApproval && r.status === 'pending' ? 'on approval' : fmtTime(r.startsAt)}, {fmtMinutes(r.durationMinutes)}
              </td>
              <td data-label="Status">
                <Badge value={r.status} /> {r.status === 'pending' && <Approvals id={r.id} needed={r.approvalsRequired} />}
              </td>
              <td>
                {r.status === 'pending' && (
                  <button type="button" className="btn btn-small" disabled={busy}
                    onClick={() => void run(() => post(`/api/access-requests/${r.id}/cancel`)).then(onChange)}>
                    Cancel
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Approvals({ id, needed }: { id: string; needed: number }) {
  const view = useApi<RequestView>(`/api/access-requests/${id}`, undefined, { pollMs: 5000 });
  const n = view.data?.decisions.filter((d) => d.decision === 'approve').length ?? 0;
  return <small className="muted">{n} of {needed} approvals</small>;
}

function PastGrants({ items }: { items: Grant[] }) {
  const dir = useDirectory();
  return (
    <div className="table-wrap">
      <table className="table">
        <thead>
          <tr><th>Device</th><th>Window</th><th>Status</th><th>Why it ended</th><th>Firmware</th></tr>
        </thead>
        <tbody>
          {items.map((g) => (
            <tr key={g.id}>
              <td data-label="Device" className="mono">{dir.deviceName(g.deviceId)}</td>
              <td data-label="Window">{fmtTime(g.startsAt)} – {fmtTime(g.endedAt ?? g.endsAt)}</td>
              <td data-label="Status"><EmergencyBadge grant={g} /><Badge value={g.status} /></td>
              <td data-label="Why">{g.endReason ?? '—'}</td>
              <td data-label="Firmware"><RecordFirmware grant={g} onDone={() => undefined} /></td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
