/**
 * The SSH proxy: technicians connect with plain OpenSSH and a broker-signed certificate; each
 * connection is bound to one grant, relayed to the device with its vaulted credential, recorded,
 * and cut at the grant's end or on revocation.
 */
import type { AddressInfo } from 'node:net';
import ssh2 from 'ssh2';
import { publicKeyToSshBlob } from '../server/crypto/ssh-cert.js';
import type { KeyObject } from 'node:crypto';
import type { ProxyContext } from './context.js';
import { DeviceLink } from './device-link.js';
import type { LiveMember } from './live-registry.js';
import { authenticateTechnician } from './ssh-auth.js';
import { handleSessionChannel, handleTcpip } from './ssh-session.js';
import type { ConnectionGrant } from '../server/core/sessions.js';

export interface SshProxyOptions {
  host: string;
  port: number;
  hostKey: string;
  caKey: KeyObject;
}

export interface SshProxy {
  port: number;
  close(): Promise<void>;
}

function handleClient(ctx: ProxyContext, caBlob: Buffer, client: ssh2.Connection, info: ssh2.ClientInfo, clients: Set<ssh2.Connection>): void {
  clients.add(client);
  // ssh2 never sets TCP_NODELAY: without it the handshake stalls ~40 ms twice (FIELD-NOTES)
  (client as unknown as { setNoDelay(on: boolean): void }).setNoDelay(true);
  const clientAddress = info.ip ?? null;
  let conn: ConnectionGrant | null = null;
  let link: DeviceLink | null = null;
  let member: LiveMember | null = null;
  let cutOff = false;

  client.on('authentication', (authCtx) => {
    authenticateTechnician(ctx.deps, caBlob, authCtx, { clientAddress }).then(
      (outcome) => {
        if (outcome.kind === 'continue') return authCtx.accept();
        if (outcome.kind === 'refused') {
          if (outcome.audited) ctx.metrics.authFailures.inc({ reason: outcome.reason.split(':')[0]!.slice(0, 40) });
          return authCtx.reject(['publickey']);
        }
        conn = outcome.conn;
        authCtx.accept();
      },
      (err) => {
        ctx.log.error({ err }, 'authentication error');
        authCtx.reject(['publickey']);
      },
    );
  });

  client.on('ready', () => {
    const c = conn!;
    link = new DeviceLink(ctx, c);
    member = {
      grantId: c.grant.id,
      notify: () => undefined,
      // The sessions print the reason and close their channels (OpenSSH then exits by itself).
      // Disconnecting in the same turn would make the client drop that last output unread, so the
      // connection is ended only a little later, as a backstop; no new channel opens meanwhile.
      cut: () => {
        cutOff = true;
        setTimeout(() => client.end(), 400).unref();
      },
    };
    ctx.registry.add(member, c.grant.endsAt);
    ctx.log.info({ grantId: c.grant.id, device: c.device.name, technician: c.technician.username, clientAddress }, 'technician connected');
    client.on('session', (accept, reject) => (cutOff ? reject() : handleSessionChannel(ctx, c, link!, clientAddress, accept())));
    client.on('tcpip', (accept, reject, tinfo) => (cutOff ? reject() : handleTcpip(ctx, c, link!, accept, reject, tinfo)));
    client.on('request', (_accept, reject) => reject?.());
  });
  client.on('error', (err) => ctx.log.debug({ err: err.message, clientAddress }, 'client connection error'));
  client.on('close', () => {
    clients.delete(client);
    if (member) ctx.registry.remove(member);
    void link?.close();
  });
}

export async function startSshProxy(ctx: ProxyContext, opts: SshProxyOptions): Promise<SshProxy> {
  const caBlob = publicKeyToSshBlob(opts.caKey);
  const clients = new Set<ssh2.Connection>();
  const server = new ssh2.Server({ hostKeys: [opts.hostKey], ident: 'Portcullis' }, (client, info) => handleClient(ctx, caBlob, client, info, clients));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  ctx.log.info({ port }, 'SSH proxy listening');
  return {
    port,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const c of clients) c.end();
      await closed;
    },
  };
}
