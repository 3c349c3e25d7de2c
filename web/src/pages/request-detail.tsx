import { useEffect, useState } from 'react';
import { post } from '../api/client';
import type { AccessRequest, Device, Grant, Items, RequestView, Session } from '../api/types';
import { RecordFirmware } from '../components/firmware-form';
import { useStepUp } from '../components/step-up';
import { TrustRecord } from '../components/trust-record';
import { Badge, Card, Countdown, Empty, ErrorBox, Field, KV, Loading, Page, useAction } from '../components/ui';
import { useDirectory } from '../lib/directory';
import { endReasonText, fmtMinutes, fmtTime } from '../lib/format';
import { useApi } from '../lib/hooks';
import { Link } from '../lib/router';
import { hasRole, useUser } from '../lib/session';

/** One request with everything an approver needs to decide, and the decision itself. */
export function RequestDetailPage({ requestId }: { requestId: string }) {
  const me = useUser();
  const dir = useDirectory();
  const view = useApi<RequestView>(`/api/access-requests/${requestId}`, undefined, { pollMs: 5000 });
  const r = view.data;
  const device = useApi<Device>(r ? `/api/devices/${r.deviceId}` : null);
  useEffect(() => {
    if (r) dir.learn([r.context?.technician, ...r.decisions.map((d) => d.approver)]);
  }, [r, dir]);

  if (view.error) return <Page title="Access request"><ErrorBox error={view.error} /></Page>;
  if (!r) return <Page title="Access request"><Loading /></Page>;
  const d = device.data;
  const approvals = r.decisions.filter((x) => x.decision === 'approve').length;
  const techName = r.context?.technician?.displayName ?? dir.userName(r.technicianId);
  const techVendor = r.context?.vendor?.name ?? (dir.person(r.technicianId)?.vendorId ? dir.vendorName(dir.person(r.technicianId)!.vendorId) : undefined);
  const deviceVendors = d ? d.vendorIds.map((v) => dir.vendorName(v)).join(', ') : '';
  const mayDecide = hasRole(me, 'approver') && r.status === 'pending' && r.technicianId !== me.id && !r.decisions.some((x) => x.approverId === me.id);

  return (
    <Page title={`Request for ${dir.deviceName(r.deviceId)}`} subtitle={<Link to="/approvals">← Approvals</Link>}
      actions={<Badge value={r.status} />}>
      <div className="two-col">
        <div className="stack">
          <Card title="Request">
            <KV items={[
              ['Technician', <span key="t" data-testid="technician">{techName}{dir.person(r.technicianId)?.username ? <small className="muted"> ({dir.person(r.technicianId)!.username})</small> : null}</span>],
              ['Vendor', techVendor ?? (deviceVendors ? <span key="v">{deviceVendors} <small className="muted">(contracted for this device)</small></span> : '—')],
              ['Kind', r.kind === 'extension' ? 'extension of an active grant' : r.kind === 'break_glass' ? 'emergency access (break-glass), opened without approval' : 'new access'],
              ['Reason', r.reason],
              ['Ticket', r.ticketRef],
              ['Window', r.startsOnApproval && r.status === 'pending' ? `starts on approval, for ${fmtMinutes(r.durationMinutes)}` : `${fmtTime(r.startsAt)}, for ${fmtMinutes(r.durationMinutes)}`],
              ['Approvals', <span key="a" data-testid="approvals">{approvals} of {r.approvalsRequired}</span>],
              ['Requested', fmtTime(r.createdAt)],
              [r.status === 'pending' ? 'Lapses' : 'Closed', r.status === 'pending' ? <span key="l">{fmtTime(r.expiresAt)} (<Countdown to={r.expiresAt} />)</span> : fmtTime(r.closedAt)],
            ]} />
          </Card>
          {!!r.artifacts?.length && (
            <Card title="Declared artifacts">
              <p className="muted small">Uploads whose SHA-256 matches one of these are marked declared; any other upload is flagged.</p>
              <ul data-testid="artifacts">
                {r.artifacts.map((a) => (
                  <li key={a.sha256 + a.name}><strong>{a.name}</strong>{a.sizeBytes !== undefined ? <span className="muted"> ({a.sizeBytes} bytes)</span> : null}
                    <div className="mono hash small">SHA-256 {a.sha256}</div></li>
                ))}
              </ul>
            </Card>
          )}
          {mayDecide && <DecisionForm request={r} onDone={view.reload} />}
          {r.status === 'pending' && r.technicianId === me.id && (
            <div className="alert alert-info">This is your own request: someone else must decide it.</div>
          )}
          <Card title="Decisions">
            {!r.decisions.length ? <Empty>No decision yet.</Empty> : (
              <ul className="decisions">
                {r.decisions.map((x) => (
                  <li key={x.id}>
                    <Badge value={x.decision} label={x.decision === 'approve' ? 'approved' : 'denied'} /> by <strong>{x.approver?.displayName ?? dir.userName(x.approverId)}</strong>
                    <span className="muted"> via {x.channel} · {fmtTime(x.createdAt)}</span>
                    {x.comment && <blockquote>{x.comment}</blockquote>}
                  </li>
                ))}
              </ul>
            )}
          </Card>
          {r.grant && <GrantPanel grant={r.grant} onChange={() => { view.reload(); device.reload(); }} />}
        </div>
        <div className="stack">
          <Card title="Device trust record">
            {d ? <TrustRecord device={d} full vendorNames={deviceVendors} /> : <ErrorBox error={device.error} />}
          </Card>
          <History request={r} techName={techName} />
        </div>
      </div>
    </Page>
  );
}

function DecisionForm({ request, onDone }: { request: AccessRequest; onDone(): void }) {
  const [comment, setComment] = useState('');
  const { busy, error, run } = useAction();
  const stepUp = useStepUp();
  const decide = async (what: 'approve' | 'deny') => {
    const body = comment.trim() ? { comment: comment.trim() } : {};
    // the broker may ask for a fresh second factor first; a passkey then signs this very request
    const ok = await run(() => stepUp.attempt((proof) => post(`/api/access-requests/${request.id}/${what}`, proof ? { ...body, stepUp: proof } : body), {
      optionsPath: `/api/access-requests/${request.id}/step-up/options`,
      why: `To ${what} this request, confirm it is you with your second factor.`,
    }));
    if (ok !== undefined) onDone();
  };
  return (
    <Card title="Your decision" className="decision">
      <ErrorBox error={error} />
      <Field label="Comment" htmlFor="comment" hint="Recorded with your decision and shown to the technician.">
        <textarea id="comment" rows={2} maxLength={2000} value={comment} onChange={(e) => setComment(e.target.value)} />
      </Field>
      <div className="form-actions">
        <button type="button" className="btn btn-ok" disabled={busy} onClick={() => void decide('approve')}>Approve</button>
        <button type="button" className="btn btn-danger" disabled={busy} onClick={() => void decide('deny')}>Deny</button>
      </div>
      {stepUp.prompt}
    </Card>
  );
}

export function RevokeGrant({ grant, onDone }: { grant: Grant; onDone(): void }) {
  const [reason, setReason] = useState('');
  const [open, setOpen] = useState(false);
  const { busy, error, run } = useAction();
  if (!open) return <button type="button" className="btn btn-danger" onClick={() => setOpen(true)}>Revoke grant…</button>;
  return (
    <form className="form inset" onSubmit={(e) => (e.preventDefault(), void run(() => post(`/api/grants/${grant.id}/revoke`, { reason: reason.trim() })).then((r) => r && onDone()))}>
      <ErrorBox error={error} />
      <Field label="Reason (shown to the technician)">
        <input value={reason} onChange={(e) => setReason(e.target.value)} required maxLength={2000} autoFocus />
      </Field>
      <div className="form-actions">
        <button className="btn btn-danger" disabled={busy || !reason.trim()}>Revoke now</button>
        <button type="button" className="btn btn-ghost" onClick={() => setOpen(false)}>Cancel</button>
      </div>
    </form>
  );
}

function GrantPanel({ grant: g, onChange }: { grant: Grant; onChange(): void }) {
  const me = useUser();
  const open = g.status === 'active' || g.status === 'scheduled';
  return (
    <Card title="Grant" actions={<>{g.emergency && <Badge value="emergency" label="Emergency" />}<Badge value={g.status} /></>}>
      <KV items={[
        ['Window', `${fmtTime(g.startsAt)} – ${fmtTime(g.endsAt)}`],
        [open ? 'Ends in' : 'Ended', open ? <Countdown key="c" to={g.endsAt} /> : `${fmtTime(g.endedAt)}${g.endReason ? ` — ${g.endReason}` : ''}`],
      ]} />
      {open && hasRole(me, 'approver', 'admin') && <RevokeGrant grant={g} onDone={onChange} />}
      <RecordFirmware grant={g} onDone={onChange} />
      {hasRole(me, 'approver', 'admin', 'auditor') && (
        <p className="inline">
          <a className="btn btn-small" href={`/api/grants/${g.id}/evidence`} download={`evidence-${g.id}.json`} data-testid="download-evidence">Download evidence</a>
          <a className="btn btn-small btn-ghost" href={`/api/grants/${g.id}/evidence?format=html`} target="_blank" rel="noopener">Maintenance record</a>
        </p>
      )}
    </Card>
  );
}

/** The technician's previous requests, grants and sessions on this device. */
function History({ request: r, techName }: { request: AccessRequest; techName: string }) {
  const dir = useDirectory();
  const reqs = useApi<Items<AccessRequest>>('/api/access-requests', { deviceId: r.deviceId, limit: 100 });
  const grants = useApi<Items<Grant>>('/api/grants', { deviceId: r.deviceId, limit: 100 });
  const sessions = useApi<Items<Session>>('/api/sessions', { deviceId: r.deviceId, technicianId: r.technicianId, limit: 10 });
  const prevReqs = reqs.data?.items.filter((x) => x.technicianId === r.technicianId && x.id !== r.id).slice(0, 10) ?? [];
  const prevGrants = grants.data?.items.filter((x) => x.technicianId === r.technicianId).slice(0, 10) ?? [];
  return (
    <Card title={`${techName}'s history on ${dir.deviceName(r.deviceId)}`} className="history">
      <h3>Requests</h3>
      {reqs.error ? <ErrorBox error={reqs.error} /> : !prevReqs.length ? <Empty>No earlier request.</Empty> : (
        <ul className="compact">
          {prevReqs.map((x) => (
            <li key={x.id}><Badge value={x.status} /> {fmtTime(x.createdAt)} — {x.reason} <span className="muted">({x.ticketRef}, {fmtMinutes(x.durationMinutes)})</span></li>
          ))}
        </ul>
      )}
      <h3>Grants</h3>
      {grants.error ? <ErrorBox error={grants.error} /> : !prevGrants.length ? <Empty>No grant yet.</Empty> : (
        <ul className="compact">
          {prevGrants.map((g) => (
            <li key={g.id}><Badge value={g.status} /> {fmtTime(g.startsAt)} – {fmtTime(g.endedAt ?? g.endsAt)}{g.endReason ? <span className="muted"> — {g.endReason}</span> : null}</li>
          ))}
        </ul>
      )}
      <h3>Sessions</h3>
      {sessions.error ? <ErrorBox error={sessions.error} /> : !sessions.data?.items.length ? <Empty>No session yet.</Empty> : (
        <ul className="compact">
          {sessions.data.items.map((s) => (
            <li key={s.id}>
              {fmtTime(s.startedAt)} · {s.channel}{s.command ? <code> {s.command}</code> : null} · {s.endedAt ? endReasonText(s.endReason) : <Badge value="live" />}
            </li>
          ))}
        </ul>
      )}
    </Card>
  );
}
