/**
 * A real syslog receiver for SIEM tests: Debian's rsyslogd run unprivileged in the foreground with an
 * imtcp input on a loopback port, writing each message as received (`%rawmsg%`, the RFC 5424 message
 * without its octet-count frame) on a line of `file`. It can be stopped and started again on the same
 * port to play a SIEM outage. With `tls`, the listener speaks TLS only (rsyslog's gtls driver, Debian
 * package rsyslog-gnutls).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './device-sshd.js';

export interface Rsyslog {
  port: number;
  file: string;
  /** the received messages so far, one per line */
  lines(): string[];
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`rsyslogd did not listen on ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** PEM files for a TLS (gtls) listener: the server's certificate and key and the CA that signed it. */
export interface RsyslogTls {
  caFile: string;
  certFile: string;
  keyFile: string;
}

export async function startRsyslog(opts: { tls?: RsyslogTls } = {}): Promise<Rsyslog> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-rsyslog-'));
  const port = await freePort();
  const file = path.join(dir, 'received.log');
  const conf = path.join(dir, 'rsyslog.conf');
  const tls = opts.tls;
  fs.writeFileSync(conf, [
    tls
      ? `global(workDirectory="${dir}" defaultNetstreamDriver="gtls" defaultNetstreamDriverCAFile="${tls.caFile}" ` +
        `defaultNetstreamDriverCertFile="${tls.certFile}" defaultNetstreamDriverKeyFile="${tls.keyFile}")`
      : `global(workDirectory="${dir}")`,
    tls ? 'module(load="imtcp" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")' : 'module(load="imtcp")',
    'template(name="raw" type="string" string="%rawmsg%\\n")',
    'ruleset(name="siem") { action(type="omfile" file="' + file + '" template="raw") }',
    `input(type="imtcp" port="${port}" address="127.0.0.1" ruleset="siem")`,
    '',
  ].join('\n'));
  let child: ChildProcess | null = null;
  let stderr = '';
  const r: Rsyslog = {
    port,
    file,
    lines: () => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : []),
    async start() {
      // the probe connections of waitForPort are empty sessions: rsyslog logs nothing for them
      child = spawn('rsyslogd', ['-n', '-f', conf, '-i', path.join(dir, 'rsyslogd.pid')], { stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<never>((_, reject) => child!.once('exit', (code) => reject(new Error(`rsyslogd exited (${code}): ${stderr}`))));
      await Promise.race([waitForPort(port, 10_000), exited]);
      exited.catch(() => undefined);
    },
    async stop() {
      const c = child;
      child = null;
      if (!c || c.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        c.once('exit', () => resolve());
        c.kill('SIGTERM');
      });
    },
    async close() {
      await r.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  await r.start();
  return r;
}
