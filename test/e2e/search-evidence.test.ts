/**
 * Search and evidence over a real recording (§8.7): a technician's pty session through the proxy to
 * a real sshd, with echo turned off (`stty -echo`) before a line is typed. The worker's indexer
 * picks the finalised recording up; `GET /api/search` finds the unechoed line through the input
 * events only, and the device's output as output. The grant's evidence bundle holds the typed line
 * and, with the downloaded recording beside it, passes `portcullis-verify`. A command typed in a session
 * that is still open is found within seconds (the indexer follows the growing recording), and once the
 * session has ended it is in the index exactly once. A firmware image piped to an exec session's stdin
 * is recorded byte for byte but is not "typed": the index and the evidence show one "[binary input]"
 * line for it, not its bytes as lines.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { extractStreams } from '../../proxy/recording/extract.js';
import {
  certify, downloadRecording, endedSessions, grantFor, liveSession, makeWorld, newKey, sha256, spawnSsh, sshArgs, sshBytes, useE2E,
} from '../support/ssh-e2e.js';

const run = promisify(execFile);

interface Hit { sessionId: string; deviceName: string; offsetSeconds: number; kind: string; snippet: string }

describe('search and evidence over a real recording', () => {
  const env = useE2E('single');

  /** Waits until the worker's indexer has written the session's "indexed" row. */
  async function indexed(sessionId: string): Promise<void> {
    await expect.poll(async () => (await env.e.broker.pool.query('SELECT 1 FROM search_indexed WHERE session_id = $1', [sessionId])).rows.length, { timeout: 20_000, interval: 200 }).toBe(1);
  }

  it('finds a line typed with echo off, and the bundle of its grant verifies', async () => {
    const e = env.e;
    const w = await makeWorld(e);
    const grant = await grantFor(w);
    const key = newKey(e);
    await certify(w, grant, key);
    const marker = `noecho${randomBytes(4).toString('hex')}`;
    const s = spawnSsh(sshArgs(e, key, w.device.name, ['-tt']));
    try {
      await s.waitForOutput(/\$ $/, 10_000);
      s.write('stty -echo\r');
      await new Promise((r) => setTimeout(r, 300));
      s.write(`: ${marker}\r`);
      s.write('echo SHOWN-$((6*7))-DONE\r');
      await s.waitForOutput(/SHOWN-42-DONE/);
      s.write('exit\r');
      await s.waitExit(5000);
    } finally {
      s.kill();
    }
    const [session] = await endedSessions(w, grant.id);
    const api = e.broker.api;

    let hits: Hit[] = [];
    const deadline = Date.now() + 20_000;
    while (hits.length === 0 && Date.now() < deadline) {
      hits = (await api.ok<{ items: Hit[] }>('GET', `/api/search?q=${marker}`, w.auditor.token)).items;
      if (hits.length === 0) await new Promise((r) => setTimeout(r, 250));
    }
    expect(hits).toEqual([expect.objectContaining({ sessionId: session!.id, deviceName: w.device.name, kind: 'input', snippet: expect.stringContaining(`⟦${marker}⟧`) })]);
    const shown = (await api.ok<{ items: Hit[] }>('GET', `/api/search?q=SHOWN-42-DONE&deviceId=${w.device.id}`, w.auditor.token)).items;
    expect(shown.some((h) => h.kind === 'output' && h.sessionId === session!.id)).toBe(true);

    const bundle = await api.ok('GET', `/api/grants/${grant.id}/evidence`, w.auditor.token);
    expect(bundle.sessions[0].typedLines.map((l: { text: string }) => l.text)).toContain(`: ${marker}`);
    await fs.writeFile(path.join(e.dir, 'evidence.json'), JSON.stringify(bundle));
    const cast = await downloadRecording(w, session!.id, w.auditor.token);
    await fs.writeFile(path.join(e.dir, bundle.sessions[0].recording.file), cast.body);
    const { stdout } = await run(process.execPath, [path.resolve('server/cli/portcullis-verify.mjs'), path.join(e.dir, 'evidence.json')]);
    expect(stdout).toMatch(/SHA-256 matches/);
    expect(stdout).toMatch(/evidence verified/);
  });

  it('finds a command typed in a session still open within seconds, and once only after it ends', async () => {
    const e = env.e;
    const w = await makeWorld(e);
    const grant = await grantFor(w);
    const key = newKey(e);
    await certify(w, grant, key);
    const api = e.broker.api;
    const search = async (q: string) => (await api.ok<{ items: Hit[] }>('GET', `/api/search?q=${q}&deviceId=${w.device.id}`, w.auditor.token)).items;
    const marker = `live${randomBytes(4).toString('hex')}`;
    const s = spawnSsh(sshArgs(e, key, w.device.name, ['-tt']));
    try {
      await s.waitForOutput(/\$ $/, 10_000);
      const session = await liveSession(w, grant.id);
      s.write(`echo ${marker}-typed\r`);
      await s.waitForOutput(new RegExp(`\\n${marker}-typed`));
      const typedAt = Date.now();
      let hits: Hit[] = [];
      while (!hits.some((h) => h.kind === 'input') && Date.now() - typedAt < 10_000) {
        await new Promise((r) => setTimeout(r, 200));
        hits = await search(`${marker}-typed`);
      }
      const foundAfterMs = Date.now() - typedAt;
      expect(hits, `not found within 10 s of typing (the session is still open)`).toContainEqual(expect.objectContaining({ sessionId: session.id, kind: 'input' }));
      expect(foundAfterMs).toBeLessThan(6_000); // the indexer's interval (2 s) plus a pass, with room for a loaded machine
      const live = await api.ok('GET', `/api/sessions?grantId=${grant.id}&live=true`, w.auditor.token);
      expect(live.items.map((x: { id: string }) => x.id)).toContain(session.id); // still running when found
      s.write('exit\r');
      await s.waitExit(5000);
    } finally {
      s.kill();
    }
    const [ended] = await endedSessions(w, grant.id);
    await indexed(ended!.id);
    const after = await search(`${marker}-typed`);
    // the typed line once (input) and the device's echo and output once each (output)
    expect(after.filter((h) => h.kind === 'input')).toHaveLength(1);
    // each line once: typed (input), and shown twice by the device — the echo and the output (output
    // segments hold a few lines each)
    const { rows } = await e.broker.pool.query('SELECT kind, text FROM search_segments WHERE session_id = $1', [ended!.id]);
    const lines = rows.flatMap((r) => (r.text as string).split('\n').map((line) => ({ kind: r.kind as string, line })));
    expect(lines.filter((l) => l.kind === 'input' && l.line.includes(marker))).toEqual([{ kind: 'input', line: `echo ${marker}-typed` }]);
    const shown = lines.filter((l) => l.kind === 'output' && l.line.includes(marker)).map((l) => l.line);
    expect(shown).toHaveLength(2);
    expect(shown).toEqual(expect.arrayContaining([`${marker}-typed`, expect.stringMatching(new RegExp(`echo ${marker}-typed$`))]));
  });

  it('records a firmware image piped to an exec session exactly, and indexes it as one "[binary input]" line', async () => {
    const e = env.e;
    const w = await makeWorld(e);
    const grant = await grantFor(w);
    const key = newKey(e);
    await certify(w, grant, key);
    const image = randomBytes(2 * 1024 * 1024); // a compressed image: not UTF-8, CRs and LFs at random
    const marker = `stored${randomBytes(4).toString('hex')}`;
    const run = await sshBytes([...sshArgs(e, key, w.device.name), `cat > /dev/null; echo ${marker}`], image);
    expect(run.code, run.stderr).toBe(0);
    const [session] = await endedSessions(w, grant.id, 1, 10_000);
    await indexed(session!.id);

    const cast = await downloadRecording(w, session!.id, w.auditor.token);
    expect(sha256(extractStreams(cast.body).input)).toBe(sha256(image)); // the recording has every byte
    const { rows } = await e.broker.pool.query('SELECT kind, text FROM search_segments WHERE session_id = $1', [session!.id]);
    expect(rows.filter((r) => r.kind === 'input').map((r) => r.text)).toEqual(['[binary input]']);
    expect(rows.some((r) => r.kind === 'output' && (r.text as string).includes(marker))).toBe(true);
    const bundle = await e.broker.api.ok('GET', `/api/grants/${grant.id}/evidence`, w.auditor.token);
    expect(bundle.sessions[0].typedLines.map((l: { text: string }) => l.text)).toEqual(['[binary input]']);
  }, 60_000);
});
