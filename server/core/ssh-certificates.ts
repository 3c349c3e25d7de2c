/**
 * Ephemeral OpenSSH user certificates for an active grant. Invariants: principal = the device name,
 * key id = the grant id, valid only until the grant ends; only the grant's technician, only while
 * the grant is active; each issue is recorded (serial, fingerprint, validity) and audited. The
 * certificate itself is never stored.
 */
import { auditActor, requireRole } from './access.js';
import { conflict, notFound } from './errors.js';
import type { CoreDeps } from './ports.js';
import type { Actor } from './types.js';

export interface IssuedCertificate {
  certificate: string;
  serial: number;
  principal: string;
  keyFingerprint: string;
  validAfter: Date;
  validBefore: Date;
  sshCommand: string;
  knownHostsLine: string;
}

/** OpenSSH loads `<key>-cert.pub` beside the key; we name the default key file of the key type. */
const defaultKeyFile: Record<string, string> = {
  'ssh-ed25519': '~/.ssh/id_ed25519',
  'ssh-rsa': '~/.ssh/id_rsa',
};

export async function issueSshCertificate(deps: CoreDeps, actor: Actor, grantId: string, publicKeyLine: string): Promise<IssuedCertificate> {
  const tech = requireRole(actor, 'technician');
  const key = deps.ca.inspectPublicKey(publicKeyLine);
  const now = deps.clock.now();
  return deps.store.transaction(async (tx) => {
    const grant = await tx.grants.byId(grantId);
    if (!grant || grant.technicianId !== tech.id) throw notFound('grant');
    if (grant.status !== 'active' || grant.endsAt <= now) throw conflict(`grant is ${grant.status}; certificates are issued only for an active grant`);
    const device = (await tx.devices.byId(grant.deviceId))!;
    if (device.lifecycleState !== 'deployed') throw conflict(`device ${device.name} is ${device.lifecycleState}`);
    const validAfter = new Date(now.getTime() - 60_000);
    const issue = await tx.credentialIssues.insert({
      grantId, kind: 'ssh_certificate', keyFingerprint: key.fingerprint, tokenId: null,
      validAfter, validBefore: grant.endsAt, issuedAt: now,
    });
    const extensions = ['permit-pty', ...(device.policy.allowPortForwarding ? ['permit-port-forwarding'] : [])];
    const certificate = deps.ca.signUserCertificate({
      publicKeyLine, serial: issue.serial, keyId: grant.id, principals: [device.name],
      validAfter, validBefore: grant.endsAt, extensions,
    });
    await tx.audit.append(
      { ...auditActor(actor), action: 'credential.issued', subjectType: 'grant', subjectId: grant.id,
        details: { kind: 'ssh_certificate', serial: issue.serial, keyFingerprint: key.fingerprint, keyType: key.type,
          principal: device.name, validBefore: grant.endsAt.toISOString() } },
      now,
    );
    const { host, port, hostKeyLine } = deps.sshEndpoint;
    const keyFile = defaultKeyFile[key.type] ?? '~/.ssh/id_ecdsa';
    return {
      certificate,
      serial: issue.serial,
      principal: device.name,
      keyFingerprint: key.fingerprint,
      validAfter,
      validBefore: grant.endsAt,
      sshCommand: `ssh -p ${port} -i ${keyFile} -o CertificateFile=${keyFile}-cert.pub ${device.name}@${host}`,
      knownHostsLine: `[${host}]:${port} ${hostKeyLine}`,
    };
  });
}
