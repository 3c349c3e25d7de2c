/**
 * zod schemas for the shapes the API accepts. Strict objects: unknown fields are an error, not ignored.
 * A message here completes a sentence that starts with the field's name ("hostKey: must be …"); what a
 * schema does not word itself is worded by `humanIssue` (errors.ts).
 */
import ssh2 from 'ssh2';
import { z } from 'zod';
import { normaliseDevicePath } from '../core/transfer-policy.js';
import { CRITICALITIES, GRANT_REVIEW_OUTCOMES, GRANT_STATUSES, LIFECYCLE_STATES, REQUEST_STATUSES, ROLES, SESSION_END_REASONS } from '../core/types.js';

export const uuid = z.string().uuid('must be a UUID');
export const idParams = z.strictObject({ id: uuid });

const text = (max: number) => z.string().trim().min(1, 'must not be empty').max(max);

export const username = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^[a-z0-9][a-z0-9._-]{1,63}$/, 'may use lowercase letters, digits, dot, dash and underscore, 2 to 64 characters');
export const password = z.string().min(12, 'must be at least 12 characters').max(256);
const slackUserId = z.string().regex(/^[UW][A-Z0-9]{2,20}$/, 'must be a Slack user id such as U0123ABC');
const isoDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date YYYY-MM-DD')
  // Date.parse accepts 2099-02-30 (it rolls over): require the date to read back unchanged
  .refine((s) => !Number.isNaN(Date.parse(s)) && new Date(s).toISOString().slice(0, 10) === s, 'is not a real calendar date');

export const loginBody = z.strictObject({ username: z.string().trim().min(1).max(64), password: z.string().min(1).max(256) });
export const changePasswordBody = z.strictObject({ currentPassword: z.string().min(1).max(256), newPassword: password });

export const createUserBody = z.strictObject({
  username,
  displayName: text(200),
  roles: z.array(z.enum(ROLES)).min(1, 'needs at least one role'),
  vendorId: uuid.nullish(),
  department: text(200).nullish(),
  slackUserId: slackUserId.nullish(),
  password,
});
export const updateUserBody = z
  .strictObject({
    displayName: text(200),
    roles: z.array(z.enum(ROLES)).min(1, 'needs at least one role'),
    vendorId: uuid.nullable(),
    department: text(200).nullable(),
    slackUserId: slackUserId.nullable(),
    password,
    disabled: z.boolean(),
  })
  .partial()
  .refine((b) => Object.keys(b).length > 0, 'nothing to change');
export const listUsersQuery = z.strictObject({ role: z.enum(ROLES).optional(), vendorId: uuid.optional() });

/** vendor onboarding (§8.5): expiresAt defaults to the vendor's contract end */
export const createInvitationBody = z.strictObject({
  username,
  displayName: text(200),
  roles: z.array(z.enum(ROLES)).min(1, 'needs at least one role').default(['technician']),
  vendorId: uuid,
  expiresAt: z.iso.datetime({ offset: true, message: 'must be an ISO 8601 time with zone, e.g. 2026-12-31T23:59:59Z' }).transform((s) => new Date(s)).optional(),
});
export const invitationToken = z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'is not an invitation token');
export const acceptInvitationBody = z.strictObject({ token: invitationToken, password });

export const vendorBody = z.strictObject({ name: text(200), contractRef: text(200), contractEnd: isoDate });
export const updateVendorBody = vendorBody.partial().refine((b) => Object.keys(b).length > 0, 'nothing to change');

const looksPrivate = (s: string) => /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----|^PuTTY-User-Key-File/m.test(s);
/** what is wrong with a pasted public key line, in words for the person who pasted it */
function publicKeyProblem(line: string): string | null {
  if (looksPrivate(line)) return 'that looks like a private key — paste the public key (the .pub file) instead, and keep the private key to yourself';
  if (/^[\w@.-]+-cert-v01@openssh\.com /.test(line)) return 'that is a certificate — paste the plain public key (the .pub file without -cert)';
  return null;
}
const hostKey = z
  .string()
  .trim()
  .refine((line) => !looksPrivate(line), { error: (iss) => publicKeyProblem(String(iss.input)) ?? 'is not a public key', abort: true })
  .regex(/^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+={0,3}( .*)?$/,
    { error: 'must be one OpenSSH public key line, e.g. "ssh-ed25519 AAAA…" (what ssh-keyscan prints for the device)', abort: true })
  .refine((line) => !(ssh2.utils.parseKey(line) instanceof Error), 'is not a readable SSH public key: copy the whole line, without breaks')
  // keep the type and key only: a comment is not part of the device's identity
  .transform((line) => line.split(' ').slice(0, 2).join(' '));

/** what is wrong with a pasted device private key, in words for the admin who pasted it */
function privateKeyProblem(k: string): string | null {
  const parsed = ssh2.utils.parseKey(k);
  if (!(parsed instanceof Error) && !Array.isArray(parsed) && parsed.isPrivateKey()) return null;
  if (/^\s*(ssh-|ecdsa-)\S+ [A-Za-z0-9+/=]+/.test(k)) return 'that is a public key — paste the private key file (e.g. id_ed25519, not the .pub)';
  if (/ENCRYPTED|passphrase/i.test(`${k} ${parsed instanceof Error ? parsed.message : ''}`)) {
    return 'the key is protected by a passphrase: remove it (ssh-keygen -p) before vaulting the key';
  }
  return 'is not a readable SSH private key: paste the whole file, from -----BEGIN to -----END';
}
const privateKey = z
  .string()
  .max(16384)
  .refine((k) => privateKeyProblem(k) === null, { error: (iss) => privateKeyProblem(String(iss.input)) ?? 'is not valid' });

const loginName = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be a login name: letters, digits, dot, dash, underscore (at most 64)');
const credential = z.union([
  // §8.4: a fresh device-CA certificate per connection, or a broker-generated key the broker rotates
  z.strictObject({ kind: z.literal('certificate'), username: loginName }),
  z.strictObject({ kind: z.literal('key'), username: loginName }),
  z.strictObject({ username: loginName, password: z.string().min(1).max(1024),
    // §8.4: a chpasswd-style command run on the device; it reads `user:newpassword` on stdin
    passwordRotation: z.strictObject({ command: z.string().trim().min(1).max(500).regex(/^[^\r\n]*$/, 'must be one line') }).nullable().optional() }),
  z.strictObject({ username: loginName, privateKey }),
], { error: 'needs a login name and a kind or a secret: {kind: "certificate", username}, {kind: "key", username}, {username, password, passwordRotation?: {command}} or {username, privateKey}' });

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be a time HH:MM');
const timezone = z.string().refine((tz) => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}, 'must be an IANA time zone such as Europe/Berlin');
export const maintenanceWindow = z
  .strictObject({ days: z.array(z.number().int().min(1).max(7)).min(1).max(7), start: hhmm, end: hhmm, timezone })
  .refine((w) => w.start !== w.end, 'start and end must differ');

/** an absolute directory on the device, normalised (no `..`, no trailing slash) */
const devicePath = z.string().max(1024).refine((p) => normaliseDevicePath(p) !== null, 'must be an absolute path on the device, e.g. /opt/firmware')
  .transform((p) => normaliseDevicePath(p)!);
const sha256Hex = z.string().trim().toLowerCase().regex(/^[0-9a-f]{64}$/, 'must be a SHA-256 in hex (64 characters)');
export const artifactsBody = z.array(z.strictObject({
  name: text(255),
  sha256: sha256Hex,
  sizeBytes: z.number().int().min(0).max(2 ** 50).optional(),
})).max(50);

const policy = z.strictObject({
  maxSessionMinutes: z.number().int().min(1).max(1440),
  approvalsRequired: z.union([z.literal(1), z.literal(2)]),
  approverDepartment: text(200),
  maintenanceWindow: maintenanceWindow.nullable(),
  allowExec: z.boolean(),
  allowPortForwarding: z.boolean(),
  idleTimeoutMinutes: z.number().min(0).max(1440),
  supervision: z.enum(['none', 'required']),
  forwardPorts: z.array(z.number().int().min(1).max(65535)).max(32).transform((ports) => [...new Set(ports)].sort((a, b) => a - b)),
  allowUpload: z.boolean(),
  allowDownload: z.boolean(),
  transferPaths: z.array(devicePath).max(32).transform((paths) => [...new Set(paths)].sort()),
  maxTransferMiB: z.number().int().min(1).max(1048576),
  /** @deprecated alias: sets allowUpload and allowDownload (an explicit flag in the same body wins) */
  allowSftp: z.boolean(),
  breakGlass: z.boolean(),
  breakGlassMaxMinutes: z.number().int().min(1).max(240),
}).partial();

const deviceName = z.string().trim().toLowerCase().regex(/^[a-z0-9][a-z0-9._-]{1,62}$/, 'may use lowercase letters, digits, dot, dash and underscore, 2 to 63 characters');
const address = z.string().trim().regex(/^[A-Za-z0-9.:-]{1,253}$/, 'must be a host name or IP address');

export const createDeviceBody = z.strictObject({
  name: deviceName,
  manufacturer: text(200),
  model: text(200),
  serialNumber: text(200).nullish(),
  firmwareBaseline: text(200),
  department: text(200),
  clinicalPurpose: text(1000),
  criticality: z.enum(CRITICALITIES),
  address,
  sshPort: z.number().int().min(1).max(65535).optional(),
  hostKey: hostKey.nullish(),
  policy: policy.default({}),
  vendorIds: z.array(uuid).max(100).optional(),
  credential: credential.optional(),
});
export const updateDeviceBody = z
  .strictObject({
    manufacturer: text(200),
    model: text(200),
    serialNumber: text(200).nullable(),
    firmwareBaseline: text(200),
    department: text(200),
    clinicalPurpose: text(1000),
    criticality: z.enum(CRITICALITIES),
    address,
    sshPort: z.number().int().min(1).max(65535),
    hostKey: hostKey.nullable(),
    policy,
    vendorIds: z.array(uuid).max(100),
    credential,
  })
  .partial()
  .refine((b) => Object.keys(b).length > 0, 'nothing to change');
export const listDevicesQuery = z.strictObject({
  vendorId: uuid.optional(),
  department: z.string().max(200).optional(),
  state: z.enum(LIFECYCLE_STATES).optional(),
});
export const lifecycleBody = z.strictObject({ state: z.enum(LIFECYCLE_STATES), reason: text(2000) });

/** §8.4: confirms the re-pin of the device's pending host key, named by its fingerprint */

export const auditQuery = z.strictObject({
  afterSeq: z.coerce.number().int().min(0).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  action: z.string().regex(/^[a-z_.]+$/).max(100).optional(),
  subjectType: z.string().regex(/^[a-z_]+$/).max(50).optional(),
  subjectId: z.string().max(100).optional(),
  actorId: z.string().max(100).optional(),
});

export const createRequestBody = z.strictObject({
  deviceId: uuid,
  reason: text(2000),
  ticketRef: text(200),
  startsAt: z.iso.datetime({ offset: true, message: 'must be an ISO 8601 time with zone, e.g. 2026-12-01T09:00:00Z' }).transform((s) => new Date(s)).optional(),
  durationMinutes: z.number().int().min(1).max(1440),
  /** the files the vendor will deliver, with their published SHA-256 (§8.3) */
  artifacts: artifactsBody.optional(),
});
export const listRequestsQuery = z.strictObject({
  status: z.enum(REQUEST_STATUSES).optional(),
  deviceId: uuid.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});
// §8.5 second factors: passkey responses as @simplewebauthn/browser sends them (the broker verifies them)
const base64url = (max: number) => z.string().min(1).max(max).regex(/^[A-Za-z0-9_-]+$/, 'must be base64url');
const passkeyId = base64url(1400);
export const passkeyParams = z.strictObject({ id: passkeyId });
const clientExtensionResults = z.record(z.string(), z.unknown()).default({});
const authenticatorAttachment = z.enum(['platform', 'cross-platform']).optional();
export const authenticationResponse = z.object({
  id: passkeyId, rawId: passkeyId, type: z.literal('public-key'), authenticatorAttachment, clientExtensionResults,
  response: z.object({ clientDataJSON: base64url(8000), authenticatorData: base64url(8000), signature: base64url(2000), userHandle: base64url(1000).optional() }),
});
export const registrationResponse = z.object({
  id: passkeyId, rawId: passkeyId, type: z.literal('public-key'), authenticatorAttachment, clientExtensionResults,
  response: z.object({
    clientDataJSON: base64url(8000), attestationObject: base64url(16000), authenticatorData: base64url(8000).optional(),
    transports: z.array(z.enum(['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb'])).max(10).optional(),
    publicKeyAlgorithm: z.number().int().optional(), publicKey: base64url(8000).optional(),
  }),
});
export const totpCode = z.string().trim().regex(/^\d{6}$/, 'must be the 6 digits the authenticator app shows');
const recoveryCode = z.string().trim().min(8).max(64);
/** one MFA proof: a code from the authenticator app, a recovery code, or a passkey's response */
export const stepUpProof = z.union([
  z.strictObject({ code: totpCode }),
  z.strictObject({ recoveryCode }),
  z.strictObject({ webauthn: authenticationResponse }),
], { error: 'needs one of {code}, {recoveryCode} or {webauthn}' });
const mfaToken = z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'is not a sign-in token');
export const loginMfaBody = z
  .strictObject({ mfaToken, code: totpCode.optional(), recoveryCode: recoveryCode.optional(), webauthn: authenticationResponse.optional() })
  .refine((b) => [b.code, b.recoveryCode, b.webauthn].filter((x) => x !== undefined).length === 1,
    'needs exactly one of code, recoveryCode or webauthn');
export const loginPasskeyOptionsBody = z.strictObject({ mfaToken });
export const confirmTotpBody = z.strictObject({ code: totpCode });
const passkeyName = z.string().trim().min(1).max(100).optional();
export const passkeyOptionsBody = z.strictObject({ name: passkeyName });
export const registerPasskeyBody = z.strictObject({ response: registrationResponse, name: passkeyName });
/** changing one's own factors: an MFA proof unless the sign-in's own is recent */
export const repinHostKeyBody = z.strictObject({
  fingerprint: z.string().regex(/^SHA256:[A-Za-z0-9+/]{43}$/, 'must be a SHA256 fingerprint (SHA256:…, 43 characters)'),
  stepUp: stepUpProof.optional(),
});
export const factorChangeBody = z.strictObject({ stepUp: stepUpProof.optional() });

export const decisionBody = z.strictObject({ comment: z.string().trim().max(2000).optional(), stepUp: stepUpProof.optional() });
export const revokeBody = z.strictObject({ reason: text(2000) });
export const extendBody = z.strictObject({
  minutes: z.number().int().min(1).max(1440),
  reason: text(2000),
  ticketRef: text(200).optional(),
});
/** a version string as the vendor prints it: no control or format characters (they would hide in the audit log) */
const firmwareVersion = text(200).regex(/^\P{C}+$/u, 'must be printable characters only (no control characters)');
export const firmwareBody = z.strictObject({
  version: firmwareVersion,
  /** what was installed and why, as the technician reports it; line breaks allowed */
  note: z.string().trim().max(1000).regex(/^(?:[^\p{C}]|[\n\t])*$/u, 'must be printable text (line breaks allowed)').nullish(),
});
export const listGrantsQuery = z.strictObject({
  status: z.enum(GRANT_STATUSES).optional(),
  /** `true`: break-glass grants only; `unreviewed`: those still waiting for their review */
  emergency: z.enum(['true', 'unreviewed']).transform((v) => (v === 'true' ? 'emergency' as const : 'unreviewed' as const)).optional(),
  deviceId: uuid.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

export const certificateBody = z.strictObject({
  publicKey: z.string().trim().min(1).max(16384)
    .refine((k) => publicKeyProblem(k) === null, { error: (iss) => publicKeyProblem(String(iss.input)) ?? 'is not valid' }),
});
export const listSessionsQuery = z.strictObject({
  grantId: uuid.optional(),
  deviceId: uuid.optional(),
  technicianId: uuid.optional(),
  vendorId: uuid.optional(),
  endReason: z.enum(SESSION_END_REASONS).optional(),
  live: z.enum(['true', 'false']).transform((v) => v === 'true').optional(),
  from: z.iso.datetime({ offset: true }).transform((s) => new Date(s)).optional(),
  to: z.iso.datetime({ offset: true }).transform((s) => new Date(s)).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});
export const listTransfersQuery = z.strictObject({
  deviceId: uuid.optional(),
  sessionId: uuid.optional(),
  sha256: sha256Hex.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});
export const terminateBody = z.strictObject({ reason: text(2000) });

export const breakGlassBody = z.strictObject({
  deviceId: uuid,
  reason: text(2000),
  durationMinutes: z.number().int().min(1).max(240),
  ticketRef: text(200).optional(),
});
export const reviewBody = z.strictObject({
  outcome: z.enum(GRANT_REVIEW_OUTCOMES),
  comment: text(2000),
});
