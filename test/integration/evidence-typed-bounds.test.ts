/**
 * What an evidence bundle lists of what was typed, when a session typed (or showed) more than a bundle
 * can hold (server/core/evidence-typed-lines.ts), against the real database and the real route: a line
 * of output longer than V8's longest string once made the bundle say "no readable recording" and list
 * nothing typed; a paste of 30,000 lines is listed as its first and last lines with the gap counted, a
 * command typed after it included; a long typed line is cut and the cut counted; the bundle stays
 * verifiable by the bin.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLE_LINES, LINE_CHARS, SESSION_LINES } from '../../server/core/evidence-typed-lines.js';
import { authorizeConnection, recordSessionEnd, recordSessionStart } from '../../server/core/sessions.js';
import type { Harness } from '../support/harness.js';
import { approve, as, isolatedHarness, person, requestAccess, world } from '../support/workflow-fixtures.js';

const run = promisify(execFile);
const HEADER = JSON.stringify({ version: 2, width: 80, height: 24, timestamp: 1_900_000_000, title: 'pump' });
const ev = (t: number, code: string, data: string) => `${JSON.stringify([t, code, data])}\n`;

describe('typed lines in an evidence bundle, bounded', () => {
  const ref = isolatedHarness();
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-evidence-bounds-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** A grant with one ended session per cast file written by `write`; its id. */
  async function grantWith(h: Harness, ticket: string, writers: ((fd: number) => void)[]): Promise<string> {
    const w = await world(h);
    const req = await requestAccess(h, w.tech, w.device.id, { ticketRef: ticket, reason: 'restore the pump configuration' });
    let id = '';
    for (const a of w.approvers.slice(0, w.device.policy.approvalsRequired)) id = (await approve(h, a, req.id)).grant?.id ?? id;
    for (const [i, write] of writers.entries()) {
      const conn = await authorizeConnection(h.deps, { grantId: id, principal: w.device.name });
      const castPath = path.join(dir, `${ticket}-${i}.cast`);
      const fd = fs.openSync(castPath, 'w');
      fs.writeSync(fd, `${HEADER}\n`);
      write(fd);
      fs.closeSync(fd);
      const sha = createHash('sha256').update(fs.readFileSync(castPath)).digest('hex');
      const { session } = await recordSessionStart(h.deps, conn, { channel: 'shell', command: null, clientAddress: '127.0.0.9', proxyInstance: 'test', recordingPath: () => castPath });
      await recordSessionEnd(h.deps, session.id, { endReason: 'client_closed', bytesIn: 10, bytesOut: 20, recording: { bytes: fs.statSync(castPath).size, durationMs: 9500, sha256: sha } });
    }
    return id;
  }

  it('lists what was typed around a line of output longer than the longest string V8 holds (520 MiB, no newline)', async () => {
    const h = ref.h;
    const a = 'a'.repeat(1024 * 1024);
    const id = await grantWith(h, 'CHG-3001', [(fd) => {
      fs.writeSync(fd, ev(0.5, 'i', 'yes a | tr -d "\\n"\r'));
      // 520 × 1 MiB of output with no line end: one line of 545 M characters (V8's limit is 2^29 - 24)
      const chunk = ev(1, 'o', a);
      for (let i = 0; i < 520; i++) fs.writeSync(fd, chunk);
      fs.writeSync(fd, ev(9, 'i', '\x03'));
      fs.writeSync(fd, ev(9.5, 'i', 'rm -rf /data\r'));
    }]);
    const res = await as(h, await person(h, ['auditor'])).get(`/api/grants/${id}/evidence`);
    expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(200);
    expect(res.body.sessions[0].typedLines).toEqual([{ offsetSeconds: 0.5, text: 'yes a | tr -d "\\n"' }, { offsetSeconds: 9.5, text: 'rm -rf /data' }]);
    expect(res.body.sessions[0].typedLinesOmitted).toBeNull();
  }, 180_000);

  it('lists the first and the last lines of a 30,000-line paste, says what it left out, and cuts a long line', async () => {
    const h = ref.h;
    const long = 'x'.repeat(LINE_CHARS + 3000);
    const id = await grantWith(h, 'CHG-3002', [(fd) => {
      fs.writeSync(fd, ev(0.5, 'i', 'cat > /etc/pump.conf\r'));
      let paste = '';
      for (let i = 1; i <= 30_000; i++) paste += ev(1 + i / 1000, 'i', `setting_${i}=on\r`);
      fs.writeSync(fd, paste);
      fs.writeSync(fd, ev(40, 'i', '\x04'));
      fs.writeSync(fd, ev(41, 'i', `echo ${long}\r`));
      fs.writeSync(fd, ev(42, 'i', 'passwd root\r'));
    }]);
    const auditor = await person(h, ['auditor']);
    const res = await as(h, auditor).get(`/api/grants/${id}/evidence`);
    expect(res.status).toBe(200);
    const s = res.body.sessions[0];
    const half = SESSION_LINES / 2;
    expect(s.typedLines).toHaveLength(SESSION_LINES);
    expect(s.typedLines[0]).toEqual({ offsetSeconds: 0.5, text: 'cat > /etc/pump.conf' });
    expect(s.typedLines[half - 1].text).toBe(`setting_${half - 1}=on`);
    expect(s.typedLines[half].text).toBe(`setting_${30_000 - half + 3}=on`);
    expect(s.typedLines.at(-2)).toEqual({ offsetSeconds: 41, text: `echo ${long}`.slice(0, LINE_CHARS), cutChars: 3005 });
    expect(s.typedLines.at(-1)).toEqual({ offsetSeconds: 42, text: 'passwd root' });
    // 1 + 30,000 + 2 lines, 10,000 listed
    expect(s.typedLinesOmitted).toEqual({ afterLine: half, count: 30_003 - SESSION_LINES, fromOffsetSeconds: 1 + half / 1000, toOffsetSeconds: 1 + (30_000 - half + 2) / 1000 });

    const html = await as(h, auditor).get(`/api/grants/${id}/evidence?format=html`);
    expect(html.text).toContain('20,003 typed lines not listed here');
    expect(html.text).toContain('3,005 more characters, in the recording');
    expect(html.text).toContain('passwd root');

    // still one signed bundle the bin verifies, with the recording beside it
    const bundleDir = fs.mkdtempSync(path.join(dir, 'bundle-'));
    fs.writeFileSync(path.join(bundleDir, 'evidence.json'), JSON.stringify(res.body));
    fs.copyFileSync(path.join(dir, 'CHG-3002-0.cast'), path.join(bundleDir, `session-${s.id}.cast`));
    const { stdout } = await run(process.execPath, [path.resolve('server/cli/portcullis-verify.mjs'), path.join(bundleDir, 'evidence.json')], { timeout: 60_000 });
    expect(stdout).toMatch(/evidence verified/);
  }, 120_000);

  it('lists at most BUNDLE_LINES lines over all of a grant\'s sessions', async () => {
    const h = ref.h;
    const lines = (n: number) => (fd: number) => {
      let s = '';
      for (let i = 0; i < n; i++) s += ev(i / 100, 'i', `ls /var/log/${i}\r`);
      fs.writeSync(fd, s);
    };
    const id = await grantWith(h, 'CHG-3003', [lines(SESSION_LINES + 1), lines(SESSION_LINES + 2), lines(SESSION_LINES + 3), lines(5)]);
    const res = await as(h, await person(h, ['auditor'])).get(`/api/grants/${id}/evidence`);
    expect(res.status).toBe(200);
    const listed = res.body.sessions.map((s: { typedLines: unknown[] }) => s.typedLines.length);
    const omitted = res.body.sessions.map((s: { typedLinesOmitted: { count: number } | null }) => s.typedLinesOmitted?.count ?? 0);
    expect(listed.reduce((x: number, y: number) => x + y, 0)).toBe(BUNDLE_LINES);
    expect(listed).toEqual([SESSION_LINES, SESSION_LINES, 0, 0]);
    expect(omitted).toEqual([1, 2, SESSION_LINES + 3, 5]);
  }, 120_000);
});
