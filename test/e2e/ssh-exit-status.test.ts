/**
 * Issue 19: every exec session through the proxy delivers the device's exit status to the real
 * OpenSSH client (stdin at EOF, with -n, with a pty), one after another and many at once.
 * EXIT_STRESS_SEQUENTIAL / EXIT_STRESS_CONCURRENT / EXIT_STRESS_BROWSER change the counts (soak: 500+).
 */
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { certify, grantFor, makeWorld, newKey, runSsh, sshArgs, useE2E, type SshResult } from '../support/ssh-e2e.js';

const SEQUENTIAL = Number(process.env.EXIT_STRESS_SEQUENTIAL ?? 200);
const CONCURRENT = Number(process.env.EXIT_STRESS_CONCURRENT ?? 50);
const BROWSER = Number(process.env.EXIT_STRESS_BROWSER ?? 30);

/** One browser-terminal session that types `line`: what it printed and the close frame's reason. */
function browserSession(url: string, line: string): Promise<{ text: string; reason: string; end: unknown }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    let text = '';
    let end: unknown = null;
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`browser session did not end: ${JSON.stringify(text)}`));
    }, 30_000);
    ws.on('message', (data, isBinary) => {
      if (isBinary) return void (text += data.toString());
      const control = JSON.parse(data.toString()) as { type: string };
      // the console types once the session is ready, as a person would
      if (control.type === 'ready') ws.send(JSON.stringify({ type: 'input', data: line }));
      if (control.type === 'end') end = control;
    });
    ws.on('error', reject);
    ws.on('close', (_code, reason) => {
      clearTimeout(timer);
      resolve({ text, reason: reason.toString(), end });
    });
  });
}

describe('exit status through the proxy (issue 19)', () => {
  // many technicians' connections from one address at once: above the per-address pre-auth cap
  const env = useE2E('single', { SSH_MAX_UNAUTHENTICATED_PER_IP: String(CONCURRENT + 10) });

  it(`${SEQUENTIAL} sequential and ${CONCURRENT} concurrent execs each print their line and exit 3`, async () => {
    const e = env.e;
    const w = await makeWorld(e);
    const grant = await grantFor(w, 60);
    const key = newKey(e);
    await certify(w, grant, key);
    const variants: { name: string; extra: string[]; input?: string }[] = [
      { name: 'stdin at EOF', extra: [] },
      { name: '-n', extra: ['-n'] },
      { name: 'pty', extra: ['-tt'], input: '' },
    ];
    const bad: string[] = [];
    const check = (i: number, v: string, r: SshResult) => {
      const ok = r.code === 3 && r.stdout.includes(`x-${i}`);
      if (!ok) bad.push(`${v} #${i}: code=${r.code} signal=${r.signal} stdout=${JSON.stringify(r.stdout)} stderr=${JSON.stringify(r.stderr)}`);
    };
    for (let i = 0; i < SEQUENTIAL; i++) {
      const v = variants[i % variants.length]!;
      check(i, v.name, await runSsh(sshArgs(e, key, w.device.name, v.extra, {}).concat(`echo x-${i}; exit 3`), v.input === undefined ? {} : { input: v.input }));
    }
    const results = await Promise.all(
      Array.from({ length: CONCURRENT }, (_, j) => {
        const i = SEQUENTIAL + j;
        const v = variants[i % variants.length]!;
        return runSsh(sshArgs(e, key, w.device.name, v.extra).concat(`echo x-${i}; exit 3`), { timeoutMs: 60_000, ...(v.input === undefined ? {} : { input: v.input }) }).then((r) => check(i, v.name, r));
      }),
    );
    expect(results).toHaveLength(CONCURRENT);
    expect(bad).toEqual([]);
  }, 600_000);

  it(`${BROWSER} browser-terminal sessions each show their line and end with exit status 3`, async () => {
    const e = env.e;
    const w = await makeWorld(e);
    const grant = await grantFor(w, 60);
    const wsBase = e.broker.httpUrl!.replace(/^http/, 'ws');
    const bad: string[] = [];
    for (let i = 0; i < BROWSER; i++) {
      const { url } = await e.broker.api.ok('POST', `/api/grants/${grant.id}/terminal-token`, w.tech.token);
      const r = await browserSession(`${wsBase}${url}`, `echo x-$((${i}+1000)); exit 3\n`);
      const ok = r.reason === 'exit 3' && r.text.includes(`x-${i + 1000}`) && JSON.stringify(r.end).includes('exit status 3');
      if (!ok) bad.push(`#${i}: reason=${r.reason} end=${JSON.stringify(r.end)} text=${JSON.stringify(r.text.slice(-200))}`);
    }
    expect(bad).toEqual([]);
  }, 600_000);
});
