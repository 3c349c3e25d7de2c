// The device credentials report (§8.4): static secrets with their age, rotated credentials past
// CREDENTIAL_MAX_AGE_DAYS, and failed rotations, each with what to do. Certificate devices hold nothing
// long-lived and never appear.
import type { CredentialReportItem } from '../api/types';
import { credentialKindText } from '../components/credential-setup';
import { Badge, Card, Empty, ErrorBox, Loading, Page } from '../components/ui';
import { fmtTime } from '../lib/format';
import { useApi } from '../lib/hooks';
import { hasRole, useUser } from '../lib/session';
import { Link } from '../lib/router';

const CONCERN: Record<CredentialReportItem['concern'], string> = {
  static: 'static secret',
  overdue: 'overdue',
  rotation_failed: 'rotation failed',
};

export function CredentialsReportPage() {
  const report = useApi<{ maxAgeDays: number; items: CredentialReportItem[] }>('/api/reports/credentials');
  const admin = hasRole(useUser(), 'admin');
  return (
    <Page title="Device credentials" subtitle={<Link to="/reports">← Reports</Link>}>
      <Card title="Static and overdue credentials">
        <p className="muted small">
          Devices the proxy logs in to with a long-lived secret (a static password or private key), with a rotated key or password
          older than {report.data?.maxAgeDays ?? '…'} days, or whose last rotation failed. Device certificates hold nothing long-lived and are not listed.
        </p>
        <ErrorBox error={report.error} />
        {report.loading && <Loading />}
        {report.data && !report.data.items.length && <Empty>Every device uses a certificate or a key or password rotated in time.</Empty>}
        {!!report.data?.items.length && (
          <div className="table-wrap">
            <table className="table" data-testid="credentials-report">
              <thead><tr><th>Device</th><th>Department</th><th>Credential</th><th>Login</th><th>Age</th><th>Last rotated</th><th>Concern</th><th>What to do</th></tr></thead>
              <tbody>
                {report.data.items.map((i) => (
                  <tr key={i.deviceId} data-device={i.name}>
                    <td data-label="Device" className="mono">{admin ? <Link to={`/admin/devices/${i.deviceId}`}>{i.name}</Link> : i.name}</td>
                    <td data-label="Department">{i.department}</td>
                    <td data-label="Credential">
                      {credentialKindText(i.credentialKind)}
                      {i.credentialKind === 'password' && <span className="small muted">{i.passwordRotation ? ' · rotated by the broker' : ' · no rotation'}</span>}
                    </td>
                    <td data-label="Login" className="mono">{i.username}</td>
                    <td data-label="Age">{i.ageDays} days (since {fmtTime(i.credentialIssuedAt)})</td>
                    <td data-label="Last rotated">{i.credentialRotatedAt ? fmtTime(i.credentialRotatedAt) : 'never'}</td>
                    <td data-label="Concern"><Badge value={i.concern === 'static' ? 'pending' : 'broken'} label={CONCERN[i.concern]} /></td>
                    <td data-label="What to do" className="small">{i.detail}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
    </Page>
  );
}
