// Pending host key changes (§8.4) of the devices the caller may see: each device that presented another
// host key than its pin, the two keys side by side, and the re-pin for its approvers (or an admin).
import type { HostKeyStatus, Items } from '../api/types';
import { HostKeyChangeView } from '../components/host-key-change';
import { Card, Empty, ErrorBox, Loading, Page } from '../components/ui';
import { useApi } from '../lib/hooks';

export function HostKeysPage() {
  const changes = useApi<Items<HostKeyStatus>>('/api/host-key-changes', undefined, { pollMs: 15_000 });
  return (
    <Page title="Host key changes" subtitle="Devices that presented another host key than the one pinned. Connections to them are refused until the new key is confirmed.">
      <ErrorBox error={changes.error} />
      {changes.loading && !changes.data && <Loading />}
      {changes.data && !changes.data.items.length && <Empty>No device presents an unexpected host key.</Empty>}
      {changes.data?.items.map((s) => (
        <Card key={s.deviceId} title={<><span className="mono">{s.deviceName}</span> <span className="muted small">{s.department}</span></>}>
          <HostKeyChangeView status={s} onRepinned={changes.reload} />
        </Card>
      ))}
    </Page>
  );
}
