/**
 * Technician authentication at the SSH proxy: OpenSSH user certificates only. The certificate is
 * verified in full here (CA signature over its bytes, type, validity, principal, critical options),
 * then the client's signature over the session, then the grant in the database. Plain keys are
 * refused quietly (OpenSSH offers them before the certificate); every other refusal is audited.
 */
import type ssh2 from 'ssh2';
import { isAppError } from '../server/core/errors.js';
import type { CoreDeps } from '../server/core/ports.js';
import { auditAuthFailure, authorizeConnection, type ConnectionGrant } from '../server/core/sessions.js';
import { verifySshSignature, verifyUserCertificate, type ParsedCertificate } from '../server/crypto/ssh-cert.js';

const CERT_SUFFIX = '-cert-v01@openssh.com';

export interface AuthContextInfo {
  clientAddress: string | null;
}

export type AuthOutcome =
  | { kind: 'accepted'; conn: ConnectionGrant; cert: ParsedCertificate }
  | { kind: 'continue' } // key acceptable, waiting for the signed attempt
  | { kind: 'refused'; reason: string; audited: boolean };

export async function authenticateTechnician(
  deps: CoreDeps,
  caPublicKeyBlob: Buffer,
  ctx: ssh2.AuthContext,
  info: AuthContextInfo,
): Promise<AuthOutcome> {
  if (ctx.method !== 'publickey') return { kind: 'refused', reason: `method ${ctx.method}`, audited: false };
  if (!ctx.key.algo.endsWith(CERT_SUFFIX)) return { kind: 'refused', reason: 'plain public key', audited: false };
  const now = deps.clock.now();
  const failure = async (reason: string, cert?: ParsedCertificate): Promise<AuthOutcome> => {
    await auditAuthFailure(deps, {
      reason, principal: ctx.username, clientAddress: info.clientAddress,
      ...(cert ? { keyId: cert.keyId, serial: cert.serial.toString(), keyFingerprint: cert.publicKey.fingerprint } : {}),
    });
    return { kind: 'refused', reason, audited: true };
  };
  const checked = verifyUserCertificate(ctx.key.data, {
    caPublicKeyBlob, principal: ctx.username, now, clientAddress: info.clientAddress ?? undefined,
  });
  if (!checked.ok) return failure(checked.reason);
  const cert = checked.cert;
  if (!ctx.signature) return { kind: 'continue' };
  if (verifySshSignature(cert.publicKey.keyObject, ctx.key.algo, ctx.signature, ctx.blob!) !== true) {
    return failure('bad signature', cert);
  }
  try {
    const conn = await authorizeConnection(deps, { grantId: cert.keyId, principal: ctx.username, serial: Number(cert.serial) });
    return { kind: 'accepted', conn, cert };
  } catch (err) {
    if (isAppError(err)) return failure(err.message, cert);
    throw err;
  }
}
