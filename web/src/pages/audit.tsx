import { useEffect, useState, type FormEvent } from 'react';
import type { AuditEvent, AuditVerify } from '../api/types';
import { Card, Empty, ErrorBox, Field, Loading, Page } from '../components/ui';
import { useDirectory } from '../lib/directory';
import { fmtTimeSec } from '../lib/format';
import { useApi } from '../lib/hooks';
import { Link, navigate, useLocation } from '../lib/router';

const PAGE = 50;
const FILTERS = ['action', 'subjectType', 'subjectId', 'actorId'] as const;

/** The hash-chained audit log: filters, paging by sequence number, and the chain's verification. */
export function AuditPage() {
  const { search } = useLocation();
  const applied: Record<string, string> = {};
  for (const k of FILTERS) if (search.get(k)) applied[k] = search.get(k)!;
  const filtered = Object.keys(applied).length > 0;
  const verify = useApi<AuditVerify>('/api/audit/verify', undefined, { pollMs: 60_000 });
  // without filters the newest page comes first; the chain's length tells where it starts
  const afterSeqParam = search.get('afterSeq');
  const afterSeq = afterSeqParam !== null ? Number(afterSeqParam) : filtered ? 0 : verify.data ? Math.max(0, verify.data.count - PAGE) : null;
  const events = useApi<{ items: AuditEvent[]; nextAfterSeq: number | null }>(
    afterSeq === null ? null : '/api/audit', { ...applied, afterSeq: afterSeq ?? 0, limit: PAGE }, { pollMs: afterSeqParam === null ? 10_000 : undefined },
  );
  const [f, setF] = useState<Record<string, string>>(applied);
  const go = (q: Record<string, string | number | undefined>) => {
    const qs = new URLSearchParams(Object.entries(q).filter(([, v]) => v !== undefined && v !== '').map(([k, v]) => [k, String(v)])).toString();
    navigate(`/audit${qs ? `?${qs}` : ''}`);
  };
  const apply = (e: FormEvent) => (e.preventDefault(), go(f));
  const items = events.data?.items ?? [];
  const dir = useDirectory();
  // user events name their user: good enough for the actor column where the user list is not readable
  useEffect(() => {
    dir.learn(items.filter((e) => e.subjectType === 'user' && e.subjectId && typeof e.details.username === 'string')
      .map((e) => ({ id: e.subjectId!, displayName: e.details.username as string })));
  }, [items, dir]);

  return (
    <Page title="Audit log" subtitle="Append-only and hash-chained: each event carries the hash of the one before it.">
      <ChainStatus verify={verify.data} error={verify.error} onVerify={verify.reload} loading={verify.loading} />
      <Card className="filters">
        <form className="filter-form" onSubmit={apply} aria-label="Audit filters">
          <Field label="Action" htmlFor="a-action">
            <input id="a-action" placeholder="e.g. session.started" value={f.action ?? ''} onChange={(e) => setF({ ...f, action: e.target.value })} />
          </Field>
          <Field label="Subject type" htmlFor="a-st">
            <select id="a-st" value={f.subjectType ?? ''} onChange={(e) => setF({ ...f, subjectType: e.target.value })}>
              <option value="">any</option>
              {['access_request', 'grant', 'session', 'device', 'user', 'vendor'].map((t) => <option key={t}>{t}</option>)}
            </select>
          </Field>
          <Field label="Subject id" htmlFor="a-sid"><input id="a-sid" value={f.subjectId ?? ''} onChange={(e) => setF({ ...f, subjectId: e.target.value })} /></Field>
          <Field label="Actor id" htmlFor="a-actor"><input id="a-actor" value={f.actorId ?? ''} onChange={(e) => setF({ ...f, actorId: e.target.value })} /></Field>
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

function subjectLink(type: string | null, id: string | null): string | null {
  if (!type || !id) return null;
  if (type === 'session') return `/sessions/${id}`;
  if (type === 'access_request') return `/approvals/${id}`;
  return null;
}

function AuditRow({ e }: { e: AuditEvent }) {
  const dir = useDirectory();
  const [open, setOpen] = useState(false);
  const actor = e.actorType === 'user' ? dir.userName(e.actorId) : `${e.actorType}${e.actorId ? `: ${e.actorType === 'device' ? dir.deviceName(e.actorId) : e.actorId}` : ''}`;
  const link = subjectLink(e.subjectType, e.subjectId);
  const subject = e.subjectType === 'device' && e.subjectId ? dir.deviceName(e.subjectId) : e.subjectId ? e.subjectId.slice(0, 8) : '';
  const details = Object.entries(e.details).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join('  ');
  return (
    <tr className={e.action.includes('failed') || e.action.includes('refused') ? 'row-warn' : ''}>
      <td data-label="#" className="mono">{e.seq}</td>
      <td data-label="Time">{fmtTimeSec(e.at)}</td>
      <td data-label="Actor">{actor}</td>
      <td data-label="Action" className="mono">{e.action}</td>
      <td data-label="Subject">{e.subjectType ?? '—'} {link ? <Link to={link} className="mono">{subject}</Link> : <span className="mono">{subject}</span>}</td>
      <td data-label="Details" className="details">
        <button type="button" className="link mono" onClick={() => setOpen(!open)} title="Show all details">
          {open ? 'hide' : details.length > 110 ? `${details.slice(0, 110)}…` : details || '—'}
        </button>
        {open && <pre>{JSON.stringify({ ...e.details, hash: e.hash, prevHash: e.prevHash }, null, 2)}</pre>}
      </td>
    </tr>
  );
}
