/**
 * The evidence bundle of a grant (§8.7) against the real database: one signed JSON document with the
 * request, approvals, grant, certificates, sessions, recordings, transfers and the audit stretch under
 * a signed checkpoint; the printable record; and the `portcullis-verify` bin run as a child process,
 * which accepts the bundle and refuses it, with the reason, once one byte of an event or of a
 * recording is changed.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizeConnection, recordSessionEnd, recordSessionStart } from '../../server/core/sessions.js';
import { recordTransfer } from '../../server/core/transfers.js';
import { approve, as, isolatedHarness, person, requestAccess, world, type World } from '../support/workflow-fixtures.js';

const run = promisify(execFile);
const bin = path.resolve('server/cli/portcullis-verify.mjs');

async function verify(file: string, extra: string[] = []): Promise<{ code: number; out: string }> {
  try {
    const { stdout } = await run(process.execPath, [bin, file, ...extra], { timeout: 30_000 });
    return { code: 0, out: stdout };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}

const CAST = [
  JSON.stringify({ version: 2, width: 80, height: 24, timestamp: 1_900_000_000, title: 'pump' }),
  JSON.stringify([0.1, 'o', '$ ']),
  JSON.stringify([1.0, 'i', 'rm -rf /tmp/x']),
  JSON.stringify([1.5, 'i', '\r']),
  JSON.stringify([2.0, 'o', 'rm -rf /tmp/x\r\n$ ']),
  JSON.stringify([3.0, 'b', `i:${Buffer.from('passwd\xff', 'latin1').toString('base64')}`]),
  JSON.stringify([3.0, 'i', 'passwd\ufffd']),
  JSON.stringify([3.25, 'i', '\x7f\r']),
  '',
].join('\n');

describe('GET /api/grants/:id/evidence', () => {
  const ref = isolatedHarness();
  let w: World;
  let grantId: string;
  let sessionId: string;
  let dir: string;
  let castSha: string;

  beforeAll(async () => {
    const h = ref.h;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-evidence-'));
    w = await world(h, { device: { serialNumber: 'SN-1042' } });
    const req = await requestAccess(h, w.tech, w.device.id, { ticketRef: 'CHG-1042', reason: 'replace the pump firmware' });
    for (const a of w.approvers.slice(0, w.device.policy.approvalsRequired)) grantId = (await approve(h, a, req.id)).grant?.id ?? grantId;
    const conn = await authorizeConnection(h.deps, { grantId, principal: w.device.name });
    const castPath = path.join(dir, 'stored.cast');
    fs.writeFileSync(castPath, CAST);
    castSha = createHash('sha256').update(CAST).digest('hex');
    const { session } = await recordSessionStart(h.deps, conn, { channel: 'shell', command: null, clientAddress: '127.0.0.9', proxyInstance: 'test', recordingPath: () => castPath });
    sessionId = session.id;
    await recordTransfer(h.deps, conn, {
      sessionId, grantId, requestId: req.id, channel: 'sftp', device: { id: w.device.id, name: w.device.name },
      technician: { id: w.tech.user.id, username: w.tech.user.username, displayName: w.tech.user.displayName },
    }, [], { direction: 'upload', path: '/opt/fw.bin', bytes: 3, sha256: 'a'.repeat(64), startedAt: h.clock.now(), endedAt: h.clock.now(), outcome: 'complete', reason: null });
    await recordSessionEnd(h.deps, sessionId, { endReason: 'client_closed', bytesIn: 10, bytesOut: 20, recording: { bytes: CAST.length, durationMs: 3250, sha256: castSha } });
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('is one signed document that the bin verifies, and refuses once an event or a recording byte changes', async () => {
    const h = ref.h;
    const auditor = await person(h, ['auditor']);
    const res = await as(h, auditor).get(`/api/grants/${grantId}/evidence`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const doc = res.body;
    expect(doc.kind).toBe('portcullis.evidence.v1');
    expect(doc.request).toMatchObject({ ticketRef: 'CHG-1042', reason: 'replace the pump firmware' });
    expect(doc.decisions[0]).toEqual(expect.objectContaining({ decision: 'approve', channel: 'api', approver: expect.objectContaining({ username: w.approvers[0]!.user.username }) }));
    expect(doc.device).toMatchObject({ name: w.device.name, serialNumber: 'SN-1042' });
    expect(doc.credentialsIssued.length).toBeGreaterThanOrEqual(0);
    expect(doc.sessions).toHaveLength(1);
    expect(doc.sessions[0].recording).toMatchObject({ file: `session-${sessionId}.cast`, sha256: castSha });
    expect(doc.sessions[0].recording.path).toBeUndefined();
    expect(doc.sessions[0].typedLines.map((l: { text: string }) => l.text)).toEqual(['rm -rf /tmp/x', 'passwd']);
    expect(doc.transfers).toEqual([expect.objectContaining({ path: '/opt/fw.bin', sha256: 'a'.repeat(64), direction: 'upload' })]);
    const actions = doc.audit.events.filter((e: { seq: number }) => doc.audit.concerning.includes(e.seq)).map((e: { action: string }) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['request.created', 'grant.scheduled', 'session.started', 'transfer.completed', 'session.ended', 'recording.finalised', 'grant.evidence_exported']));
    expect(doc.checkpoint.seq).toBe(doc.audit.events.at(-1).seq);
    expect(doc.signature.jws).toMatch(/^[\w-]+\.\.[\w-]+$/);

    const file = path.join(dir, 'evidence.json');
    fs.writeFileSync(file, JSON.stringify(doc, null, 2));
    fs.copyFileSync(path.join(dir, 'stored.cast'), path.join(dir, `session-${sessionId}.cast`));
    const pinned = (await h.http.get('/api/audit/checkpoint').set(await auditor.auth())).body.publicKey as string;
    const good = await verify(file, ['--public-key', pinned]);
    expect(good.out).toMatch(/evidence verified/);
    expect(good.out).toMatch(/recording session-.*SHA-256 matches/);
    expect(good.code).toBe(0);

    // one byte of one event: the signature and the chain both say so
    const tampered = structuredClone(doc);
    const victim = tampered.audit.events.find((e: { action: string }) => e.action === 'request.created');
    expect(victim.details.ticketRef).toBe('CHG-1042');
    victim.details.ticketRef = 'CHG-1043';
    fs.writeFileSync(file, JSON.stringify(tampered));
    const bad = await verify(file);
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(/signature does not verify/);
    expect(bad.out).toMatch(new RegExp(`audit event ${victim.seq} does not match its hash`));
    expect(bad.out).toMatch(/evidence REFUSED/);

    // one byte of the recording
    fs.writeFileSync(file, JSON.stringify(doc));
    const cast = fs.readFileSync(path.join(dir, `session-${sessionId}.cast`));
    cast[cast.indexOf('rm -rf')] = 'R'.charCodeAt(0);
    fs.writeFileSync(path.join(dir, `session-${sessionId}.cast`), cast);
    const badCast = await verify(file);
    expect(badCast.code).toBe(1);
    expect(badCast.out).toMatch(/recording session-.*differs from the bundle's/);
    expect(badCast.out).not.toMatch(/signature does not verify/);
  });

  it('prints a maintenance record with the controls mapping', async () => {
    const h = ref.h;
    const res = await as(h, w.approvers[0]!).get(`/api/grants/${grantId}/evidence?format=html`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.text).toContain('CHG-1042');
    expect(res.text).toContain('rm -rf /tmp/x');
    expect(res.text).toContain('/opt/fw.bin');
    expect(res.text).toContain('MA-4');
    expect(res.text).toContain('§164.312(b)');
    expect(res.text).toContain(w.approvers[0]!.user.username);
  });

  it('is refused to technicians and to approvers of other departments', async () => {
    const h = ref.h;
    expect((await as(h, w.tech).get(`/api/grants/${grantId}/evidence`)).status).toBe(403);
    const other = await person(h, ['approver'], { department: 'elsewhere' });
    expect((await as(h, other).get(`/api/grants/${grantId}/evidence`)).status).toBe(404);
  });

  it('lists what was typed in a recording larger than the longest string a process can hold (a 544 MiB upload)', async () => {
    const h = ref.h;
    const big = await world(h);
    const req = await requestAccess(h, big.tech, big.device.id, { ticketRef: 'CHG-2001', reason: 'load the imaging firmware' });
    let id = '';
    for (const a of big.approvers.slice(0, big.device.policy.approvalsRequired)) id = (await approve(h, a, req.id)).grant?.id ?? id;
    const conn = await authorizeConnection(h.deps, { grantId: id, principal: big.device.name });
    const castPath = path.join(dir, 'upload.cast');
    // typed, then 544 MiB of recording as the proxy writes NUL stdin ("b" events and their empty display
    // events), then typed again: more than V8's 512 MiB string limit
    const fd = fs.openSync(castPath, 'w');
    fs.writeSync(fd, [CAST.split('\n')[0], '[0.5, "i", "cat > /opt/fw.img\\r"]', ''].join('\n'));
    const zeros = `[1.000000, "b", "i:${Buffer.alloc(768 * 1024).toString('base64')}"]\n[1.000000, "i", ""]\n`;
    for (let i = 0; i < 544; i++) fs.writeSync(fd, zeros);
    fs.writeSync(fd, '[9.000000, "i", "\\u0004"]\n[9.500000, "i", "sync; reboot\\r"]\n');
    fs.closeSync(fd);
    expect(fs.statSync(castPath).size).toBeGreaterThan(0x1fffffe8);
    const { session } = await recordSessionStart(h.deps, conn, { channel: 'shell', command: null, clientAddress: '127.0.0.9', proxyInstance: 'test', recordingPath: () => castPath });
    await recordSessionEnd(h.deps, session.id, { endReason: 'client_closed', bytesIn: 10, bytesOut: 20, recording: { bytes: fs.statSync(castPath).size, durationMs: 9500, sha256: 'b'.repeat(64) } });
    try {
      const res = await as(h, await person(h, ['auditor'])).get(`/api/grants/${id}/evidence`);
      expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(200);
      expect(res.body.sessions[0].typedLines).toEqual([{ offsetSeconds: 0.5, text: 'cat > /opt/fw.img' }, { offsetSeconds: 9.5, text: 'sync; reboot' }]);
    } finally {
      fs.rmSync(castPath, { force: true });
    }
  }, 120_000);

  it('is verified by the bin beside a recording larger than one Buffer (2,200 MiB)', async () => {
    const h = ref.h;
    // SHA-256 of 2,200 MiB of zero bytes, as coreutils' sha256sum gives it
    const zerosSha = 'c4b8c0f7000ac9d6e28912c7a9efa49f8fd305de518d4d72dcb131118bfe1a8b';
    const big = await world(h);
    const req = await requestAccess(h, big.tech, big.device.id, { ticketRef: 'CHG-2002', reason: 'restore the disk image' });
    let id = '';
    for (const a of big.approvers.slice(0, big.device.policy.approvalsRequired)) id = (await approve(h, a, req.id)).grant?.id ?? id;
    const conn = await authorizeConnection(h.deps, { grantId: id, principal: big.device.name });
    const bundleDir = fs.mkdtempSync(path.join(dir, 'huge-'));
    const { session } = await recordSessionStart(h.deps, conn, { channel: 'shell', command: null, clientAddress: '127.0.0.9', proxyInstance: 'test', recordingPath: () => path.join(bundleDir, 'elsewhere.cast') });
    await recordSessionEnd(h.deps, session.id, { endReason: 'client_closed', bytesIn: 10, bytesOut: 20, recording: { bytes: 2200 * 1024 * 1024, durationMs: 1000, sha256: zerosSha } });
    try {
      const res = await as(h, await person(h, ['auditor'])).get(`/api/grants/${id}/evidence`);
      expect(res.status).toBe(200);
      fs.writeFileSync(path.join(bundleDir, 'evidence.json'), JSON.stringify(res.body));
      const fd = fs.openSync(path.join(bundleDir, `session-${session.id}.cast`), 'w');
      fs.ftruncateSync(fd, 2200 * 1024 * 1024); // sparse: no disk used
      fs.closeSync(fd);
      const checked = await verify(path.join(bundleDir, 'evidence.json'));
      expect(checked.out).toMatch(/recording session-.*SHA-256 matches/);
      expect(checked.code, checked.out).toBe(0);
    } finally {
      fs.rmSync(bundleDir, { recursive: true, force: true });
    }
  }, 120_000);
});
