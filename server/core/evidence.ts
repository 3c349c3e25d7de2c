/**
 * The evidence bundle of one grant (§8.7): everything an auditor needs to show what a vendor did on a
 * device and who let them, in one JSON document that verifies offline.
 *
 * Invariants: the document holds the contiguous stretch of the audit log from the first to the last
 * event concerning the grant (its request, the grant, its sessions) — whole events, so every hash can
 * be recomputed and every link checked — and a checkpoint signed over the last of them, issued only
 * after the whole log up to it verified. The whole document is signed too: a JWS (RFC 7515, EdDSA)
 * with a detached payload, the payload being the canonical JSON (audit-chain.ts canonicalJson) of the
 * document without its `signature` member, signed with the audit checkpoint key. Readable by auditors,
 * admins and approvers of the device's department; every export is itself audited.
 */
import { hasRole, requireUser } from './access.js';
import { mayOversee } from './scope.js';
import { canonicalJson, createChainVerifier } from './audit-chain.js';
import { signCheckpoint, type AuditCheckpoint } from './audit-checkpoint.js';
import { conflict, forbidden, notFound } from './errors.js';
import type { CoreDeps } from './ports.js';
import { BUNDLE_LINES, SESSION_LINES, type OmittedLines, type TypedLinesSource } from './evidence-typed-lines.js';
import type { TimedLine } from './typed-lines.js';
import type { AuditEvent, CredentialIssue, Decision, Device, Grant, Recording, Session, Transfer, User, AccessRequest } from './types.js';

export const EVIDENCE_KIND = 'portcullis.evidence.v1';

export interface PersonRef {
  id: string;
  username: string;
  displayName: string;
}

export interface EvidenceSession extends Session {
  recording: (Omit<Recording, 'path'> & { file: string }) | null;
  /** what the technician typed, line by line (null when there is no readable recording); bounded as
   * core/evidence-typed-lines.ts says */
  typedLines: TimedLine[] | null;
  /** the typed lines left out of `typedLines` (they are in the recording), or null when none were */
  typedLinesOmitted: OmittedLines | null;
}

export interface EvidenceDocument {
  kind: typeof EVIDENCE_KIND;
  generatedAt: string;
  generatedBy: PersonRef;
  grant: Grant;
  request: AccessRequest;
  technician: PersonRef & { vendor: { id: string; name: string } | null };
  device: Pick<Device, 'id' | 'name' | 'manufacturer' | 'model' | 'serialNumber' | 'department' | 'criticality' | 'clinicalPurpose' | 'firmwareBaseline'>;
  decisions: (Decision & { approver: PersonRef | null })[];
  credentialsIssued: CredentialIssue[];
  sessions: EvidenceSession[];
  transfers: Transfer[];
  audit: {
    /** the seqs of the events that concern this grant */
    concerning: number[];
    /** every event from the first to the last concerning one, in seq order */
    events: AuditEvent[];
  };
  checkpoint: AuditCheckpoint;
}

export interface EvidenceSignature {
  alg: 'EdDSA';
  /** compact JWS with a detached payload: `<header>..<signature>` */
  jws: string;
  /** base64 of the 32 raw bytes of the audit checkpoint key */
  publicKey: string;
}

export type SignedEvidence = EvidenceDocument & { signature: EvidenceSignature };

const b64url = (b: Buffer) => b.toString('base64url');

/** The JWS over the canonical JSON of `doc`, payload detached. */
export function signEvidence(deps: Pick<CoreDeps, 'checkpointKey'>, doc: EvidenceDocument): SignedEvidence {
  const key = deps.checkpointKey;
  if (!key) throw conflict('this broker has no audit checkpoint key');
  // the document as it will travel (dates as ISO strings), then canonical bytes
  const plain = JSON.parse(JSON.stringify(doc)) as EvidenceDocument;
  const header = b64url(Buffer.from(JSON.stringify({ alg: 'EdDSA', typ: 'JWT', cty: 'portcullis-evidence+json', kid: key.publicKey })));
  const signingInput = `${header}.${b64url(Buffer.from(canonicalJson(plain), 'utf8'))}`;
  const signature = Buffer.from(key.sign(Buffer.from(signingInput, 'ascii')), 'base64');
  return { ...plain, signature: { alg: 'EdDSA', jws: `${header}..${b64url(signature)}`, publicKey: key.publicKey } };
}

const ref = (u: User | null): PersonRef | null => (u ? { id: u.id, username: u.username, displayName: u.displayName } : null);

/** The stretch of the log [from, to], after checking the whole chain up to `to`. */
async function auditStretch(deps: CoreDeps, from: number, to: number): Promise<AuditEvent[]> {
  const chain = createChainVerifier();
  const out: AuditEvent[] = [];
  for (let after = 0; after < to;) {
    const page = await deps.store.read.audit.list({ afterSeq: after, limit: 1000 });
    if (page.length === 0) break;
    for (const e of page) {
      if (e.seq > to) break;
      chain.push(e);
      if (e.seq >= from) out.push(e);
    }
    after = page[page.length - 1]!.seq;
  }
  if (chain.firstBadSeq !== undefined) throw conflict(`the audit log does not verify at event ${chain.firstBadSeq}: no evidence is signed over it`, { firstBadSeq: chain.firstBadSeq });
  if (out.length === 0 || out[out.length - 1]!.seq !== to) throw conflict('the audit log ends before the events of this grant');
  return out;
}

/** Builds, checkpoints and signs the evidence of one grant. */
export async function grantEvidence(deps: CoreDeps, actor: Parameters<typeof requireUser>[0], grantId: string, typedLinesOf: TypedLinesSource): Promise<SignedEvidence> {
  const user = requireUser(actor);
  const read = deps.store.read;
  const grant = await read.grants.byId(grantId);
  if (!grant) throw notFound('grant');
  const device = await read.devices.byId(grant.deviceId);
  if (!device) throw notFound('device');
  if (!mayOversee(user, device.policy.approverDepartment)) throw hasRole(user, 'approver') ? notFound('grant') : forbidden('requires the auditor or admin role, or approval rights on the device');
  if (!deps.checkpointKey) throw conflict('this broker has no audit checkpoint key');

  const now = deps.clock.now();
  // the export is audited before it is built, so it is part of what it exports
  await deps.store.transaction((tx) => tx.audit.append(
    { actorType: 'user', actorId: user.id, action: 'grant.evidence_exported', subjectType: 'grant', subjectId: grant.id, details: { deviceName: device.name } },
    now,
  ));

  const request = await read.requests.byId(grant.requestId);
  if (!request) throw notFound('access request');
  const tech = await read.users.byId(grant.technicianId);
  const vendorId = grant.vendorId ?? tech?.vendorId ?? null;
  const vendor = vendorId ? await read.vendors.byId(vendorId) : null;
  const decisions = await read.decisions.forRequest(request.id);
  const people = new Map<string, PersonRef | null>();
  for (const d of decisions) if (!people.has(d.approverId)) people.set(d.approverId, ref(await read.users.byId(d.approverId)));
  const sessions = await read.sessions.list({ grantId: grant.id, limit: 10_000 });
  sessions.sort((a, b) => a.startedAt.getTime() - b.startedAt.getTime());
  const evSessions: EvidenceSession[] = [];
  let linesLeft = BUNDLE_LINES;
  const transfers: Transfer[] = [];
  for (const s of sessions) {
    const rec = await read.recordings.bySession(s.id);
    const typed = rec ? await typedLinesOf(rec.path, Math.min(SESSION_LINES, linesLeft)) : null;
    if (typed) linesLeft -= typed.lines.length;
    const { path: _path, ...recMeta } = rec ?? ({} as Recording);
    evSessions.push({
      ...s,
      recording: rec ? { ...recMeta, file: `session-${s.id}.cast` } : null,
      typedLines: typed?.lines ?? null,
      typedLinesOmitted: typed?.omitted ?? null,
    });
    transfers.push(...(await read.transfers.forSession(s.id)));
  }

  const subjects: [string, string][] = [['grant', grant.id], ['access_request', request.id], ...sessions.map((s): [string, string] => ['session', s.id])];
  const concerning = new Set<number>();
  for (const [subjectType, subjectId] of subjects) {
    for (const e of await read.audit.list({ subjectType, subjectId, limit: 100_000 })) concerning.add(e.seq);
  }
  const seqs = [...concerning].sort((a, b) => a - b);
  const events = await auditStretch(deps, seqs[0]!, seqs[seqs.length - 1]!);
  const last = events[events.length - 1]!;
  const checkpoint = signCheckpoint(deps.checkpointKey, { seq: last.seq, hash: last.hash }, now);

  const doc: EvidenceDocument = {
    kind: EVIDENCE_KIND,
    generatedAt: now.toISOString(),
    generatedBy: ref(user)!,
    grant,
    request,
    technician: { ...(ref(tech) ?? { id: grant.technicianId, username: '(unknown)', displayName: '(unknown)' }), vendor: vendor ? { id: vendor.id, name: vendor.name } : null },
    device: {
      id: device.id, name: device.name, manufacturer: device.manufacturer, model: device.model, serialNumber: device.serialNumber,
      department: device.department, criticality: device.criticality, clinicalPurpose: device.clinicalPurpose, firmwareBaseline: device.firmwareBaseline,
    },
    decisions: decisions.map((d) => ({ ...d, approver: people.get(d.approverId) ?? null })),
    credentialsIssued: await read.credentialIssues.forGrant(grant.id),
    sessions: evSessions,
    transfers,
    audit: { concerning: seqs, events },
    checkpoint,
  };
  return signEvidence(deps, doc);
}
