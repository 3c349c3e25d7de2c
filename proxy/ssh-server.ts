/**
 * The SSH proxy: technicians connect with plain OpenSSH and a broker-signed certificate; each
 * connection is bound to one grant, relayed to the device with its vaulted credential, recorded,
 * and cut at the grant's end or on revocation. Before authentication a connection is held to the
 * limits in ssh-preauth.ts, and refusals are audited aggregated (refusal-audit.ts).
 */
import net, { type AddressInfo } from 'node:net';
import ssh2 from 'ssh2';
import { publicKeyToSshBlob } from '../server/crypto/ssh-cert.js';
import type { KeyObject } from 'node:crypto';
import type { ProxyContext } from './context.js';
import { DeviceLink } from './device-link.js';
import type { LiveMember } from './live-registry.js';
import { RefusalAudit } from './refusal-audit.js';
import { authenticateTechnician } from './ssh-auth.js';
import { DEFAULT_PREAUTH_LIMITS, PreauthGate, type PreauthLimits, type PreauthTicket } from './ssh-preauth.js';
import { shareReads } from './fair-reads.js';
import { handleForward } from './forward.js';
import { handleSessionChannel } from './ssh-session.js';
import { auditAuthFailure, type ConnectionGrant } from '../server/core/sessions.js';
import { hostCertificatePrincipals, mintHostCertificate } from './host-certificate.js';
import { certifiedHostKeys, presentHostCertificate, sendUserauthBanner } from './ssh2-internals.js';

export interface SshProxyOptions {
  host: string;
  port: number;
  hostKey: string;
  caKey: KeyObject;
  /** the broker's host CA and the public SSH host names: the proxy presents a host certificate for its key */
  hostCertificate?: { caKey: KeyObject; publicHosts: string[] };
  /** pre-authentication limits (SSH_AUTH_TIMEOUT_SECONDS, SSH_MAX_UNAUTHENTICATED_PER_IP); defaults DEFAULT_PREAUTH_LIMITS */
  limits?: Partial<PreauthLimits>;
  /** refused authentications from one source address are audited at most once per window; default 60 s */
  auditWindowMs?: number;
}

/** What a connection's authentication needs from the server around it. */
interface AuthGuards {
  ticket: PreauthTicket;
  refusals: RefusalAudit;
}

export interface SshProxy {
  port: number;
  close(): Promise<void>;
}

function handleClient(ctx: ProxyContext, caBlob: Buffer, client: ssh2.Connection, info: ssh2.ClientInfo, clients: Set<ssh2.Connection>, guards: AuthGuards): void {
  clients.add(client);
  const clientAddress = info.ip ?? null;
  let conn: ConnectionGrant | null = null;
  let link: DeviceLink | null = null;
  let member: LiveMember | null = null;
  let cutOff = false;
  /** the grant this connection is counted against (ctx.connections), once authenticated */
  let counted: string | null = null;
  // the signed request that follows an accepted query for the same key is the same attempt
  let queried: Buffer | null = null;
  const recordRefusal = guards.refusals.record.bind(guards.refusals);

  client.on('authentication', (authCtx) => {
    const followUp = authCtx.method === 'publickey' && !!authCtx.signature && !!queried?.equals(authCtx.key.data);
    queried = null;
    // 'none' only asks which methods there are (OpenSSH starts with it): not an attempt
    if (authCtx.method !== 'none' && !followUp && !guards.ticket.attempt()) {
      ctx.log.info({ clientAddress }, 'too many authentication attempts: disconnecting');
      client.end();
      return;
    }
    authenticateTechnician(ctx.deps, caBlob, authCtx, { clientAddress, recordRefusal }).then(
      (outcome) => {
        if (outcome.kind === 'continue') {
          if (authCtx.method === 'publickey') queried = authCtx.key.data;
          return authCtx.accept();
        }
        if (outcome.kind === 'refused') {
          // why, before the refusal, to a holder of a genuine certificate only (ssh-auth.ts decides)
          if (outcome.banner && !sendUserauthBanner(client, outcome.banner)) ctx.log.warn('could not send an SSH banner (ssh2 internals changed?)');
          if (outcome.audited) ctx.metrics.authFailures.inc({ reason: outcome.reason.split(':')[0]!.slice(0, 40) });
          return authCtx.reject(['publickey']);
        }
        // the client went while its authentication was checked: nothing to count (its 'close' has passed)
        if (!clients.has(client)) return;
        // one more connection of a grant that holds its limit already: refused, audited, and told why
        if (!ctx.connections.take(outcome.conn.grant.id)) {
          const limit = ctx.connections.limit;
          void recordRefusal({
            reason: `too many connections for the grant (limit ${limit})`, principal: authCtx.username.replace(/\0/g, '\ufffd'), clientAddress,
            keyId: outcome.cert.keyId, serial: outcome.cert.serial.toString(), keyFingerprint: outcome.cert.publicKey.fingerprint,
          });
          ctx.metrics.authFailures.inc({ reason: 'too many connections' });
          const banner = `Access refused: this grant already has ${limit} connections through Portcullis, the most allowed. Close one and try again.`;
          if (!sendUserauthBanner(client, banner)) ctx.log.warn('could not send an SSH banner (ssh2 internals changed?)');
          ctx.log.info({ grantId: outcome.conn.grant.id, clientAddress, limit }, 'connection refused: too many connections for the grant');
          return authCtx.reject(['publickey']);
        }
        counted = outcome.conn.grant.id;
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
    guards.ticket.authenticated();
    const c = conn!;
    const deviceLink = new DeviceLink(ctx, c);
    link = deviceLink;
    member = {
      grantId: c.grant.id,
      deviceName: c.device.name,
      notify: () => undefined,
      // The device side is closed at once. The sessions print the reason and close their channels
      // (OpenSSH then exits by itself); disconnecting in the same turn would make the client drop that
      // last output unread, so the connection is ended a little later, and a client that ignores the
      // disconnect loses its socket after the grace period. No new channel opens meanwhile.
      cut: () => {
        if (cutOff) return;
        cutOff = true;
        void deviceLink.close();
        setTimeout(() => client.end(), 400).unref();
        const socket = (client as unknown as { _sock?: { destroy(): void } })._sock;
        setTimeout(() => socket?.destroy(), ctx.cutGraceMs).unref();
      },
    };
    ctx.registry.add(member, c.grant.endsAt);
    // registered, then checked again: a revocation published between the authentication's check and
    // the registration above found nothing to cut (forward-only connections open no session to re-check)
    void ctx.registry.recheck([c.grant.id]);
    ctx.log.info({ grantId: c.grant.id, device: c.device.name, technician: c.technician.username, clientAddress }, 'technician connected');
    client.on('session', (accept, reject) => (cutOff ? reject() : handleSessionChannel(ctx, c, link!, clientAddress, accept())));
    client.on('tcpip', (accept, reject, tinfo) => (cutOff ? reject() : handleForward(ctx, c, deviceLink, clientAddress, accept, reject, tinfo)));
    client.on('request', (_accept, reject) => reject?.());
  });
  client.on('error', (err) => ctx.log.debug({ err: err.message, clientAddress }, 'client connection error'));
  client.on('close', () => {
    clients.delete(client);
    if (counted) ctx.connections.release(counted);
    if (member) ctx.registry.remove(member);
    void link?.close();
  });
}

export async function startSshProxy(ctx: ProxyContext, opts: SshProxyOptions): Promise<SshProxy> {
  const caBlob = publicKeyToSshBlob(opts.caKey);
  const clients = new Set<ssh2.Connection>();
  const limits: PreauthLimits = { ...DEFAULT_PREAUTH_LIMITS, ...opts.limits };
  const gate = new PreauthGate({
    limits,
    onRefused: (reason, source) => {
      ctx.metrics.preauthRefused.inc({ reason });
      ctx.log.debug({ reason, clientAddress: source }, 'connection closed by a pre-authentication limit');
    },
  });
  const refusals = new RefusalAudit({
    windowMs: opts.auditWindowMs ?? 60_000,
    write: (f) => auditAuthFailure(ctx.deps, f),
    onError: (err) => ctx.log.error({ err }, 'could not audit refused SSH authentications'),
  });
  // ssh2 reports a connection only once the client's version line has arrived: the socket's ticket
  // is found again by the client's address and port
  const tickets = new Map<string, PreauthTicket>();
  const certificate = opts.hostCertificate
    ? mintHostCertificate({
        hostKey: opts.hostKey, caKey: opts.hostCertificate.caKey, principals: hostCertificatePrincipals(opts.hostCertificate.publicHosts), now: new Date(),
      })
    : null;
  const { hostKeys, certType } = certifiedHostKeys(opts.hostKey, certificate?.blob ?? null);
  if (certificate && !certType) ctx.log.warn('RSA host key: no host certificate is presented (use an ed25519 or ECDSA SSH_HOST_KEY)');
  const server = new ssh2.Server({ hostKeys, ident: 'Portcullis' }, (client, info) => {
    if (certType && !presentHostCertificate(client, certType)) {
      ctx.log.error('cannot present the host certificate (ssh2 internals changed?): connection closed');
      return client.end();
    }
    const ticket = tickets.get(`${info.ip}|${info.port}`);
    if (!ticket) return client.end();
    handleClient(ctx, caBlob, client, info, clients, { ticket, refusals });
  });
  // our own listener: the per-address limit and the deadline apply before ssh2 sees a byte
  const listener = net.createServer((socket) => {
    socket.on('error', () => undefined); // ssh2 reports socket errors on the connection once it has it
    // ssh2 never sets TCP_NODELAY: without it the handshake stalls ~40 ms twice (FIELD-NOTES), and a
    // keystroke's echo can wait for the previous packet's ACK. Set at accept, before ssh2's first write.
    socket.setNoDelay(true);
    const ticket = gate.admit(socket);
    if (!ticket) return;
    const key = `${socket.remoteAddress}|${socket.remotePort}`;
    tickets.set(key, ticket);
    socket.once('close', () => tickets.delete(key));
    server.injectSocket(socket);
    // after ssh2 has paused it for its handshake: an upload cannot hold up other connections' keystrokes
    shareReads(socket);
  });
  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen(opts.port, opts.host, () => resolve());
  });
  listener.on('error', (err) => ctx.log.error({ err }, 'SSH listener error'));
  const port = (listener.address() as AddressInfo).port;
  ctx.log.info({ port, limits, hostCertificatePrincipals: certType ? certificate!.principals : null }, 'SSH proxy listening');
  return {
    port,
    async close() {
      const closed = new Promise<void>((resolve) => listener.close(() => resolve()));
      gate.close();
      for (const c of clients) c.end();
      // the refusals still held are written while the connections close (the pool closes after us)
      await Promise.all([closed, refusals.close()]);
    },
  };
}
