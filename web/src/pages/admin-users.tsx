import { useState, type FormEvent } from 'react';
import { patch, post } from '../api/client';
import { ROLES, type Items, type LoginLock, type Role, type UserView as User } from '../api/types';
import { FieldErrors, FieldProblem } from '../components/form-errors';
import { Badge, Card, Empty, ErrorBox, Field, Loading, Page, useAction } from '../components/ui';
import { fmtClock, fmtTime } from '../lib/format';
import { useDirectory } from '../lib/directory';
import { useApi } from '../lib/hooks';
import { useUser } from '../lib/session';

export function UsersPage() {
  const dir = useDirectory();
  const [role, setRole] = useState<Role | ''>('');
  const [q, setQ] = useState('');
  const users = useApi<Items<User>>('/api/users', { role });
  const needle = q.trim().toLowerCase();
  const shown = users.data?.items.filter((u) => !needle || `${u.username} ${u.displayName} ${u.department ?? ''}`.toLowerCase().includes(needle));
  const reload = () => (users.reload(), dir.reload());
  return (
    <Page title="Users and roles" subtitle="Named people only: never a shared account. Disabling a user cuts their live sessions.">
      <div className="two-col wide-left">
        <div>
          <div className="chips">
            {(['', ...ROLES] as const).map((r) => (
              <button key={r} type="button" className={`chip ${r === role ? 'on' : ''}`} onClick={() => setRole(r)}>{r || 'all'}</button>
            ))}
            <input className="search" type="search" placeholder="Find by name or department" aria-label="Find users" value={q} onChange={(e) => setQ(e.target.value)} />
          </div>
          <ErrorBox error={users.error} />
          {users.loading && <Loading />}
          {shown && !shown.length && <Empty>No user matches.</Empty>}
          {!!shown?.length && (
            <div className="table-wrap">
              <table className="table" data-testid="users">
                <thead><tr><th>User</th><th>Roles</th><th>Vendor / department</th><th>State</th><th /></tr></thead>
                <tbody>{shown.map((u) => <UserRow key={u.id} u={u} onDone={reload} />)}</tbody>
              </table>
            </div>
          )}
        </div>
        <NewUser onDone={reload} />
      </div>
    </Page>
  );
}

function RoleChecks({ roles, set }: { roles: Role[]; set(r: Role[]): void }) {
  return (
    <div className="checks">
      {ROLES.map((r) => (
        <label key={r}>
          <input type="checkbox" checked={roles.includes(r)} onChange={(e) => set(e.target.checked ? [...roles, r] : roles.filter((x) => x !== r))} /> {r}
        </label>
      ))}
    </div>
  );
}

function UserRow({ u, onDone }: { u: User; onDone(): void }) {
  const me = useUser();
  const dir = useDirectory();
  const [editing, setEditing] = useState(false);
  const [roles, setRoles] = useState<Role[]>(u.roles);
  const [vendorId, setVendorId] = useState(u.vendorId ?? '');
  const [department, setDepartment] = useState(u.department ?? '');
  const [password, setPassword] = useState('');
  const { busy, error, run } = useAction();
  const save = async (e: FormEvent) => {
    e.preventDefault();
    const body: Record<string, unknown> = {};
    if (roles.join() !== u.roles.join()) body.roles = roles;
    if ((vendorId || null) !== u.vendorId) body.vendorId = vendorId || null;
    if ((department.trim() || null) !== u.department) body.department = department.trim() || null;
    if (password) body.password = password;
    if (!Object.keys(body).length) return setEditing(false);
    const r = await run(() => patch(`/api/users/${u.id}`, body));
    if (r) (setEditing(false), setPassword(''), onDone());
  };
  const toggleDisabled = () => void run(() => patch(`/api/users/${u.id}`, { disabled: !u.disabledAt })).then((r) => r && onDone());
  return (
    <tr className={u.disabledAt ? 'row-muted' : ''} data-username={u.username}>
      <td data-label="User"><strong>{u.displayName}</strong><br /><span className="mono small">{u.username}</span></td>
      <td data-label="Roles">
        {editing ? <RoleChecks roles={roles} set={setRoles} /> : u.roles.map((r) => <Badge key={r} value="info" label={r} />)}
      </td>
      <td data-label="Vendor / dept">
        {editing ? (
          <div className="stack-tight">
            <select aria-label="Vendor" value={vendorId} onChange={(e) => setVendorId(e.target.value)}>
              <option value="">no vendor</option>
              {dir.vendors.map((v) => <option key={v.id} value={v.id}>{v.name}</option>)}
            </select>
            <input aria-label="Department" placeholder="department" value={department} onChange={(e) => setDepartment(e.target.value)} />
            <input aria-label="New password" type="password" placeholder="new password (optional)" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} />
          </div>
        ) : (
          <>{u.vendorId ? dir.vendorName(u.vendorId) : ''}{u.vendorId && u.department ? ' · ' : ''}{u.department ?? ''}</>
        )}
      </td>
      <td data-label="State">
        {u.disabledAt ? <Badge value="disabled" /> : <Badge value="active" label="enabled" />}
        {u.loginLock && <LockState lock={u.loginLock} />}
      </td>
      <td className="row-actions">
        <ErrorBox error={error} />
        {editing ? (
          <form onSubmit={save} className="inline-form">
            <button className="btn btn-small btn-primary" disabled={busy}>Save</button>
            <button type="button" className="btn btn-small btn-ghost" onClick={() => setEditing(false)}>Cancel</button>
          </form>
        ) : (
          <>
            <button type="button" className="btn btn-small" onClick={() => setEditing(true)}>Edit</button>
            {u.loginLock && (
              <button type="button" className="btn btn-small btn-primary" disabled={busy}
                onClick={() => void run(() => post(`/api/users/${u.id}/unlock`)).then((r) => r && onDone())}>Unlock</button>
            )}
            {u.id !== me.id && (
              <button type="button" className={`btn btn-small ${u.disabledAt ? '' : 'btn-danger'}`} disabled={busy} onClick={toggleDisabled}>
                {u.disabledAt ? 'Enable' : 'Disable'}
              </button>
            )}
          </>
        )}
      </td>
    </tr>
  );
}

function NewUser({ onDone }: { onDone(): void }) {
  const dir = useDirectory();
  const [username, setUsername] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [roles, setRoles] = useState<Role[]>(['technician']);
  const [vendorId, setVendorId] = useState('');
  const [department, setDepartment] = useState('');
  const [slackUserId, setSlack] = useState('');
  const [password, setPassword] = useState('');
  const { busy, error, run } = useAction();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const r = await run(() => post('/api/users', {
      username: username.trim(), displayName: displayName.trim(), roles, password,
      ...(vendorId ? { vendorId } : {}), ...(department.trim() ? { department: department.trim() } : {}), ...(slackUserId.trim() ? { slackUserId: slackUserId.trim() } : {}),
    }));
    if (r) (setUsername(''), setDisplayName(''), setPassword(''), setSlack(''), onDone());
  };
  return (
    <Card title="Add a user">
      <form className="form" onSubmit={submit} aria-label="New user">
        <FieldErrors error={error}>
          <ErrorBox error={error} />
          <Field label="Username" htmlFor="u-name" name="username"><input id="u-name" required autoComplete="off" value={username} onChange={(e) => setUsername(e.target.value)} /></Field>
          <Field label="Display name" htmlFor="u-display" name="displayName"><input id="u-display" required value={displayName} onChange={(e) => setDisplayName(e.target.value)} /></Field>
          <fieldset className="field"><legend>Roles</legend><RoleChecks roles={roles} set={setRoles} /><FieldProblem name="roles" nested /></fieldset>
          <Field label="Vendor (technicians)" htmlFor="u-vendor" name="vendorId">
            <select id="u-vendor" value={vendorId} onChange={(e) => setVendorId(e.target.value)}>
              <option value="">none</option>
              {dir.vendors.map((v) => <option key={v.id} value={v.id}>{v.name}</option>)}
            </select>
          </Field>
          <Field label="Department (approvers)" htmlFor="u-dept" name="department"><input id="u-dept" value={department} onChange={(e) => setDepartment(e.target.value)} /></Field>
          <Field label="Slack user id (optional)" htmlFor="u-slack" name="slackUserId"><input id="u-slack" placeholder="U0123ABC" value={slackUserId} onChange={(e) => setSlack(e.target.value)} /></Field>
          <Field label="Initial password" htmlFor="u-pass" name="password" hint="At least 12 characters. Give it to the person over a separate channel.">
            <input id="u-pass" type="password" required minLength={12} autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} />
          </Field>
          <button className="btn btn-primary" disabled={busy || !roles.length}>Add user</button>
        </FieldErrors>
      </form>
    </Card>
  );
}

/** Why the user cannot log in now, and until when (the locks run out by themselves; Unlock lifts them at once). */
function LockState({ lock }: { lock: LoginLock }) {
  const sources = lock.lockedSources;
  const last = sources.at(-1)?.lockedUntil;
  return (
    <div className="lock-state" data-testid="lock-state">
      <Badge value="locked" label={lock.accountLockedUntil ? 'account locked' : 'locked out'} />
      <small className="muted">
        {lock.accountLockedUntil && <> until <span title={fmtTime(lock.accountLockedUntil)}>{fmtClock(lock.accountLockedUntil)}</span> for everyone</>}
        {sources.length > 0 && <>{lock.accountLockedUntil ? '; ' : ' '}from {sources.length === 1 ? sources[0]!.address : `${sources.length} addresses`}
          {last && <> until <span title={fmtTime(last)}>{fmtClock(last)}</span></>}</>}
      </small>
    </div>
  );
}
