/**
 * Small loopback TCP parts for end-to-end tests of what crosses the proxy: a server that counts (and
 * optionally echoes) what it receives, a relay between a client and a server that can delay the
 * connection onward and stop passing the server's bytes to the client (a client that never hears the
 * server's goodbye), and a client that keeps writing into a port. Times are performance.now().
 */
import net from 'node:net';

const now = () => performance.now();

export interface TcpSink {
  host: string;
  port: number;
  /** bytes received over all connections */
  readonly received: number;
  /** connections accepted */
  readonly connections: number;
  /** bytes received at or after `at` */
  receivedSince(at: number): number;
  close(): Promise<void>;
}

/** Listens on host:port (default 127.0.0.1, a free port); `echo` writes back what it receives. */
export async function startTcpSink(opts: { host?: string; port?: number; echo?: boolean } = {}): Promise<TcpSink> {
  const host = opts.host ?? '127.0.0.1';
  const arrivals: { at: number; bytes: number }[] = [];
  const sockets = new Set<net.Socket>();
  let received = 0;
  let connections = 0;
  const server = net.createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    socket.on('data', (d: Buffer) => {
      received += d.length;
      arrivals.push({ at: now(), bytes: d.length });
      if (opts.echo) socket.write(d);
    });
  });
  await listen(server, host, opts.port ?? 0);
  return {
    host,
    port: (server.address() as net.AddressInfo).port,
    get received() {
      return received;
    },
    get connections() {
      return connections;
    },
    receivedSince: (at) => arrivals.filter((a) => a.at >= at).reduce((n, a) => n + a.bytes, 0),
    close: () => closeServer(server, sockets),
  };
}

/** One client connection through a relay. */
export interface RelayLink {
  acceptedAt: number;
  /** when the connection onward was made (after the relay's delay) */
  upstreamConnectedAt: number | null;
  /** when the server half-closed (FIN) */
  upstreamEndedAt: number | null;
  /** when the server side was gone entirely (closed or reset) */
  upstreamClosedAt: number | null;
  /** server → client bytes dropped while held */
  droppedDown: number;
}

export interface TcpRelay {
  port: number;
  readonly links: readonly RelayLink[];
  /** resolves with the first link accepted */
  accepted(): Promise<RelayLink>;
  /**
   * From now on nothing the server sends reaches the client, not even its FIN or reset: the client
   * keeps its socket and goes on writing, which still reaches the server.
   */
  holdDownstream(): void;
  close(): Promise<void>;
}

/** Relays 127.0.0.1:<free port> to 127.0.0.1:targetPort; each connection onward is opened `delayMs` after the client's. */
export async function startTcpRelay(opts: { targetPort: number; delayMs?: number }): Promise<TcpRelay> {
  const links: RelayLink[] = [];
  const sockets = new Set<net.Socket>();
  const waiting: ((l: RelayLink) => void)[] = [];
  let held = false;
  const track = (s: net.Socket) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  };
  // half-open allowed on both sides: a FIN from one side is passed on (or held), never answered by the relay
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) => {
    track(client);
    client.setNoDelay(true);
    const link: RelayLink = { acceptedAt: now(), upstreamConnectedAt: null, upstreamEndedAt: null, upstreamClosedAt: null, droppedDown: 0 };
    links.push(link);
    for (const w of waiting.splice(0)) w(link);
    const connect = () => {
      if (client.destroyed) return;
      const upstream = net.connect({ host: '127.0.0.1', port: opts.targetPort, allowHalfOpen: true });
      track(upstream);
      upstream.setNoDelay(true);
      upstream.on('connect', () => {
        link.upstreamConnectedAt = now();
        client.resume();
      });
      client.on('data', (d: Buffer) => {
        if (!upstream.destroyed) upstream.write(d);
      });
      client.on('end', () => upstream.end());
      client.on('close', () => upstream.destroy());
      upstream.on('data', (d: Buffer) => {
        if (held) link.droppedDown += d.length;
        else client.write(d);
      });
      upstream.on('end', () => {
        link.upstreamEndedAt = now();
        if (!held) client.end();
      });
      upstream.on('close', () => {
        link.upstreamClosedAt = now();
        if (!held) client.destroy();
      });
    };
    if (opts.delayMs) setTimeout(connect, opts.delayMs);
    else connect();
  });
  await listen(server, '127.0.0.1', 0);
  return {
    port: (server.address() as net.AddressInfo).port,
    links,
    accepted: () => (links[0] ? Promise.resolve(links[0]) : new Promise((resolve) => waiting.push(resolve))),
    holdDownstream() {
      held = true;
    },
    close: () => closeServer(server, sockets),
  };
}

export interface Pusher {
  /** bytes written so far */
  readonly written: number;
  /** true once the connection is gone */
  readonly closed: boolean;
  stop(): void;
}

/** Connects to 127.0.0.1:port and writes `chunkBytes` every `intervalMs` until stopped or the connection closes. */
export function startPusher(port: number, opts: { chunkBytes?: number; intervalMs?: number } = {}): Promise<Pusher> {
  const chunk = Buffer.alloc(opts.chunkBytes ?? 512, 0x61);
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let written = 0;
    let closed = false;
    let timer: NodeJS.Timeout | undefined;
    s.on('error', (err) => (timer ? undefined : reject(err)));
    s.on('close', () => {
      closed = true;
      clearInterval(timer);
    });
    s.on('connect', () => {
      timer = setInterval(() => {
        if (s.writable) {
          s.write(chunk);
          written += chunk.length;
        }
      }, opts.intervalMs ?? 50);
      resolve({
        get written() {
          return written;
        },
        get closed() {
          return closed;
        },
        stop() {
          clearInterval(timer);
          s.destroy();
        },
      });
    });
  });
}

/**
 * Connects to 127.0.0.1:port (retrying while nothing listens yet, e.g. before `ssh -L` has bound it),
 * writes `payload`, and collects what comes back until `expectBytes` arrived, the peer closed, or
 * `timeoutMs` passed.
 */
export async function tcpExchange(port: number, payload: string, opts: { expectBytes?: number; timeoutMs?: number } = {}): Promise<{ data: string; closed: boolean }> {
  const deadline = now() + (opts.timeoutMs ?? 5000);
  for (;;) {
    const r = await new Promise<{ data: string; closed: boolean } | null>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      let data = '';
      let timer: NodeJS.Timeout | undefined;
      const finish = (closed: boolean) => {
        clearTimeout(timer);
        s.destroy();
        resolve({ data, closed });
      };
      s.on('error', () => (timer ? finish(true) : resolve(null)));
      s.on('connect', () => {
        timer = setTimeout(() => finish(false), Math.max(200, deadline - now()));
        s.on('data', (d) => {
          data += d;
          if (opts.expectBytes !== undefined && Buffer.byteLength(data) >= opts.expectBytes) finish(false);
        });
        s.on('end', () => finish(true));
        s.write(payload);
      });
    });
    if (r) return r;
    if (now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

function listen(server: net.Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function closeServer(server: net.Server, sockets: Set<net.Socket>): Promise<void> {
  for (const s of sockets) s.destroy();
  return new Promise((resolve) => server.close(() => resolve()));
}
