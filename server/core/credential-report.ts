/**
 * The device credentials' trust record, read side (§8.4): the device-CA setup devices need, the report
 * of long-lived and old credentials, and which rotated keys are due. Pure reads plus job scheduling.
 */
import { requireRole } from './access.js';
import { requireOversight } from './scope.js';
import { rotationKindOf } from './credential-rotation.js';
import type { CoreDeps } from './ports.js';
import type { Actor, CredentialKind, LifecycleState } from './types.js';

/** Where devices keep the device CA's public key; `TrustedUserCAKeys` names this file. */
export const DEVICE_CA_FILE = '/etc/ssh/portcullis_device_ca.pub';

export interface DeviceCaSetup {
  /** the device CA's public key line */
  publicKey: string;
  /** the line to add to the device's sshd_config */
  sshdConfig: string;
  /** where the public key goes on the device */
  caFile: string;
  /** what to run on the device (as root), in order */
  installCommands: string[];
}

/** `GET /api/device-ca` (admin): what a device needs to trust the proxy's per-connection certificates. */
export function deviceCaSetup(deps: CoreDeps, actor: Actor): DeviceCaSetup {
  requireRole(actor, 'admin');
  const publicKey = deps.deviceKeys.caPublicKeyLine;
  const sshdConfig = `TrustedUserCAKeys ${DEVICE_CA_FILE}`;
  return {
    publicKey, sshdConfig, caFile: DEVICE_CA_FILE,
    installCommands: [
      `printf '%s\\n' '${publicKey}' > ${DEVICE_CA_FILE}`,
      `grep -qxF '${sshdConfig}' /etc/ssh/sshd_config || echo '${sshdConfig}' >> /etc/ssh/sshd_config`,
      'sshd -t && (systemctl reload ssh || systemctl reload sshd || kill -HUP "$(cat /run/sshd.pid)")',
    ],
  };
}

export type CredentialConcern = 'static' | 'overdue' | 'rotation_failed';

export interface CredentialReportItem {
  deviceId: string;
  name: string;
  department: string;
  lifecycleState: LifecycleState;
  credentialKind: CredentialKind;
  username: string;
  credentialIssuedAt: Date;
  credentialRotatedAt: Date | null;
  /** whole days since the current secret was set */
  ageDays: number;
  concern: CredentialConcern;
  /** for people: what is wrong and what to do */
  detail: string;
  /** kind `password`: whether the broker rotates it (a rotation command is set); null for other kinds */
  passwordRotation: boolean | null;
}

const DAY_MS = 86_400_000;

/**
 * `GET /api/reports/credentials` (admin, auditor): devices (not retired) whose credential is a static
 * secret (an admin-given key, or a password without a rotation command), a rotated key or password older
 * than CREDENTIAL_MAX_AGE_DAYS, or whose last rotation failed. Certificate devices hold nothing long-lived and never appear.
 */
export async function credentialReport(deps: CoreDeps, actor: Actor): Promise<{ maxAgeDays: number; items: CredentialReportItem[] }> {
  requireOversight(actor);
  const now = deps.clock.now();
  const maxAgeDays = deps.policy.credentialMaxAgeDays;
  const devices = new Map((await deps.store.read.devices.list({})).map((d) => [d.id, d]));
  const items: CredentialReportItem[] = [];
  for (const c of await deps.store.read.credentials.list()) {
    const d = devices.get(c.deviceId);
    if (!d || d.lifecycleState === 'retired' || c.kind === 'certificate') continue;
    const ageDays = Math.floor((now.getTime() - c.issuedAt.getTime()) / DAY_MS);
    let concern: CredentialConcern;
    let detail: string;
    const rotated = rotationKindOf(c);
    if (!rotated) {
      concern = 'static';
      detail = c.kind === 'password'
        ? `static password, ${ageDays} days old, no password rotation configured: set a rotation command (chpasswd), or switch to a device certificate or a rotated key`
        : `static private key, ${ageDays} days old: switch to a device certificate, or to a rotated key`;
    } else if (c.rotationFailure) {
      concern = 'rotation_failed';
      detail = `rotation failed ${c.rotationFailure.at.toISOString()}: ${c.rotationFailure.reason}`;
    } else if (ageDays >= maxAgeDays) {
      concern = 'overdue';
      detail = `rotated ${rotated === 'key' ? 'key' : 'password'} ${ageDays} days old (at most ${maxAgeDays})`;
    } else {
      continue;
    }
    items.push({
      deviceId: d.id, name: d.name, department: d.department, lifecycleState: d.lifecycleState, credentialKind: c.kind,
      username: c.username, credentialIssuedAt: c.issuedAt, credentialRotatedAt: c.rotatedAt, ageDays, concern, detail,
      passwordRotation: c.kind === 'password' ? c.passwordRotation !== null : null,
    });
  }
  items.sort((a, b) => a.name.localeCompare(b.name));
  return { maxAgeDays, items };
}

/** A flagged device is tried again by the sweep at most this often (a grant's end tries at once). */
const FAILED_RETRY_MS = DAY_MS;

/**
 * Schedules `credential.rotate` for every rotated credential due (a `key` device, a password with its
 * rotation command): it is CREDENTIAL_MAX_AGE_DAYS old, or a rotation was left unfinished (a pending secret). Deterministic job ids make a second run a no-op.
 */
export async function scheduleDueRotations(deps: CoreDeps): Promise<number> {
  const now = deps.clock.now();
  const maxAgeMs = deps.policy.credentialMaxAgeDays * DAY_MS;
  const devices = new Map((await deps.store.read.devices.list({})).map((d) => [d.id, d]));
  let scheduled = 0;
  for (const c of await deps.store.read.credentials.list()) {
    const d = devices.get(c.deviceId);
    if (!rotationKindOf(c) || !d || d.lifecycleState === 'retired') continue;
    const due = c.pendingSince !== null || now.getTime() - c.issuedAt.getTime() >= maxAgeMs;
    const resting = c.rotationFailure !== null && now.getTime() - c.rotationFailure.at.getTime() < FAILED_RETRY_MS;
    if (!due || resting) continue;
    await deps.scheduler.ensure({ kind: 'credential.rotate', deviceId: c.deviceId, dueAt: now.toISOString() });
    scheduled++;
  }
  return scheduled;
}
