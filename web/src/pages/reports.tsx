import { useState } from 'react';
import { Card, Empty, ErrorBox, Field, Loading, Page } from '../components/ui';
import { fmtTime } from '../lib/format';
import { useApi } from '../lib/hooks';
import { Link } from '../lib/router';

interface Row { vendorName: string; deviceName: string; department: string; sessions: number; sessionSeconds: number; approvals: number; breakGlass: number; transfers: number; transferBytes: number }
interface Unused { userId: string; username: string; displayName: string; vendorName: string | null; lastActiveAt: string | null; createdAt: string }

const thisMonth = () => new Date().toISOString().slice(0, 7);

/** The monthly vendor access report and the vendor accounts nobody used for 90 days, each with its CSV. */
export function ReportsPage() {
  const [month, setMonth] = useState(thisMonth());
  const report = useApi<{ rows: Row[] }>('/api/reports/vendor-access', { month });
  const unused = useApi<{ items: Unused[] }>('/api/reports/unused-vendor-accounts');
  return (
    <Page title="Reports" subtitle="Vendor access per month, and vendor accounts unused for 90 days."
      actions={<Link to="/reports/credentials" className="btn">Device credentials report</Link>}>
      <Card title="Vendor access" actions={<a className="btn" href={`/api/reports/vendor-access?month=${month}&format=csv`} download>Download CSV</a>}>
        <Field label="Month" htmlFor="r-month"><input id="r-month" type="month" value={month} onChange={(e) => setMonth(e.target.value || thisMonth())} /></Field>
        <ErrorBox error={report.error} />
        {report.loading && <Loading />}
        {report.data && !report.data.rows.length && <Empty>No vendor access this month.</Empty>}
        {!!report.data?.rows.length && (
          <div className="table-wrap">
            <table className="table" data-testid="vendor-access">
              <thead><tr><th>Vendor</th><th>Device</th><th>Department</th><th>Sessions</th><th>Hours</th><th>Approvals</th><th>Break-glass</th><th>Transfers</th></tr></thead>
              <tbody>
                {report.data.rows.map((r) => (
                  <tr key={`${r.vendorName}-${r.deviceName}`}>
                    <td>{r.vendorName}</td><td>{r.deviceName}</td><td>{r.department}</td><td>{r.sessions}</td>
                    <td>{(r.sessionSeconds / 3600).toFixed(1)}</td><td>{r.approvals}</td><td>{r.breakGlass}</td><td>{r.transfers}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
      <Card title="Vendor accounts unused for 90 days" actions={<a className="btn" href="/api/reports/unused-vendor-accounts?format=csv" download>Download CSV</a>}>
        <ErrorBox error={unused.error} />
        {unused.data && !unused.data.items.length && <Empty>Every vendor account was used in the last 90 days.</Empty>}
        {!!unused.data?.items.length && (
          <table className="table" data-testid="unused-accounts">
            <thead><tr><th>Account</th><th>Vendor</th><th>Last active</th></tr></thead>
            <tbody>
              {unused.data.items.map((u) => (
                <tr key={u.userId}><td>{u.displayName} ({u.username})</td><td>{u.vendorName ?? '—'}</td><td>{u.lastActiveAt ? fmtTime(u.lastActiveAt) : 'never'}</td></tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
    </Page>
  );
}
