/**
 * Rotation of a device's login secret (§8.4): a `key` device's login key, or the password of a
 * `password` device that names a chpasswd-style command. Run by the `credential.rotate` job after each
 * grant of the device ends and when the secret is CREDENTIAL_MAX_AGE_DAYS old. Both kinds share the
 * frame below (seal as pending, install, prove, swap, audit, report the failure); they differ only in
 * how the next secret is made and put on the device (`RotationKind`).
 *
 * Invariants (the broker is never locked out):
 * - the next secret is sealed in the vault (as pending) before it goes anywhere near the device;
 * - a key: the old key's line is removed only over a login with the new key, which proves it works;
 *   a password: it is set by the device's own command with the new password on stdin (never on a
 *   command line), then a login with it proves it;
 * - the vaulted secret is swapped only after that; until then the old one stays current;
 * - every step is idempotent, so a rotation cut short anywhere finishes when the job runs again: it
 *   logs in with the current secret, or with the pending one when the device already holds only that;
 * - a device in use (an active grant) is left alone: that grant's end schedules the rotation again;
 * - after the last retry the failure is audited, the device flagged and its approvers told.
 */
import { randomBytes } from 'node:crypto';
import { isEligibleApprover } from './access.js';
import { credentialAad, loginKeyComment } from './device-credentials.js';
import { inTransaction } from './effects.js';
import { conflict } from './errors.js';
import { recordHostKeyMismatch } from './host-key-changes.js';
import type { CoreDeps, CredentialRecord, CredentialSummary, DeviceCommandResult, SealedSecret } from './ports.js';
import type { Device, DeviceCredential } from './types.js';
import type { JobAttempt } from './workflow-ports.js';

/** single-quoted for sh */
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
/** the base64 key blob of an authorized_keys line: what identifies the key whatever its options or comment */
const blobOf = (line: string) => {
  const blob = line.trim().split(/\s+/).find((w) => /^AAAA[A-Za-z0-9+/]+={0,2}$/.test(w));
  if (!blob) throw conflict('not an OpenSSH public key line');
  return blob;
};

const KEYS = '"$HOME/.ssh/authorized_keys"';

/** Adds `line` to the login user's authorized_keys unless its key is there already (exit 0 when it is there after). */
export function appendKeyCommand(line: string): string {
  const blob = q(blobOf(line));
  return [
    'set -e', 'umask 077', 'mkdir -p "$HOME/.ssh"', `touch ${KEYS}`,
    `if ! grep -qF ${blob} ${KEYS}; then`,
    // a last line without its newline would be joined to ours
    `  if [ -s ${KEYS} ] && [ -n "$(tail -c 1 ${KEYS})" ]; then echo >> ${KEYS}; fi`,
    `  printf '%s\\n' ${q(line.trim())} >> ${KEYS}`,
    'fi',
    `grep -qF ${blob} ${KEYS}`,
  ].join('\n');
}

/** Removes every line of `oldLine`'s key, never `keepLine`'s, by replacing the file (exit 0 when the old key is gone). */
export function removeKeyCommand(oldLine: string, keepLine: string): string {
  const old = q(blobOf(oldLine));
  const keep = q(blobOf(keepLine));
  return [
    'set -e', 'umask 077', `t=${KEYS}.portcullis-$$`, 'trap \'rm -f "$t"\' EXIT',
    // grep -v exits 1 when no line is left: that is not an error here
    `grep -vF ${old} ${KEYS} > "$t" || [ $? -eq 1 ]`,
    `grep -qF ${keep} "$t"`,
    `mv -f "$t" ${KEYS}`,
    `! grep -qF ${old} ${KEYS}`,
  ].join('\n');
}

export type RotationOutcome = 'rotated' | 'not_rotated' | 'in_use';

const ranOk = (r: DeviceCommandResult) => r.kind === 'ran' && r.code === 0;

/**
 * One command of a rotation on the device. A host key other than the pin (nothing was sent) fails the
 * rotation and is kept as the device's pending host key change, audited and told to its approvers as
 * when a session or a test sees it (§8.4): a rotation runs after every grant, so it is often the first
 * to meet a re-imaged — or impersonated — device.
 */
async function onDevice(deps: CoreDeps, device: Device, login: DeviceCredential, command: string, stdin?: string): Promise<DeviceCommandResult> {
  const result = await deps.deviceShell.exec(device, login, command, stdin);
  if (result.kind === 'host_key_mismatch') {
    await recordHostKeyMismatch(deps, device, result.presented, { kind: 'rotation' });
    throw conflict(`${result.reason}; nothing was sent to it, and an approver must confirm the new key before a rotation can run`);
  }
  return result;
}

function describe(r: DeviceCommandResult): string {
  if (r.kind !== 'ran') return r.reason;
  const err = r.stderr.trim().split('\n').slice(-2).join(' ').slice(0, 200);
  return `exit ${r.code ?? 'without status'}${err ? `: ${err}` : ''}`;
}

/** A generated password for `chpasswd`: never a ':' or a line break, nothing a shell or a device chokes on. */
export function newDevicePassword(): string {
  return randomBytes(24).toString('base64url');
}

function loginOf(deps: CoreDeps, deviceId: string, record: CredentialRecord, sealed: SealedSecret): DeviceCredential {
  return { username: record.username, kind: record.kind === 'password' ? 'password' : 'private_key',
    secret: deps.vault.open(sealed, credentialAad(deviceId, record.username)) };
}

/**
 * What differs between rotating a login key and a password: how the next secret is made, and how it
 * is put on the device. `install` must leave the device accepting `next` and, once a login with
 * `next` proved it, no longer `current`; each of its steps is idempotent.
 */
interface RotationKind {
  newSecret(deps: CoreDeps, device: Device, now: Date): { secret: string; publicKey: string | null };
  install(deps: CoreDeps, device: Device, record: CredentialRecord, current: DeviceCredential, next: DeviceCredential): Promise<void>;
}

const keyRotation: RotationKind = {
  newSecret(deps, device, now) {
    const key = deps.deviceKeys.newLoginKey(loginKeyComment(device.name, now));
    return { secret: key.privateKey, publicKey: key.publicKeyLine };
  },
  async install(deps, device, record, current, next) {
    const pending = record.pending!;
    if (!record.publicKey || !pending.publicKey) throw conflict('the device\'s credential changed during the rotation');
    let added = await onDevice(deps, device, current, appendKeyCommand(pending.publicKey));
    // the old line may be gone already (a rotation cut short after removing it): the new key gets in
    if (added.kind === 'login_refused') added = await onDevice(deps, device, next, appendKeyCommand(pending.publicKey));
    if (!ranOk(added)) throw conflict(`could not add the new key to authorized_keys: ${describe(added)}`);

    // logging in with the new key is the proof; only over that login does the old key go
    const removed = await onDevice(deps, device, next, removeKeyCommand(record.publicKey, pending.publicKey));
    if (removed.kind === 'login_refused') throw conflict(`the device refused a login with the new key (the old key stays in place): ${removed.reason}`);
    if (!ranOk(removed)) throw conflict(`could not remove the old key from authorized_keys: ${describe(removed)}`);
  },
};

const passwordRotation: RotationKind = {
  newSecret: () => ({ secret: newDevicePassword(), publicKey: null }),
  async install(deps, device, record, current, next) {
    const command = record.passwordRotation?.command;
    if (!command) throw conflict('the device\'s password rotation was switched off during the rotation');
    // the new password goes on stdin only: a command line is visible to every process on the device
    const stdin = `${record.username}:${next.secret}\n`;
    let changed = await onDevice(deps, device, current, command, stdin);
    // the password may have changed already (a rotation cut short before the swap): the new one gets in
    if (changed.kind === 'login_refused') changed = await onDevice(deps, device, next, command, stdin);
    if (!ranOk(changed)) throw conflict(`the password change command failed: ${describe(changed)}`);
    // the proof: a login with the new password, before it replaces the vaulted one
    const proved = await onDevice(deps, device, next, 'true');
    if (proved.kind === 'login_refused') throw conflict(`the device refused a login with the new password: ${proved.reason}`);
    if (!ranOk(proved)) throw conflict(`could not prove a login with the new password: ${describe(proved)}`);
  },
};

/** How the device's credential is rotated, or null when it is not a rotated one. */
export function rotationKindOf(c: Pick<CredentialSummary, 'kind' | 'passwordRotation'>): 'key' | 'password' | null {
  if (c.kind === 'key') return 'key';
  if (c.kind === 'password' && c.passwordRotation) return 'password';
  return null;
}

/** Runs the rotation's steps; throws (a conflict with the reason) when one fails. */
async function runRotation(deps: CoreDeps, device: Device, start: CredentialRecord, how: RotationKind): Promise<void> {
  const now = deps.clock.now();
  let record = start;
  // the current login opens before anything is written: a worker whose vault cannot open it (its key
  // is not this deployment's) must not leave a next secret only it can read as the device's pending one
  if (!record.sealed) throw conflict('the device\'s credential changed during the rotation');
  loginOf(deps, device.id, record, record.sealed);
  if (!record.pending) {
    const next = how.newSecret(deps, device, now);
    const sealed = deps.vault.seal(next.secret, credentialAad(device.id, record.username));
    await deps.store.transaction((tx) => tx.credentials.setPending(device.id, sealed, next.publicKey, now));
    // whichever pending secret was sealed first (another run may have won) is the one to install
    record = (await deps.store.read.credentials.record(device.id))!;
  }
  const pending = record.pending;
  if (!pending || !record.sealed || record.kind !== start.kind) throw conflict('the device\'s credential changed during the rotation');
  const current = loginOf(deps, device.id, record, record.sealed);
  const next = loginOf(deps, device.id, record, pending.sealed);
  await how.install(deps, device, record, current, next);

  const at = deps.clock.now();
  await deps.store.transaction(async (tx) => {
    if (!(await tx.credentials.promotePending(device.id, pending.sealed.ciphertext, at))) {
      throw conflict('the device\'s credential changed during the rotation');
    }
    await tx.audit.append(
      { actorType: 'system', actorId: 'credential-rotation', action: 'credential.rotated', subjectType: 'device', subjectId: device.id,
        details: { name: device.name, username: record.username, kind: record.kind,
          ...(record.kind === 'key' ? { publicKey: pending.publicKey, previousPublicKey: record.publicKey } : { command: record.passwordRotation?.command }) } },
      at,
    );
  });
}

/** Audits the failure, flags the device and tells its approvers (after the last retry). */
async function reportFailure(deps: CoreDeps, device: Device, reason: string, attempts: number): Promise<void> {
  const at = deps.clock.now();
  await inTransaction(deps, async (tx, fx) => {
    await tx.credentials.markRotationFailed(device.id, reason, at);
    await tx.audit.append(
      { actorType: 'system', actorId: 'credential-rotation', action: 'credential.rotation_failed', subjectType: 'device', subjectId: device.id,
        details: { name: device.name, reason, attempts } },
      at,
    );
    const approvers = (await tx.users.list({ role: 'approver', includeDisabled: false }))
      .filter((u) => isEligibleApprover(u, device, null))
      .map((u) => ({ id: u.id, displayName: u.displayName, slackUserId: u.slackUserId }));
    fx.notify({
      type: 'credential.rotation_failed', reason, attempts, at: at.toISOString(), approvers,
      device: { id: device.id, name: device.name, department: device.department, approverDepartment: device.policy.approverDepartment },
    });
  });
}

/**
 * The `credential.rotate` job. A retired device, or one whose credential is not rotated (a certificate,
 * a static key or password) is left alone (`not_rotated`); one in use waits for its grant's end (`in_use`). A failed step throws, so the job is
 * retried; on the last attempt the failure is reported first.
 */
export async function rotateDeviceCredential(deps: CoreDeps, deviceId: string, attempt: JobAttempt = { attempt: 1, lastAttempt: true }): Promise<RotationOutcome> {
  const device = await deps.store.read.devices.byId(deviceId);
  if (!device || device.lifecycleState === 'retired') return 'not_rotated';
  const record = await deps.store.read.credentials.record(deviceId);
  const how = record && rotationKindOf(record);
  if (!record || !how) return 'not_rotated';
  if ((await deps.store.read.grants.list({ deviceId, status: 'active', limit: 1 })).length) return 'in_use';
  try {
    await runRotation(deps, device, record, how === 'key' ? keyRotation : passwordRotation);
    return 'rotated';
  } catch (err) {
    if (attempt.lastAttempt) await reportFailure(deps, device, (err as Error).message.slice(0, 500), attempt.attempt);
    throw err;
  }
}
