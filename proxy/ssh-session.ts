/**
 * The SSH side of a technician's connection: session channels (pty, shell, exec, window changes,
 * signals) and the channel kinds that are refused. Shell and exec are accepted at once (a client that
 * sends EOF early would hang otherwise); the relay then checks the grant and the device's current
 * policy and relays once the device side is ready. Port forwarding is in forward.ts.
 */
import type ssh2 from 'ssh2';
import { auditRefusedChannel, type ConnectionGrant } from '../server/core/sessions.js';
import type { ProxyContext } from './context.js';
import type { DeviceLink } from './device-link.js';
import { terminalLine } from './notices.js';
import { handleSftpChannel } from './sftp/sftp-relay.js';
import { startRelay, type ClientChannel, type ExitInfo, type PtyInfo, type Relay, type RelaySpec } from './relay.js';

// the environment a technician may pass on to the device: locale only
const PASSABLE_ENV = /^(LANG|LC_[A-Z]+|TZ)$/;

function sshClientChannel(stream: ssh2.ServerChannel, pty: boolean): ClientChannel {
  let closed = false;
  const closedListeners: (() => void)[] = [];
  stream.on('close', () => {
    closed = true;
    for (const l of closedListeners) l();
  });
  const drained = (w: NodeJS.WritableStream & { writableNeedDrain?: boolean }) =>
    w.writableNeedDrain ? new Promise<void>((r) => w.once('drain', () => r())) : Promise.resolve();
  return {
    input: stream,
    stdout: stream,
    stderr: stream.stderr,
    notice(text) {
      if (closed) return;
      if (pty) stream.write(terminalLine(text));
      else stream.stderr.write(`[portcullis] ${text}\n`);
    },
    close(exit: ExitInfo | null) {
      if (closed) return;
      // exit status only after stdout and stderr have drained, or the tail of stderr is lost
      void Promise.all([drained(stream), drained(stream.stderr)]).then(() => {
        if (closed) return;
        try {
          if (exit?.code !== null && exit?.code !== undefined) stream.exit(exit.code);
          else if (exit?.signal) stream.exit(exit.signal, false, '');
        } catch {
          // ssh2 refuses signal names it does not know (sshd reports e.g. SIGSIG@openssh.com for SIGBUS)
          stream.exit(255);
        }
        stream.end();
      });
    },
    onClosed(listener) {
      if (closed) listener();
      else closedListeners.push(listener);
    },
  };
}

export function handleSessionChannel(ctx: ProxyContext, conn: ConnectionGrant, link: DeviceLink, clientAddress: string | null, session: ssh2.Session): void {
  let pty: PtyInfo | null = null;
  const env: Record<string, string> = {};
  let relay: Relay | null = null;
  let started = false;

  const refuse = (what: string, reject?: () => void) => {
    reject?.();
    void auditRefusedChannel(ctx.deps, conn, what).catch((err) => ctx.log.warn({ err }, 'audit failed'));
  };
  const start = (stream: ssh2.ServerChannel, spec: Omit<RelaySpec, 'pty' | 'env' | 'clientAddress'>) => {
    started = true;
    void startRelay(ctx, conn, link, sshClientChannel(stream, pty !== null), { ...spec, pty, env, clientAddress })
      .then((r) => (relay = r))
      .catch((err) => {
        ctx.log.error({ err }, 'session relay failed');
        stream.stderr.write('[portcullis] internal error\n');
        stream.exit(255);
        stream.end();
      });
  };

  session.on('pty', (accept, _reject, info) => {
    pty = { term: info.term || 'xterm', cols: info.cols || 80, rows: info.rows || 24, width: info.width, height: info.height };
    accept?.();
  });
  session.on('window-change', (accept, _reject, info) => {
    if (pty) pty = { ...pty, cols: info.cols, rows: info.rows, width: info.width, height: info.height };
    relay?.resize(info.cols, info.rows, info.width, info.height);
    accept?.();
  });
  session.on('env', (accept, reject, info) => {
    if (PASSABLE_ENV.test(info.key) && Object.keys(env).length < 32) {
      env[info.key] = info.val;
      accept?.();
    } else reject?.();
  });
  session.on('signal', (accept, _reject, info) => {
    relay?.signal(info.name);
    accept?.();
  });
  session.on('auth-agent', (_accept, reject) => refuse('agent forwarding', reject));
  session.on('x11', (_accept, reject) => refuse('X11 forwarding', reject));
  session.on('shell', (accept, reject) => {
    if (started) return reject?.();
    start(accept(), { channel: 'shell', command: null });
  });
  session.on('exec', (accept, reject, info) => {
    if (started) return reject?.();
    // the device's policy is read when the relay starts (exec may have been turned off since login)
    start(accept(), { channel: 'exec', command: info.command });
  });
  session.on('sftp', (accept, reject) => {
    if (started) return reject?.();
    started = true;
    // accepted at once (OpenSSH sends INIT without waiting for the reply); terminated here and relayed
    // operation by operation (§8.3), after the grant and the device's current policy are checked
    const sftp = accept();
    if (sftp) handleSftpChannel(ctx, conn, link, clientAddress, sftp);
  });
  session.on('subsystem', (_accept, reject, info) => refuse(`subsystem ${info.name}`, reject));
}
