import { useState, type FormEvent } from 'react';
import type { AuditVerify } from '../api/types';
import { Card, Empty, ErrorBox, Field, Loading, Page } from '../components/ui';
import { useDirectory } from '../lib/directory';
import { fmtTimeSec } from '../lib/format';
import { useApi } from '../lib/hooks';
import { Link, navigate, useLocation } from '../lib/router';

const PAGE = 50;
const FILTERS = ['deviceId', 'vendorId', 'technicianId', 'family'] as const;
const FAMILIES = ['auth', 'user', 'vendor', 'device', 'request', 'grant', 'credential', 'session', 'recording', 'transfer', 'audit'];

/** One event as GET /api/audit/log gives it: actor and subject by name, what it concerns, where to open it. */
interface LogEntry {
  seq: number;
  at: string;
  action: string;
  actor: { type: string; id: string | null; name: string };
  subject: { type: string | null; id: string | null; name: string | null };
  device: { id: string; name: string } | null;
  technician: { id: string; username: string; displayName: string } | null;
  vendor: { id: string; name: string } | null;
  href: string | null;
  details: Record<string, unknown>;
  hash: string;
}

/** The hash-chained audit log, read by name: filters by device, vendor, technician and action family; paging by sequence number. */
export function AuditPage() {
  const { search } = useLocation();
  const dir = useDirectory();
  const applied: Record<string, string> = {};
  for (const k of FILTERS) if (search.get(k)) applied[k] = search.get(k)!;
  const filtered = Object.keys(applied).length > 0;
  const verify = useApi<AuditVerify>('/api/audit/verify', undefined, { pollMs: 60_000 });
  // without filters the newest page comes first; the chain's length tells where it starts
  const afterSeqParam = search.get('afterSeq');
  const afterSeq = afterSeqParam !== null ? Number(afterSeqParam) : filtered ? 0 : verify.data ? Math.max(0, verify.data.count - PAGE) : null;
  const events = useApi<{ items: LogEntry[]; nextAfterSeq: number | null }>(
    afterSeq === null ? null : '/api/audit/log', { ...applied, afterSeq: afterSeq ?? 0, limit: PAGE }, { pollMs: afterSeqParam === null ? 10_000 : undefined },
  );
  const [f, setF] = useState<Record<string, string>>(applied);
  const go = (q: Record<string, string | number | undefined>) => {
    const qs = new URLSearchParams(Object.entries(q).filter(([, v]) => v !== undefined && v !== '').map(([k, v]) => [k, String(v)])).toString();
    navigate(`/audit${qs ? `?${qs}` : ''}`);
  };
  const apply = (e: FormEvent) => (e.preventDefault(), go(f));
  const set = (k: string) => (e: { target: { value: string } }) => setF({ ...f, [k]: e.target.value });
  const items = events.data?.items ?? [];
  const technicians = dir.users.filter((u) => u.roles.includes('technician'));

  return (
    <Page title="Audit log" subtitle="Append-only and hash-chained: each event carries the hash of the one before it.">
      <ChainStatus verify={verify.data} error={verify.error} onVerify={verify.reload} loading={verify.loading} />
      <SiemStatus />
      <Card className="filters">
        <form className="filter-form" onSubmit={apply} aria-label="Audit filters">
          <Field label="Device" htmlFor="a-device">
            <select id="a-device" value={f.deviceId ?? ''} onChange={set('deviceId')}>
              <option value="">any</option>
              {dir.devices.map((d) => <option key={d.id} value={d.id}>{d.name}</option>)}
            </select>
          </Field>
          <Field label="Vendor" htmlFor="a-vendor">
            <select id="a-vendor" value={f.vendorId ?? ''} onChange={set('vendorId')}>
              <option value="">any</option>
              {dir.vendors.map((v) => <option key={v.id} value={v.id}>{v.name}</option>)}
            </select>
          </Field>
          <Field label="Technician" htmlFor="a-tech">
            {technicians.length ? (
              <select id="a-tech" value={f.technicianId ?? ''} onChange={set('technicianId')}>
                <option value="">any</option>
                {technicians.map((u) => <option key={u.id} value={u.id}>{u.displayName} ({u.username})</option>)}
              </select>
            ) : (
              <input id="a-tech" placeholder="technician id" value={f.technicianId ?? ''} onChange={set('technicianId')} />
            )}
          </Field>
          <Field label="Action" htmlFor="a-family">
            <input id="a-family" list="a-families" placeholder="e.g. session or grant.revoked" value={f.family ?? ''} onChange={set('family')} />
            <datalist id="a-families">{FAMILIES.map((x) => <option key={x} value={x} />)}</datalist>
          </Field>
          <div className="filter-actions">
            <button className="btn btn-primary">Filter</button>
            <button type="button" className="btn btn-ghost" onClick={() => (setF({}), go({}))}>Clear</button>
          </div>
        </form>
      </Card>
      <ErrorBox error={events.error} />
      {events.loading && <Loading />}
      {events.data && !items.length && <Empty>No event matches.</Empty>}
      {!!items.length && (
        <>
          <div className="pager">
            <button type="button" className="btn btn-small" disabled={!afterSeq} onClick={() => go({ ...applied, afterSeq: Math.max(0, (afterSeq ?? 0) - PAGE) })}>← Earlier</button>
            <span className="muted small">events {items[0]!.seq}–{items[items.length - 1]!.seq}</span>
            <button type="button" className="btn btn-small" disabled={events.data?.nextAfterSeq == null} onClick={() => go({ ...applied, afterSeq: events.data!.nextAfterSeq! })}>Later →</button>
            {!filtered && afterSeqParam !== null && <button type="button" className="btn btn-small btn-ghost" onClick={() => go({})}>Newest</button>}
          </div>
          <div className="table-wrap">
            <table className="table audit" data-testid="audit">
              <thead>
                <tr><th>#</th><th>Time</th><th>Actor</th><th>Action</th><th>Subject</th><th>Details</th></tr>
              </thead>
              <tbody>
                {items.map((e) => <AuditRow key={e.seq} e={e} />)}
              </tbody>
            </table>
          </div>
        </>
      )}
    </Page>
  );
}

interface SiemSink { sink: string; lastSeq: number; lag: number; deliveredAt: string | null; failures: number; lastError: string | null; lastErrorAt: string | null }

/** Where the log is streamed (SIEM_SYSLOG_URL, SIEM_HEC_URL): each sink's lag and last failure; nothing when none is set up. */
function SiemStatus() {
  const sinks = useApi<{ items: SiemSink[] }>('/api/siem/sinks', undefined, { pollMs: 30_000 });
  if (!sinks.data?.items.length) return null;
  return (
    <div className="alert alert-info" data-testid="siem-status" role="status">
      {sinks.data.items.map((s) => (
        <div key={s.sink}>
          <strong>SIEM {s.sink}:</strong> {s.lag === 0 ? 'up to date' : `${s.lag} events behind`}, last delivered event #{s.lastSeq}
          {s.deliveredAt ? ` at ${fmtTimeSec(s.deliveredAt)}` : ''}
          {s.lastError ? <span className="muted small"> · last failure {fmtTimeSec(s.lastErrorAt)}: {s.lastError}</span> : null}
        </div>
      ))}
    </div>
  );
}

function ChainStatus({ verify, error, onVerify, loading }: { verify?: AuditVerify; error: Error | null; onVerify(): void; loading: boolean }) {
  if (error) return <ErrorBox error={error} />;
  if (!verify) return <Loading what="Verifying the chain" />;
  return (
    <div className={`alert ${verify.ok ? 'alert-ok' : 'alert-bad'} chain`} data-testid="chain-status" role="status">
      <div>
        {verify.ok ? (
          <><strong>Chain verified.</strong> {verify.count} events, every link and hash holds.</>
        ) : (
          <><strong>Chain broken</strong> at event #{verify.firstBadSeq}: the log was altered after it was written.</>
        )}
        <div className="mono small hash">head {verify.headHash}</div>
      </div>
      <button type="button" className="btn btn-small" onClick={onVerify} disabled={loading}>Verify again</button>
    </div>
  );
}

function AuditRow({ e }: { e: LogEntry }) {
  const [open, setOpen] = useState(false);
  const details = Object.entries(e.details).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join('  ');
  const subject = e.subject.name ?? '—';
  return (
    <tr className={e.action.includes('failed') || e.action.includes('refused') ? 'row-warn' : ''}>
      <td data-label="#" className="mono">{e.seq}</td>
      <td data-label="Time">{fmtTimeSec(e.at)}</td>
      <td data-label="Actor">{e.actor.name}</td>
      <td data-label="Action" className="mono">{e.action}</td>
      <td data-label="Subject">{e.href ? <Link to={e.href}>{subject}</Link> : subject}</td>
      <td data-label="Details" className="details">
        <button type="button" className="link mono" onClick={() => setOpen(!open)} title="Show all details">
          {open ? 'hide' : details.length > 110 ? `${details.slice(0, 110)}…` : details || '—'}
        </button>
        {open && <pre>{JSON.stringify({ ...e.details, hash: e.hash }, null, 2)}</pre>}
      </td>
    </tr>
  );
}
