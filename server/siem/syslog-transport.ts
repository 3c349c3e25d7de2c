/**
 * A syslog connection over TCP or TLS (`tcp://host:port`, `tls://host:port`). One connection is kept
 * and reused; it counts as gone as soon as the receiver closes it or it errs, and the next send opens
 * a new one. A send resolves once the frames were handed to the kernel; any error rejects it and the
 * delivery loop sends the same events again (at-least-once). Plain syslog over TCP carries no
 * acknowledgement: frames written just before the receiver died without closing the connection can
 * be lost without an error — the limit of RFC 6587 itself.
 */
import net from 'node:net';
import tls from 'node:tls';

export interface SyslogTarget {
  protocol: 'tcp' | 'tls';
  host: string;
  port: number;
  /** PEM of the CA that signed the receiver's certificate (TLS); default the system's CAs */
  ca?: string;
}

const URL_RE = /^(tcp|tls):\/\/(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})\/?$/;

/** Parses `tcp://host:port` or `tls://host:port`; null when it is neither. */
export function parseSyslogUrl(url: string): Omit<SyslogTarget, 'ca'> | null {
  const m = URL_RE.exec(url.trim());
  if (!m) return null;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return null;
  return { protocol: m[1] as 'tcp' | 'tls', host: m[2]!.replace(/^\[|\]$/g, ''), port };
}

export interface SyslogConnection {
  send(frames: Buffer): Promise<void>;
  close(): Promise<void>;
}

export function createSyslogConnection(target: SyslogTarget, opts: { connectTimeoutMs?: number; writeTimeoutMs?: number } = {}): SyslogConnection {
  const connectTimeoutMs = opts.connectTimeoutMs ?? 10_000;
  const writeTimeoutMs = opts.writeTimeoutMs ?? 30_000;
  let socket: net.Socket | null = null;
  let alive = false;

  function open(): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      const s = target.protocol === 'tls'
        ? tls.connect({ host: target.host, port: target.port, ca: target.ca, servername: net.isIP(target.host) ? undefined : target.host })
        : net.connect({ host: target.host, port: target.port });
      const ready = target.protocol === 'tls' ? 'secureConnect' : 'connect';
      const timer = setTimeout(() => s.destroy(new Error(`syslog: no connection to ${target.host}:${target.port} within ${connectTimeoutMs} ms`)), connectTimeoutMs);
      const fail = (err: Error) => {
        clearTimeout(timer);
        reject(err);
      };
      s.once('error', fail);
      s.once(ready, () => {
        clearTimeout(timer);
        s.off('error', fail);
        s.setNoDelay(true);
        s.setKeepAlive(true, 30_000);
        alive = true;
        const gone = () => {
          alive = false;
          s.destroy();
        };
        // the receiver never talks back: anything it sends is ignored, its end means the connection is gone
        s.on('data', () => undefined);
        s.on('end', gone);
        s.on('close', gone);
        s.on('error', gone);
        resolve(s);
      });
    });
  }

  return {
    async send(frames) {
      if (!socket || !alive || socket.destroyed) {
        socket?.destroy();
        socket = null;
        socket = await open();
      }
      const s = socket;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          s.destroy();
          reject(new Error(`syslog: write to ${target.host}:${target.port} did not complete within ${writeTimeoutMs} ms`));
        }, writeTimeoutMs);
        s.write(frames, (err) => {
          clearTimeout(timer);
          if (err) reject(err);
          else if (!alive) reject(new Error('syslog: the receiver closed the connection'));
          else resolve();
        });
      }).catch((err: unknown) => {
        alive = false;
        s.destroy();
        throw err;
      });
    },
    async close() {
      const s = socket;
      socket = null;
      alive = false;
      if (!s || s.destroyed) return;
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          s.destroy();
          resolve();
        }, 2000);
        s.end(() => {
          clearTimeout(t);
          resolve();
        });
      });
    },
  };
}
