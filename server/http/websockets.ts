/**
 * WebSocket routes on the broker's HTTP port: the browser terminal (/api/terminal, authenticated by
 * its single-use token) and live watch (/api/sessions/:id/watch, authenticated by the session
 * cookie). Upgrades from a foreign Origin are refused: cookies ride along on cross-site sockets.
 *
 * Nothing a client sends may throw out of here (SPEC §8.1): the request target and cookies are
 * parsed defensively and answered 400 when they cannot be, the raw socket has an 'error' listener
 * from the first moment (Node removes the HTTP server's own on upgrade), and every WebSocket gets
 * one the moment it exists (a protocol error, e.g. an unmasked frame, is emitted as 'error').
 */
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { authenticate } from '../core/auth.js';
import { isAppError } from '../core/errors.js';
import type { CoreDeps } from '../core/ports.js';
import type { Logger } from '../logger.js';
import { SESSION_COOKIE } from './auth.js';
import { watchSession } from './session-watch.js';

export type TerminalHandler = (ws: WebSocket, url: URL, clientAddress: string | null) => Promise<void>;

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 500: 'Internal Server Error' };

function reject(socket: Duplex, status: number): void {
  if (socket.destroyed) return;
  socket.end(`HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

/** The request target as a URL, or null when it is not one (e.g. `http://[/`). */
function parseRequestTarget(target: string | undefined): URL | null {
  try {
    return new URL(target ?? '/', 'http://localhost');
  } catch {
    return null;
  }
}

/**
 * A cookie's value from a Cookie header: undefined when absent, null when present but not
 * decodable (a malformed %-escape).
 */
function cookieValue(header: string | undefined, name: string): string | null | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    try {
      return decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      return null;
    }
  }
  return undefined;
}

function sameOrigin(req: http.IncomingMessage, publicUrl: string): boolean {
  const origin = req.headers.origin;
  if (!origin) return true; // not a browser: nothing rides along implicitly
  try {
    const u = new URL(origin);
    return u.origin === new URL(publicUrl).origin || u.host === req.headers.host;
  } catch {
    return false;
  }
}

export function attachWebSockets(server: http.Server, deps: CoreDeps, log: Logger, opts: { publicUrl: string; terminal?: TerminalHandler }): () => void {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 256 * 1024 });
  /** completes the handshake; the socket has an 'error' listener before any frame is read */
  const upgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer, route: string, then: (ws: WebSocket) => void) =>
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('error', (err) => log.debug({ err: err.message, route }, 'websocket protocol error'));
      then(ws);
    });

  /** a bug in this connection's code: this connection fails, the process does not */
  const failed = (socket: Duplex, err: unknown) => {
    log.error({ err }, 'websocket upgrade failed');
    reject(socket, 500);
  };

  const route = (req: http.IncomingMessage, socket: Duplex, head: Buffer): void => {
    const url = parseRequestTarget(req.url);
    if (!url) return reject(socket, 400);
    if (!sameOrigin(req, opts.publicUrl)) return reject(socket, 403);
    const clientAddress = req.socket.remoteAddress ?? null;
    if (url.pathname === '/api/terminal' && opts.terminal) {
      const terminal = opts.terminal;
      return upgrade(req, socket, head, 'terminal', (ws) => {
        terminal(ws, url, clientAddress).catch((err) => {
          log.error({ err }, 'browser terminal failed');
          ws.close(1011, 'internal error');
        });
      });
    }
    const watch = /^\/api\/sessions\/([0-9a-f-]{36})\/watch$/.exec(url.pathname);
    if (watch) {
      const fromCookie = cookieValue(req.headers.cookie, SESSION_COOKIE);
      if (fromCookie === null) return reject(socket, 400);
      const token = fromCookie ?? /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
      if (!token) return reject(socket, 401);
      void authenticate(deps, token).then(
        (actor) =>
          upgrade(req, socket, head, 'watch', (ws) => {
            watchSession(deps, actor, watch[1]!, ws).catch((err) => {
              if (!isAppError(err)) log.error({ err }, 'session watch failed');
              ws.send(JSON.stringify({ type: 'end', reason: 'error', message: isAppError(err) ? err.message : 'internal error' }));
              ws.close(isAppError(err) && err.kind === 'not_found' ? 4404 : isAppError(err) ? 4403 : 1011);
            });
          }),
        (err) => {
          if (isAppError(err)) return reject(socket, err.kind === 'forbidden' ? 403 : 401);
          log.error({ err }, 'websocket authentication failed');
          reject(socket, 500);
        },
      ).catch((err) => failed(socket, err));
      return;
    }
    reject(socket, 404);
  };

  const onUpgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    // Node takes the HTTP server's error listener off an upgraded socket: a reset while the token is
    // checked would otherwise be an uncaught 'error' event
    socket.on('error', () => socket.destroy());
    try {
      route(req, socket, head);
    } catch (err) {
      failed(socket, err);
    }
  };
  server.on('upgrade', onUpgrade);
  return () => {
    server.off('upgrade', onUpgrade);
    for (const c of wss.clients) c.terminate();
    wss.close();
  };
}
