/**
 * Port forwarding (`ssh -L`): each forwarded channel is a session of its own (channel `forward`) with
 * byte counts and audited start and end. Invariants: it reaches only the device itself — its own
 * address, or its loopback as seen from the device — and only the ports in `policy.forwardPorts`;
 * the policy and the grant are read when the channel opens; it is registered for cut-off before
 * either is checked. Forwarded bytes are counted, not recorded (they are not a terminal).
 */
import type ssh2 from 'ssh2';
import { isAppError } from '../server/core/errors.js';
import { auditRefusedChannel, authorizeConnection, recordSessionEnd, recordSessionStart, type ConnectionGrant } from '../server/core/sessions.js';
import type { Device, SessionEndReason } from '../server/core/types.js';
import type { ProxyContext } from './context.js';
import type { DeviceLink } from './device-link.js';

const DEVICE_LOOPBACK = new Set(['localhost', '127.0.0.1', '::1']);

/** Why a forward to `host:port` is refused by the device's policy (null: allowed). */
export function forwardRefusal(device: Device, host: string, port: number): string | null {
  if (!device.policy.allowPortForwarding) return 'port forwarding is not allowed on this device';
  // forwarded bytes are not a terminal a supervisor could watch: a supervised device forwards nothing
  if (device.policy.supervision === 'required') return 'port forwarding is not available on a supervised device';
  const target = host.toLowerCase();
  if (target !== device.address.toLowerCase() && !DEVICE_LOOPBACK.has(target)) return `forwarding reaches only the device itself, not ${host}`;
  if (!device.policy.forwardPorts.includes(port)) return `port ${port} is not among the device's forwardable ports`;
  return null;
}

function openForward(device: ssh2.Client, info: ssh2.TcpipRequestInfo): Promise<ssh2.ClientChannel> {
  return new Promise((resolve, reject) =>
    device.forwardOut(info.srcIP, info.srcPort, info.destIP, info.destPort, (err, ch) => (err ? reject(err) : resolve(ch))),
  );
}

export function handleForward(
  ctx: ProxyContext,
  conn: ConnectionGrant,
  link: DeviceLink,
  clientAddress: string | null,
  accept: () => ssh2.ServerChannel,
  reject: () => void,
  info: ssh2.TcpipRequestInfo,
): void {
  const { deps, log, registry, metrics } = ctx;
  let stop: ((reason: SessionEndReason) => void) | null = null;
  // registered before the grant is checked; a cut while opening is remembered and refuses the forward
  const opening = registry.addOpening({ grantId: conn.grant.id, deviceName: conn.device.name, endsAt: conn.grant.endsAt }, () => undefined);
  const member = opening.member;
  const cutReason = () => opening.cutWhileOpening?.reason ?? null;
  const target = { destIP: info.destIP, destPort: info.destPort };

  const run = async () => {
    let current: ConnectionGrant;
    try {
      current = await authorizeConnection(deps, { grantId: conn.grant.id, principal: conn.device.name });
    } catch (err) {
      if (!isAppError(err)) throw err;
      return reject();
    }
    registry.observe(current.grant.id, current.grant.endsAt);
    const refused = forwardRefusal(current.device, info.destIP, info.destPort);
    if (refused) {
      reject();
      await auditRefusedChannel(deps, current, 'port forwarding', { ...target, why: refused });
      return;
    }
    if (cutReason()) return reject();
    const remote = await openForward(await link.get(), info).catch((err: Error) => {
      log.info({ err: err.message, ...target, device: current.device.name }, 'device refused the forward');
      return null;
    });
    if (!remote) return reject();
    if (cutReason()) {
      remote.close();
      return reject();
    }
    const local = accept();
    const { session } = await recordSessionStart(deps, current, {
      channel: 'forward', command: `${info.destIP}:${info.destPort}`, clientAddress, proxyInstance: ctx.instanceId,
      deviceLogin: link.deviceLogin,
    });
    member.sessionId = session.id;
    metrics.liveSessions.inc();
    let bytesIn = 0;
    let bytesOut = 0;
    let ended = false;
    stop = (reason) => {
      if (ended) return;
      ended = true;
      registry.remove(member);
      remote.close();
      local.close();
      metrics.liveSessions.dec();
      metrics.bytes.inc({ direction: 'in' }, bytesIn);
      metrics.bytes.inc({ direction: 'out' }, bytesOut);
      ctx.track(
        recordSessionEnd(deps, session.id, { endReason: reason, bytesIn, bytesOut }).then(
          () => undefined,
          (err) => log.error({ err, sessionId: session.id }, 'could not finalise forward session'),
        ),
      );
    };
    local.on('data', (d: Buffer) => (bytesIn += d.length));
    remote.on('data', (d: Buffer) => (bytesOut += d.length));
    local.on('error', () => undefined);
    remote.on('error', () => undefined);
    local.pipe(remote).pipe(local);
    local.on('close', () => stop?.('client_closed'));
    remote.on('close', () => stop?.('device_closed'));
    const end = stop;
    opening.live({ notify: () => undefined, cut: (reason) => end(reason) });
    const early = cutReason();
    if (early) end(early);
  };
  run().catch((err) => {
    log.error({ err }, 'forward failed');
    opening.remove();
    try {
      reject();
    } catch {
      // already accepted: the channel closes with the connection
    }
  }).finally(() => {
    if (!stop) opening.remove();
  });
}
