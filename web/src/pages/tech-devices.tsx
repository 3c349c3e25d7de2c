import type { AccessRequest, Device, Grant, Items } from '../api/types';
import { TrustRecord } from '../components/trust-record';
import { Badge, Card, Empty, ErrorBox, Loading, Page } from '../components/ui';
import { useApi } from '../lib/hooks';
import { Link } from '../lib/router';

/** The devices the technician's vendor may service, with their trust records. */
export function TechDevicesPage() {
  const devices = useApi<Items<Device>>('/api/devices');
  const pending = useApi<Items<AccessRequest>>('/api/access-requests', { status: 'pending' }, { pollMs: 10_000 });
  const grants = useApi<Items<Grant>>('/api/grants', undefined, { pollMs: 10_000 });
  const openGrant = (id: string) => grants.data?.items.find((g) => g.deviceId === id && (g.status === 'active' || g.status === 'scheduled'));
  const pendingFor = (id: string) => pending.data?.items.find((r) => r.deviceId === id);

  return (
    <Page title="Devices" subtitle="Devices your company may service. Request time-bound access; an approver of the owning department decides.">
      <ErrorBox error={devices.error} />
      {devices.loading && <Loading />}
      {devices.data && !devices.data.items.length && <Empty>No devices are assigned to your vendor yet.</Empty>}
      <div className="grid">
        {devices.data?.items.map((d) => {
          const g = openGrant(d.id);
          const p = pendingFor(d.id);
          return (
            <Card key={d.id} className="device-card" title={<span className="mono">{d.name}</span>}
              actions={<Badge value={d.lifecycleState} />}>
              <TrustRecord device={d} />
              <div className="card-foot">
                {g ? (
                  <Link to="/access" className="btn">{g.status === 'active' ? 'Your access is active →' : 'Your access is scheduled →'}</Link>
                ) : p ? (
                  <Link to="/access" className="btn">Request pending →</Link>
                ) : d.lifecycleState === 'deployed' ? (
                  <Link to={`/devices/${d.id}/request`} className="btn btn-primary" data-testid={`request-${d.name}`}>
                    Request access
                  </Link>
                ) : (
                  <span className="muted">Not deployed: access cannot be requested.</span>
                )}
              </div>
            </Card>
          );
        })}
      </div>
    </Page>
  );
}
