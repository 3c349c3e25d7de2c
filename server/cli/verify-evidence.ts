/**
 * `portcullis-verify evidence.json [--public-key <base64>]`: checks a grant's evidence bundle offline.
 * - the JWS (EdDSA, detached payload) over the canonical JSON of the document without `signature`;
 * - the signed audit checkpoint, and that it names the last event of the bundle;
 * - every audit event's hash against its contents and every link to the event before it;
 * - each recording's SHA-256, when its `.cast` file (named as in the bundle) lies beside the JSON.
 * The key the bundle names is only trusted as far as `--public-key` pins it (the broker's key is in
 * `GET /api/audit/checkpoint`); without a pin the bundle proves integrity, not origin.
 * Exit status 0 when every check passed, 1 when one failed (each reason printed), 2 on bad usage.
 */
import { createHash, createPublicKey, verify as verifySignature } from 'node:crypto';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { compactVerify, importJWK } from 'jose';
import { canonicalJson, createChainVerifier } from '../core/audit-chain.js';
import { checkpointMessage } from '../core/audit-checkpoint.js';
import type { AuditEvent } from '../core/types.js';

export interface Check {
  ok: boolean;
  what: string;
}

interface Bundle {
  kind?: string;
  signature?: { alg?: string; jws?: string; publicKey?: string };
  checkpoint?: { seq: number; hash: string; signature: string; publicKey: string };
  audit?: { concerning?: number[]; events?: (Omit<AuditEvent, 'at'> & { at: string })[] };
  sessions?: { id: string; recording: { file: string; sha256: string | null } | null }[];
  [key: string]: unknown;
}

const SPKI_ED25519 = Buffer.from('302a300506032b6570032100', 'hex');

function rawKeyValid(b64: string): boolean {
  return Buffer.from(b64, 'base64').length === 32;
}

async function checkJws(bundle: Bundle, key: string): Promise<Check> {
  const sig = bundle.signature;
  if (!sig?.jws || sig.alg !== 'EdDSA') return { ok: false, what: 'the bundle carries no EdDSA signature' };
  const [header, empty, signature, extra] = sig.jws.split('.');
  if (!header || empty !== '' || !signature || extra !== undefined) return { ok: false, what: 'the signature is not a compact JWS with a detached payload' };
  const { signature: _omit, ...doc } = bundle;
  const payload = Buffer.from(canonicalJson(doc), 'utf8').toString('base64url');
  try {
    const jwk = await importJWK({ kty: 'OKP', crv: 'Ed25519', x: Buffer.from(key, 'base64').toString('base64url') }, 'EdDSA');
    await compactVerify(`${header}.${payload}.${signature}`, jwk, { algorithms: ['EdDSA'] });
    return { ok: true, what: 'the document\'s signature verifies (JWS EdDSA, detached payload)' };
  } catch {
    return { ok: false, what: 'the document\'s signature does not verify: the bundle was changed after it was signed' };
  }
}

function checkCheckpoint(bundle: Bundle, key: string, events: AuditEvent[]): Check {
  const cp = bundle.checkpoint;
  if (!cp) return { ok: false, what: 'the bundle has no audit checkpoint' };
  const pub = createPublicKey({ key: Buffer.concat([SPKI_ED25519, Buffer.from(key, 'base64')]), format: 'der', type: 'spki' });
  let signed = false;
  try {
    signed = cp.publicKey === key && verifySignature(null, checkpointMessage(cp.seq, cp.hash), pub, Buffer.from(cp.signature, 'base64'));
  } catch {
    signed = false;
  }
  if (!signed) return { ok: false, what: 'the audit checkpoint\'s signature does not verify with the key' };
  const last = events[events.length - 1];
  if (!last || last.seq !== cp.seq || last.hash !== cp.hash) return { ok: false, what: `the audit checkpoint (event ${cp.seq}) does not name the last event of the bundle` };
  return { ok: true, what: `the audit checkpoint over event ${cp.seq} is signed by the key` };
}

function checkChain(bundle: Bundle): { checks: Check[]; events: AuditEvent[] } {
  const raw = bundle.audit?.events ?? [];
  if (raw.length === 0) return { checks: [{ ok: false, what: 'the bundle holds no audit events' }], events: [] };
  const events = raw.map((e) => ({ ...e, at: new Date(e.at) }) as AuditEvent);
  const chain = createChainVerifier({ seq: events[0]!.seq - 1, hash: events[0]!.prevHash });
  for (const e of events) chain.push(e);
  const checks: Check[] = [];
  if (chain.firstBadSeq !== undefined) {
    checks.push({ ok: false, what: `audit event ${chain.firstBadSeq} does not match its hash or does not link to the event before it: it was altered` });
  } else {
    checks.push({ ok: true, what: `${events.length} audit events (${events[0]!.seq}–${events[events.length - 1]!.seq}) match their hashes and link in order` });
  }
  const have = new Set(events.map((e) => e.seq));
  const missing = (bundle.audit?.concerning ?? []).filter((s) => !have.has(s));
  if (missing.length > 0) checks.push({ ok: false, what: `events ${missing.join(', ')} are named as concerning the grant but are not in the bundle` });
  return { checks, events };
}

/** SHA-256 of a file read as a stream: recordings can be larger than one Buffer (2 GiB) */
async function fileSha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function checkRecordings(bundle: Bundle, dir: string): Promise<Check[]> {
  const out: Check[] = [];
  for (const s of bundle.sessions ?? []) {
    const rec = s.recording;
    if (!rec) continue;
    const name = path.basename(rec.file);
    const file = path.join(dir, name);
    if (!existsSync(file)) {
      out.push({ ok: true, what: `recording ${name}: not beside the bundle, not checked` });
      continue;
    }
    const sha = await fileSha256(file);
    out.push(sha === rec.sha256
      ? { ok: true, what: `recording ${name}: SHA-256 matches` }
      : { ok: false, what: `recording ${name}: SHA-256 ${sha} differs from the bundle's ${rec.sha256}: the file was changed` });
  }
  return out;
}

/** Every check on a parsed bundle; `dir` is where the .cast files may lie. */
export async function verifyEvidence(bundle: Bundle, opts: { dir: string; publicKey?: string }): Promise<Check[]> {
  if (bundle.kind !== 'portcullis.evidence.v1') return [{ ok: false, what: 'not a Portcullis evidence bundle (kind portcullis.evidence.v1)' }];
  const named = bundle.signature?.publicKey;
  const key = opts.publicKey ?? named;
  if (!key || !rawKeyValid(key)) return [{ ok: false, what: 'no usable Ed25519 public key (32 bytes, base64)' }];
  const checks: Check[] = [];
  if (opts.publicKey && named !== opts.publicKey) checks.push({ ok: false, what: 'the bundle names another signing key than the one given with --public-key' });
  else if (!opts.publicKey) checks.push({ ok: true, what: `signing key ${key} (not pinned: compare it with the broker's GET /api/audit/checkpoint publicKey)` });
  checks.push(await checkJws(bundle, key));
  const chain = checkChain(bundle);
  checks.push(...chain.checks);
  if (chain.events.length > 0) checks.push(checkCheckpoint(bundle, key, chain.events));
  checks.push(...(await checkRecordings(bundle, opts.dir)));
  return checks;
}

async function main(argv: string[]): Promise<number> {
  const args = [...argv];
  let publicKey: string | undefined;
  const k = args.indexOf('--public-key');
  if (k >= 0) {
    publicKey = args[k + 1];
    args.splice(k, 2);
  }
  if (args.length !== 1 || !publicKey && k >= 0) {
    process.stderr.write('usage: portcullis-verify <evidence.json> [--public-key <base64>]\n');
    return 2;
  }
  const file = path.resolve(args[0]!);
  let bundle: Bundle;
  try {
    bundle = JSON.parse(readFileSync(file, 'utf8')) as Bundle;
  } catch (err) {
    process.stderr.write(`cannot read ${file}: ${(err as Error).message}\n`);
    return 2;
  }
  const checks = await verifyEvidence(bundle, { dir: path.dirname(file), publicKey });
  for (const c of checks) process.stdout.write(`${c.ok ? 'ok      ' : 'FAILED  '}${c.what}\n`);
  const failed = checks.filter((c) => !c.ok).length;
  process.stdout.write(failed === 0 ? 'evidence verified\n' : `evidence REFUSED: ${failed} check(s) failed\n`);
  return failed === 0 ? 0 : 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).then((code) => process.exit(code), (err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(2);
  });
}

export { main as runVerifyCli };
