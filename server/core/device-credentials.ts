/**
 * Device credentials (§8.4): how the proxy logs in to a device, and the report of the weak ones.
 * Invariants: a `certificate` device has no stored secret at all: each connection gets a fresh key pair
 * and a certificate of at most five minutes (30 s back for clock skew), principal = the login name,
 * key id naming the connection, and the issue is audited; a `key` device's key is generated here and
 * only its public half ever leaves the vault; static secrets are sealed before they reach the store.
 */
import { auditActor } from './access.js';
import { conflict, invalid } from './errors.js';
import type { CoreDeps, Tx } from './ports.js';
import type { Actor, CredentialKind, DeviceCredential, DeviceCredentialInput } from './types.js';

/** Certificates start this long before now: the device's clock may be behind the broker's. */
export const CERT_SKEW_MS = 30_000;
/** And end this long after now: long enough to log in, too short to be worth stealing. */
export const CERT_LIFETIME_MS = 5 * 60_000;

/** The associated data binding a sealed credential to its device: a ciphertext moved to another row fails to open. */
export const credentialAad = (deviceId: string, username: string) => `device-credential:${deviceId}:${username}`;

/** The comment of a broker-generated login key: names the broker, the device and the day. */
export const loginKeyComment = (deviceName: string, at: Date) => `portcullis-${deviceName}-${at.toISOString().slice(0, 10)}`;

/**
 * Sets a device's credential inside the caller's transaction, audited. For a `key` credential the key
 * is generated here; its public half is on the device record (`credentialPublicKey`) to install.
 */
export async function storeCredential(deps: CoreDeps, tx: Tx, actor: Actor, deviceId: string, cred: DeviceCredentialInput): Promise<void> {
  const now = deps.clock.now();
  let kind: CredentialKind;
  let secret: string | null = null;
  let publicKey: string | null = null;
  let passwordRotation: { command: string } | null = null;
  if (cred.kind === 'certificate') {
    kind = 'certificate';
  } else if (cred.kind === 'key') {
    kind = 'key';
    const device = await tx.devices.byId(deviceId);
    const key = deps.deviceKeys.newLoginKey(loginKeyComment(device?.name ?? deviceId, now));
    secret = key.privateKey;
    publicKey = key.publicKeyLine;
  } else {
    kind = cred.password !== undefined ? 'password' : 'private_key';
    secret = cred.password ?? cred.privateKey ?? null;
    if (!secret) throw invalid('credential needs a password or a privateKey');
    if (cred.password !== undefined && cred.passwordRotation) {
      const command = cred.passwordRotation.command.trim();
      if (!command || /[\r\n]/.test(command) || command.length > 500) throw invalid('passwordRotation.command must be one line of at most 500 characters');
      passwordRotation = { command };
    }
  }
  const sealed = secret === null ? null : deps.vault.seal(secret, credentialAad(deviceId, cred.username));
  const { rotated } = await tx.credentials.upsert(deviceId, cred.username, kind, sealed, { publicKey, at: now, passwordRotation });
  await tx.audit.append(
    { ...auditActor(actor), action: rotated ? 'device.credential_rotated' : 'device.credential_set',
      subjectType: 'device', subjectId: deviceId,
      details: { username: cred.username, kind, ...(publicKey ? { publicKey } : {}), ...(passwordRotation ? { passwordRotation } : {}) } },
    now,
  );
}

export interface DeviceLoginUse {
  /** what the device's sshd logs for a certificate login; default `device-test:<deviceId>` */
  keyId?: string;
  /** the certificate also permits port forwarding (the device's policy allows it) */
  permitForwarding?: boolean;
}

/**
 * The login for one onward connection: the vaulted secret decrypted, or for a `certificate` device
 * a fresh key pair with its certificate (the issue is audited as `credential.issued`).
 */
export async function openDeviceLogin(deps: CoreDeps, deviceId: string, use: DeviceLoginUse = {}): Promise<DeviceCredential> {
  const record = await deps.store.read.credentials.record(deviceId);
  if (!record) throw conflict('device has no vaulted credential');
  if (record.kind !== 'certificate') {
    if (!record.sealed) throw conflict('device has no vaulted credential');
    const aad = credentialAad(deviceId, record.username);
    const secret = deps.vault.open(record.sealed, aad);
    // mid-rotation the device may already hold only the next key: offering both never locks the proxy out
    const pendingSecret = record.pending ? deps.vault.open(record.pending.sealed, aad) : undefined;
    return { username: record.username, kind: record.kind === 'password' ? 'password' : 'private_key', secret, ...(pendingSecret ? { pendingSecret } : {}) };
  }
  const now = deps.clock.now();
  const keyId = use.keyId ?? `device-test:${deviceId}`;
  const validAfter = new Date(now.getTime() - CERT_SKEW_MS);
  const validBefore = new Date(now.getTime() + CERT_LIFETIME_MS);
  const extensions = ['permit-pty', ...(use.permitForwarding ? ['permit-port-forwarding'] : [])];
  const issued = deps.deviceKeys.issueCertificate({ username: record.username, keyId, validAfter, validBefore, extensions });
  await deps.store.transaction((tx) => tx.audit.append(
    { actorType: 'system', actorId: 'proxy', action: 'credential.issued', subjectType: 'device', subjectId: deviceId,
      details: { kind: 'device_certificate', keyId, serial: issued.serial, keyFingerprint: issued.fingerprint,
        principal: record.username, validAfter: validAfter.toISOString(), validBefore: validBefore.toISOString(), extensions } },
    now,
  ));
  return { username: record.username, kind: 'certificate', secret: issued.privateKey, certificate: issued.certificate, keyId };
}
