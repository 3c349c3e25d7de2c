/**
 * Technician authentication at the SSH proxy: OpenSSH user certificates only. The certificate is
 * verified in full here (CA signature over its bytes, type, validity, principal, critical options),
 * then the client's signature over the session, then the grant in the database. Plain keys are
 * refused quietly (OpenSSH offers them before the certificate); every other refusal is audited,
 * through the caller's aggregating recorder (one audit event per source address and minute).
 * A refusal because the grant was revoked, has ended or has not started carries a banner saying so,
 * but only once both the CA's signature and the client's have verified: knowing a grant id is not enough.
 */
import type ssh2 from 'ssh2';
import { isAppError } from '../server/core/errors.js';
import type { CoreDeps } from '../server/core/ports.js';
import { authorizeConnection, grantRefusalNotice, type ConnectionGrant } from '../server/core/sessions.js';
import { verifySshSignature, verifyUserCertificate, type ParsedCertificate } from '../server/crypto/ssh-cert.js';
import type { Refusal } from './refusal-audit.js';

const CERT_SUFFIX = '-cert-v01@openssh.com';

export interface AuthContextInfo {
  clientAddress: string | null;
  /** audits a refusal (aggregated: see refusal-audit.ts) */
  recordRefusal(r: Refusal): Promise<void>;
}

export type AuthOutcome =
  | { kind: 'accepted'; conn: ConnectionGrant; cert: ParsedCertificate }
  | { kind: 'continue' } // key acceptable, waiting for the signed attempt
  /** `banner`: why, for the technician (revoked, ended, not started): only to a proven holder of a genuine certificate */
  | { kind: 'refused'; reason: string; audited: boolean; banner?: string };

export async function authenticateTechnician(
  deps: CoreDeps,
  caPublicKeyBlob: Buffer,
  ctx: ssh2.AuthContext,
  info: AuthContextInfo,
): Promise<AuthOutcome> {
  if (ctx.method !== 'publickey') return { kind: 'refused', reason: `method ${ctx.method}`, audited: false };
  // a request cut short after its flag leaves ssh2's key algo undefined (found by test/security/fuzz.test.ts)
  if (typeof ctx.key.algo !== 'string' || !ctx.key.algo.endsWith(CERT_SUFFIX)) return { kind: 'refused', reason: 'plain public key', audited: false };
  const now = deps.clock.now();
  const failure = async (reason: string, cert?: ParsedCertificate): Promise<AuthOutcome> => {
    await info.recordRefusal({
      // PostgreSQL refuses NUL in jsonb: one such name would lose the whole aggregated event (test/security/fuzz.test.ts)
      reason, principal: ctx.username.replace(/\0/g, '\ufffd'), clientAddress: info.clientAddress,
      ...(cert ? { keyId: cert.keyId, serial: cert.serial.toString(), keyFingerprint: cert.publicKey.fingerprint } : {}),
    });
    return { kind: 'refused', reason, audited: true };
  };
  const checked = verifyUserCertificate(ctx.key.data, {
    caPublicKeyBlob, principal: ctx.username, now, clientAddress: info.clientAddress ?? undefined,
  });
  // our CA's certificate, refused only for its window (the grant ended): its holder may learn why
  if (!checked.ok && !checked.genuine) return failure(checked.reason);
  const cert = checked.ok ? checked.cert : checked.genuine!;
  if (!ctx.signature) return { kind: 'continue' };
  if (verifySshSignature(cert.publicKey.keyObject, ctx.key.algo, ctx.signature, ctx.blob!) !== true) {
    return failure('bad signature', cert);
  }
  // from here the caller holds the key of a certificate we issued for this grant
  const explained = async (reason: string): Promise<AuthOutcome> => {
    const outcome = await failure(reason, cert);
    const banner = await grantRefusalNotice(deps, { grantId: cert.keyId, principal: ctx.username, serial: Number(cert.serial) });
    return banner && outcome.kind === 'refused' ? { ...outcome, banner } : outcome;
  };
  if (!checked.ok) return explained(checked.reason);
  try {
    const conn = await authorizeConnection(deps, { grantId: cert.keyId, principal: ctx.username, serial: Number(cert.serial) });
    return { kind: 'accepted', conn, cert };
  } catch (err) {
    if (isAppError(err)) return explained(err.message);
    throw err;
  }
}
