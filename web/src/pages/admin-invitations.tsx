// Admins invite vendor technicians: a single-use link (72 hours) shown once, to pass on by a channel
// the admin trusts; the pending invitations, each withdrawable. The account ends at the chosen date,
// at the latest at the vendor's contract end (the broker enforces it).
import { useState, type FormEvent } from 'react';
import { api, post } from '../api/client';
import type { Invitation, Items } from '../api/types';
import { FieldErrors } from '../components/form-errors';
import { Card, CopyBlock, Empty, ErrorBox, Field, Loading, Page, useAction } from '../components/ui';
import { useDirectory } from '../lib/directory';
import { fmtTime } from '../lib/format';
import { useApi } from '../lib/hooks';

export function InvitationsPage() {
  const invitations = useApi<Items<Invitation>>('/api/invitations');
  const dir = useDirectory();
  const vendorName = (id: string) => dir.vendors.find((v) => v.id === id)?.name ?? id;
  return (
    <Page title="Invitations" subtitle="Vendor technicians set their own password through a single-use link that works for 72 hours.">
      <div className="two-col">
        <div>
          <ErrorBox error={invitations.error} />
          {invitations.loading && <Loading />}
          {invitations.data && !invitations.data.items.length && <Empty>No pending invitation.</Empty>}
          {!!invitations.data?.items.length && (
            <div className="table-wrap">
              <table className="table" data-testid="invitations">
                <thead><tr><th>Username</th><th>Name</th><th>Vendor</th><th>Link until</th><th>Account ends</th><th /></tr></thead>
                <tbody>
                  {invitations.data.items.map((i) => <InvitationRow key={i.id} i={i} vendor={vendorName(i.vendorId)} onDone={invitations.reload} />)}
                </tbody>
              </table>
            </div>
          )}
        </div>
        <NewInvitation onDone={invitations.reload} />
      </div>
    </Page>
  );
}

function InvitationRow({ i, vendor, onDone }: { i: Invitation; vendor: string; onDone(): void }) {
  const { busy, error, run } = useAction();
  const revoke = async () => {
    if (!window.confirm(`Withdraw the invitation for ${i.username}? The link stops working.`)) return;
    if (await run(() => api(`DELETE`, `/api/invitations/${i.id}`).then(() => true))) onDone();
  };
  return (
    <tr>
      <td data-label="Username"><code>{i.username}</code></td>
      <td data-label="Name">{i.displayName}</td>
      <td data-label="Vendor">{vendor}</td>
      <td data-label="Link until">{fmtTime(i.expiresAt)}</td>
      <td data-label="Account ends">{fmtTime(i.accountExpiresAt)}</td>
      <td>
        <button type="button" className="btn btn-small btn-danger" disabled={busy} onClick={() => void revoke()}>Withdraw</button>
        <ErrorBox error={error} />
      </td>
    </tr>
  );
}

function NewInvitation({ onDone }: { onDone(): void }) {
  const dir = useDirectory();
  const [username, setUsername] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [vendorId, setVendorId] = useState('');
  const [ends, setEnds] = useState('');
  const [url, setUrl] = useState<string | null>(null);
  const { busy, error, run } = useAction();
  const today = new Date().toISOString().slice(0, 10);
  const vendors = dir.vendors.filter((v) => v.contractEnd >= today);
  const contractEnd = vendors.find((v) => v.id === vendorId)?.contractEnd;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const r = await run(() => post<{ url: string }>('/api/invitations', {
      username: username.trim(), displayName: displayName.trim(), vendorId, roles: ['technician'],
      // a chosen day ends with its last instant, as contract ends do
      ...(ends ? { expiresAt: `${ends}T23:59:59.999Z` } : {}),
    }));
    if (r) (setUrl(r.url), setUsername(''), setDisplayName(''), setEnds(''), onDone());
  };

  return (
    <Card title="Invite a technician">
      {url && (
        <div className="alert alert-ok" role="status" data-testid="invitation-url">
          <p>Send this link to the technician. It is shown only now, works once, for 72 hours.</p>
          <CopyBlock label="Invitation link" text={url} testId="invitation-link" />
        </div>
      )}
      <form className="form" onSubmit={submit} aria-label="New invitation">
        <FieldErrors error={error}>
          <ErrorBox error={error} />
          <Field label="Username" htmlFor="inv-username" name="username">
            <input id="inv-username" required autoCapitalize="none" spellCheck={false} value={username} onChange={(e) => setUsername(e.target.value)} />
          </Field>
          <Field label="Full name" htmlFor="inv-name" name="displayName">
            <input id="inv-name" required value={displayName} onChange={(e) => setDisplayName(e.target.value)} />
          </Field>
          <Field label="Vendor" htmlFor="inv-vendor" name="vendorId">
            <select id="inv-vendor" required value={vendorId} onChange={(e) => setVendorId(e.target.value)}>
              <option value="">Choose a vendor…</option>
              {vendors.map((v) => <option key={v.id} value={v.id}>{v.name} (contract ends {v.contractEnd})</option>)}
            </select>
          </Field>
          <Field label="Account ends (last day)" htmlFor="inv-ends" name="expiresAt"
            hint={contractEnd ? `Empty: with the contract, ${contractEnd}.` : 'Empty: with the vendor\'s contract.'}>
            <input id="inv-ends" type="date" min={today} max={contractEnd} value={ends} onChange={(e) => setEnds(e.target.value)} />
          </Field>
          <button className="btn btn-primary" disabled={busy}>{busy ? 'Inviting…' : 'Create invitation link'}</button>
        </FieldErrors>
      </form>
    </Card>
  );
}
