/**
 * Ephemeral OpenSSH user certificates for an active grant. Invariants: principal = the device name,
 * key id = the grant id, valid only until the grant ends; only the grant's technician, only while
 * the grant is active; each issue is recorded (serial, fingerprint, validity) and audited. The
 * certificate itself is never stored.
 */
import { auditActor, requireRole, requireUser } from './access.js';
import { conflict, notFound } from './errors.js';
import type { CoreDeps, SshEndpoint } from './ports.js';
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

/** The certificate extension that marks a break-glass grant's certificate. */
export const EMERGENCY_EXTENSION = 'break-glass@portcullis';

/**
 * The one known_hosts line that makes OpenSSH trust every proxy host key our host CA certifies:
 * `@cert-authority [host]:port <ca key>` (plain `host` on port 22, as OpenSSH writes it).
 */
export function knownHostsLine(endpoint: SshEndpoint): string {
  const pattern = endpoint.port === 22 ? endpoint.host : `[${endpoint.host}]:${endpoint.port}`;
  return `@cert-authority ${pattern} ${endpoint.hostCaLine}`;
}

/** How technicians trust the proxy once: for the console and scripts (any signed-in user). */
export function sshKnownHosts(deps: CoreDeps, actor: Actor): { host: string; port: number; knownHostsLine: string } {
  requireUser(actor);
  const { host, port } = deps.sshEndpoint;
  return { host, port, knownHostsLine: knownHostsLine(deps.sshEndpoint) };
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
    const extensions = ['permit-pty', ...(device.policy.allowPortForwarding ? ['permit-port-forwarding'] : []),
      // break-glass: the certificate itself says so (`ssh-keygen -L` shows it; clients and our proxy ignore it)
      ...(grant.emergency ? [EMERGENCY_EXTENSION] : [])];
    const certificate = deps.ca.signUserCertificate({
      publicKeyLine, serial: issue.serial, keyId: grant.id, principals: [device.name],
      validAfter, validBefore: grant.endsAt, extensions,
    });
    await tx.audit.append(
      { ...auditActor(actor), action: 'credential.issued', subjectType: 'grant', subjectId: grant.id,
        details: { kind: 'ssh_certificate', serial: issue.serial, keyFingerprint: key.fingerprint, keyType: key.type,
          principal: device.name, validBefore: grant.endsAt.toISOString(), ...(grant.emergency ? { emergency: true } : {}) } },
      now,
    );
    const { host, port } = deps.sshEndpoint;
    const keyFile = defaultKeyFile[key.type] ?? '~/.ssh/id_ecdsa';
    return {
      certificate,
      serial: issue.serial,
      principal: device.name,
      keyFingerprint: key.fingerprint,
      validAfter,
      validBefore: grant.endsAt,
      sshCommand: `ssh -p ${port} -i ${keyFile} -o CertificateFile=${keyFile}-cert.pub ${device.name}@${host}`,
      knownHostsLine: knownHostsLine(deps.sshEndpoint),
    };
  });
}
