/**
 * Issue 11 finding 6, end to end with the real ssh and sshd: a device that interleaves a harmless control
 * byte (SOH) into a patient record and then sends a mebibyte of random bytes leaves a recording from which
 * the auditor gets back exactly what the technician's ssh client received — nothing replaced by a
 * placeholder — and the technician's input, recorded by default; the real `asciinema cat` plays the file.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { extractStreams } from '../../proxy/recording/extract.js';
import {
  asciinemaCat, certify, downloadRecording, endedSessions, grantFor, makeWorld, newKey, sha256, shq, sshArgs, sshBytes, useE2E,
} from '../support/ssh-e2e.js';

const PATIENT = 'Patient: MUELLER, Anna  DOB 1961-04-17  MRN 00482913\nDx: J96.0 acute resp. failure, SpO2 88 pct on 4 l O2\nWard 3B, bed 12\n';
/** a printf format that prints every character of `text` after an SOH byte (\001) */
const sohFormat = (text: string) => [...text].map((ch) => `\\001${ch === '\n' ? '\\n' : ch === '%' ? '%%' : ch === '\\' ? '\\\\' : ch}`).join('');

describe('SSH recordings are complete (single)', () => {
  const env = useE2E('single');
  /** a device, a grant on it and the technician's key with its certificate */
  async function certifiedTechnician() {
    const { e } = env;
    const w = await makeWorld(e);
    const grant = await grantFor(w);
    const key = newKey(e);
    await certify(w, grant, key);
    return { e, w, grant, key };
  }

  it('an SOH-laced patient record and 1 MiB of random bytes come back from the recording byte for byte', async () => {
    const { e, w, grant, key } = await certifiedTechnician();
    const input = Buffer.concat([Buffer.from('confirm\n'), Buffer.from([0xff, 0x00, 0xc3]), Buffer.from('\n')]);
    const command = `head -c ${input.length} >/dev/null; printf ${shq(sohFormat(PATIENT))}; head -c 1048576 /dev/urandom; printf 'END\\n'`;
    const run = await sshBytes([...sshArgs(e, key, w.device.name), command], input);
    expect(run.code, run.stderr).toBe(0);
    const soh = Buffer.from([...PATIENT].map((ch) => `\x01${ch}`).join(''));
    expect(run.stdout.subarray(0, soh.length).equals(soh)).toBe(true);
    expect(run.stdout.length).toBe(soh.length + 1048576 + 4);

    const [session] = await endedSessions(w, grant.id, 1, 10_000);
    const d = await downloadRecording(w, session!.id, w.auditor.token);
    expect(d.status, d.body).toBe(200);
    expect(d.sha256Header).toBe(sha256(d.body)); // the hash in the audit trail covers the binary too
    expect(d.body).not.toMatch(/not recorded/);
    const streams = extractStreams(d.body);
    expect(streams.output.length).toBe(run.stdout.length);
    expect(sha256(streams.output)).toBe(sha256(run.stdout)); // exactly what the client received
    expect(streams.input.equals(input)).toBe(true); // RECORD_INPUT is on by default

    // the display form shows the record as the terminal did; the real asciinema plays the whole file
    const file = path.join(e.dir, `${session!.id}.cast`);
    await fs.writeFile(file, d.body);
    const printed = await asciinemaCat(file, { maxBuffer: 64 * 1024 * 1024 });
    expect(printed.replaceAll('\x01', '').replace(/\r/g, '')).toContain(PATIENT);
    expect(printed).toMatch(/END\r?\n$/);
  }, 90_000);

  it('a download and an upload of NUL bytes are recorded exactly at 4/3 of their size, not 6x', async () => {
    const { e, w, grant, key } = await certifiedTechnician();
    const MiB = 1024 * 1024;
    const upload = Buffer.alloc(MiB);
    const run = await sshBytes([...sshArgs(e, key, w.device.name), `head -c ${MiB} >/dev/null; printf 'zeros:\\n'; head -c ${4 * MiB} /dev/zero; printf 'END\\n'`], upload);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.length).toBe(7 + 4 * MiB + 4);

    const [session] = await endedSessions(w, grant.id, 1, 10_000);
    const d = await downloadRecording(w, session!.id, w.auditor.token);
    expect(d.status, d.body).toBe(200);
    expect(Buffer.byteLength(d.body)).toBeLessThan(1.4 * 5 * MiB); // as "\u0000" text: 30 MiB
    const streams = extractStreams(d.body);
    expect(streams.output.equals(run.stdout)).toBe(true);
    expect(streams.input.equals(upload)).toBe(true);
    const file = path.join(e.dir, `${session!.id}.cast`);
    await fs.writeFile(file, d.body);
    expect(await asciinemaCat(file, { maxBuffer: 64 * 1024 * 1024 })).toMatch(/zeros:\r?\nEND\r?\n$/); // NULs show nothing, as on a terminal
  }, 90_000);
});
