// How the proxy logs in to a device (§8.4), for admins: what each credential kind is called, its
// setup on the device (the TrustedUserCAKeys line and the device CA key, or the public key to install),
// and the current credential with its age and rotation state. Secrets are never shown here.
import type { CredentialKind, Device, DeviceCaSetup } from '../api/types';
import { fmtTime } from '../lib/format';
import { useApi } from '../lib/hooks';
import { CopyBlock, ErrorBox, Loading } from './ui';

const DAY_MS = 86_400_000;

/** Whole days since `iso`. */
export const ageDays = (iso: string) => Math.max(0, Math.floor((Date.now() - Date.parse(iso)) / DAY_MS));

/** The credential kind in words: certificates and rotated keys hold nothing long-lived; the others are static secrets. */
export function credentialKindText(kind: CredentialKind | null): string {
  switch (kind) {
    case 'certificate': return 'device certificate (nothing stored)';
    case 'key': return 'rotated key (generated and rotated by the broker)';
    case 'password': return 'static secret (password)';
    case 'private_key': return 'static secret (private key)';
    default: return 'not set';
  }
}

/** Certificate mode: the device trusts the broker's device CA; no password, no authorized_keys. */
export function CertificateSetup({ username }: { username: string }) {
  const ca = useApi<DeviceCaSetup>('/api/device-ca');
  return (
    <div className="stack" data-testid="certificate-setup">
      <p className="small">
        On the device, as root: put the device CA's public key in <code>{ca.data?.caFile ?? '…'}</code> and add this line to{' '}
        <code>/etc/ssh/sshd_config</code>, then reload sshd. The login <code>{username.trim() || '<login name>'}</code> needs no password and
        no <code>authorized_keys</code>: each connection presents a fresh certificate, valid for at most 5 minutes, whose principal is
        the login name and whose key id names the session in the device's own auth log.
      </p>
      <ErrorBox error={ca.error} />
      {ca.loading && <Loading />}
      {ca.data && (
        <>
          <CopyBlock label="sshd_config line" text={ca.data.sshdConfig} testId="device-ca-sshd-config" />
          <CopyBlock label="Device CA public key" text={ca.data.publicKey} testId="device-ca-public-key" />
          <CopyBlock label="Commands (as root on the device)" text={ca.data.installCommands.join('\n')} />
        </>
      )}
    </div>
  );
}

/** Rotated-key mode: where the public key goes, and what the broker does with it afterwards. */
export function KeySetup({ username, publicKey }: { username: string; publicKey: string | null }) {
  const file = username.trim() ? `~${username.trim()}/.ssh/authorized_keys` : '~/.ssh/authorized_keys';
  return (
    <div className="stack" data-testid="key-setup">
      <p className="small">
        The broker generates an ed25519 key and keeps its private half in the vault. Install the public key as one line of{' '}
        <code>{file}</code> of the login user on the device. After every grant ends, and at least every few weeks, the broker adds a
        new key, proves a login with it, removes the old line and only then swaps the vaulted key.
      </p>
      {publicKey
        ? <CopyBlock label="Public key to install" text={publicKey} testId="key-to-install" />
        : <p className="small muted">The public key to install is shown here once the credential is saved.</p>}
    </div>
  );
}

/** Static secrets: what they are and why the report lists them. */
export function StaticSecretNote({ password }: { password: boolean }) {
  return (
    <p className="small muted" data-testid="static-setup">
      A static secret: it stays the same until someone replaces it, and the credentials report lists it with its age.
      {password ? ' A password can be rotated by the broker if the device lets this login change its own password (a rotation command below).' : ''}
      {' '}Prefer a device certificate, or a rotated key.
    </p>
  );
}

/** The device's current credential: its rotation flag, and what the device needs for it (its kind and age are on the trust record). */
export function CurrentCredential({ device }: { device: Device }) {
  const kind = device.credentialKind;
  const failure = device.credentialRotationFailure;
  const issued = device.credentialIssuedAt;
  return (
    <div className="stack" data-testid="current-credential">
      {failure && (
        <div className="alert alert-bad" data-testid="rotation-failed">
          Rotation failed {fmtTime(failure.at)}: {failure.reason}. The previous secret is still in place; check the device and run its connection test.
        </div>
      )}
      <p><strong>{credentialKindText(kind)}</strong>{issued && <span className="muted"> · {ageDays(issued)} days old</span>}</p>
      {kind === 'key' && <KeySetup username="" publicKey={device.credentialPublicKey} />}
      {kind === 'certificate' && <CertificateSetup username="" />}
    </div>
  );
}
