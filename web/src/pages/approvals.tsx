import { useEffect } from 'react';
import type { AccessRequest, Items } from '../api/types';
import { Badge, Card, Empty, ErrorBox, Loading, Page } from '../components/ui';
import { useDirectory } from '../lib/directory';
import { fmtMinutes, fmtTime } from '../lib/format';
import { useApi } from '../lib/hooks';
import { Link } from '../lib/router';
import { useUser } from '../lib/session';

/** The approver's queue: pending requests for devices of their department, live. */
export function ApprovalsPage() {
  const me = useUser();
  const dir = useDirectory();
  const pending = useApi<Items<AccessRequest>>('/api/access-requests', { status: 'pending' }, { pollMs: 4000 });
  const recent = useApi<Items<AccessRequest>>('/api/access-requests', { limit: 30 }, { pollMs: 15_000 });
  useEffect(() => {
    dir.learn([...(pending.data?.items ?? []), ...(recent.data?.items ?? [])].map((r) => r.context?.technician));
  }, [pending.data, recent.data, dir]);
  const decided = recent.data?.items.filter((r) => r.status !== 'pending').slice(0, 15) ?? [];

  return (
    <Page title="Approvals" subtitle={`Pending access requests for devices approved by ${me.department ?? 'your department'}.`}>
      <ErrorBox error={pending.error} />
      {pending.loading && <Loading />}
      {pending.data && !pending.data.items.length && <Empty>Nothing waiting for a decision.</Empty>}
      <div className="grid">
        {pending.data?.items.map((r) => {
          const d = dir.device(r.deviceId);
          const own = r.technicianId === me.id;
          return (
            <Card key={r.id} className="queue-card" title={<span className="mono">{dir.deviceName(r.deviceId)}</span>}
              actions={d && <Badge value={d.criticality} label={`${d.criticality} criticality`} />}>
              <p className="queue-who">
                <strong>{r.context?.technician?.displayName ?? dir.userName(r.technicianId)}</strong>
                {r.context?.vendor && <span className="muted"> · {r.context.vendor.name}</span>}
              </p>
              <p className="queue-reason">{r.reason}</p>
              <p className="muted small">
                Ticket {r.ticketRef} · {r.startsOnApproval ? 'starts on approval' : `from ${fmtTime(r.startsAt)}`} · {fmtMinutes(r.durationMinutes)} ·
                needs {r.approvalsRequired} approval{r.approvalsRequired > 1 ? 's' : ''} · asked {fmtTime(r.createdAt)}
              </p>
              <div className="card-foot">
                <Link to={`/approvals/${r.id}`} className="btn btn-primary" data-testid="review">
                  {own ? 'View (your own request)' : 'Review'}
                </Link>
              </div>
            </Card>
          );
        })}
      </div>
      {!!decided.length && (
        <>
          <h2 className="section">Recently closed</h2>
          <div className="table-wrap">
            <table className="table">
              <thead>
                <tr><th>Device</th><th>Technician</th><th>Reason</th><th>Status</th><th>Closed</th></tr>
              </thead>
              <tbody>
                {decided.map((r) => (
                  <tr key={r.id}>
                    <td data-label="Device" className="mono"><Link to={`/approvals/${r.id}`}>{dir.deviceName(r.deviceId)}</Link></td>
                    <td data-label="Technician">{r.context?.technician?.displayName ?? dir.userName(r.technicianId)}</td>
                    <td data-label="Reason">{r.reason}</td>
                    <td data-label="Status"><Badge value={r.status} /></td>
                    <td data-label="Closed">{fmtTime(r.closedAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </Page>
  );
}
