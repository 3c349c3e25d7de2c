/**
 * WebSocket routes on the broker's HTTP port: the browser terminal (/api/terminal, authenticated by
 * its single-use token) and live watch (/api/sessions/:id/watch, authenticated by the session
 * cookie). Upgrades from a foreign Origin are refused: cookies ride along on cross-site sockets.
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

function reject(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

function cookie(req: http.IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
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
  const onUpgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (!sameOrigin(req, opts.publicUrl)) return reject(socket, 403, 'Forbidden');
    const clientAddress = req.socket.remoteAddress ?? null;
    if (url.pathname === '/api/terminal' && opts.terminal) {
      const terminal = opts.terminal;
      return wss.handleUpgrade(req, socket, head, (ws) => {
        terminal(ws, url, clientAddress).catch((err) => {
          log.error({ err }, 'browser terminal failed');
          ws.close(1011, 'internal error');
        });
      });
    }
    const watch = /^\/api\/sessions\/([0-9a-f-]{36})\/watch$/.exec(url.pathname);
    if (watch) {
      const token = cookie(req, SESSION_COOKIE) ?? /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
      if (!token) return reject(socket, 401, 'Unauthorized');
      void authenticate(deps, token).then(
        (actor) =>
          wss.handleUpgrade(req, socket, head, (ws) => {
            watchSession(deps, actor, watch[1]!, ws).catch((err) => {
              if (!isAppError(err)) log.error({ err }, 'session watch failed');
              ws.send(JSON.stringify({ type: 'end', reason: 'error', message: isAppError(err) ? err.message : 'internal error' }));
              ws.close(isAppError(err) && err.kind === 'not_found' ? 4404 : isAppError(err) ? 4403 : 1011);
            });
          }),
        () => reject(socket, 401, 'Unauthorized'),
      );
      return;
    }
    reject(socket, 404, 'Not Found');
  };
  server.on('upgrade', onUpgrade);
  return () => {
    server.off('upgrade', onUpgrade);
    for (const c of wss.clients) c.terminate();
    wss.close();
  };
}
