/**
 * SFTP terminated at the proxy (§8.3): the technician's `sftp` subsystem is a session of its own
 * (channel `sftp`) relayed operation by operation to an SFTP channel on the device, over the same
 * device connection as the technician's other channels. Invariants, as for relay.ts: the session is
 * registered for cut-off before its grant is checked; the grant and the device's policy are read when
 * the channel opens; a cut ends every open file as a `partial` transfer, closes both channels at once
 * and ends the session. Each transfer is a record, an audit event and an `m` marker (plus one output
 * line) in the session's own recording, so replay and evidence show every file in order.
 */
import path from 'node:path';
import type ssh2 from 'ssh2';
import { isAppError } from '../../server/core/errors.js';
import { auditRefusedChannel, authorizeConnection, recordSessionEnd, recordSessionStart, type ConnectionGrant } from '../../server/core/sessions.js';
import { auditRefusedOperation, declaredArtifacts, recordTransfer, type TransferResult } from '../../server/core/transfers.js';
import type { SessionEndReason } from '../../server/core/types.js';
import type { NotifyEvent, SessionContext } from '../../server/core/workflow-ports.js';
import type { ProxyContext } from '../context.js';
import { DeviceUnavailable, type DeviceLink } from '../device-link.js';
import type { CutReason } from '../live-registry.js';
import { createRecorder } from '../recording/recorder.js';
import { superviseInput } from '../supervised-input.js';
import { holdRequests } from './held-requests.js';
import { SftpOperations } from './sftp-operations.js';

function openDeviceSftp(device: ssh2.Client): Promise<ssh2.SFTPWrapper> {
  return new Promise((resolve, reject) => device.sftp((err, sftp) => (err ? reject(err) : resolve(sftp))));
}

/** One line per transfer in the recording: what, where, how much, the hash and the outcome. */
export function transferLine(r: TransferResult): string {
  const hash = r.sha256 ? ` sha256 ${r.sha256}` : '';
  return `${r.direction} ${r.outcome}: ${r.path} (${r.bytes} bytes${hash})${r.reason ? ` — ${r.reason}` : ''}`;
}

/**
 * Ends the technician's SFTP channel with an exit status, as sftp-server's exit would: OpenSSH's scp
 * takes a channel closed without one for a failure. ssh2's SFTP object has no exit(): the request is
 * written with its protocol, like Channel#exit does.
 */
function endChannel(sftp: ssh2.SFTPWrapper, status: number): void {
  const chan = sftp as unknown as { outgoing?: { id: number; state: string }; _protocol?: { exitStatus(id: number, status: number): void } };
  try {
    if (chan.outgoing?.state === 'open' || chan.outgoing?.state === 'eof') chan._protocol?.exitStatus(chan.outgoing.id, status);
    sftp.end();
  } catch {
    // already closed
  }
}

/** How long a refused SFTP session stays open to answer the client's first requests with the reason. */
const REFUSAL_LINGER_MS = 1000;

/**
 * Relays one accepted SFTP subsystem. The caller accepts it at once (see held-requests.ts); until the
 * grant, the policy and the device side are ready the client's requests are held.
 */
export function handleSftpChannel(ctx: ProxyContext, conn: ConnectionGrant, link: DeviceLink, clientAddress: string | null, client: ssh2.SFTPWrapper): void {
  const { deps, log, registry, metrics } = ctx;
  const held = holdRequests(client);
  let clientGone = false;
  // registered for cut-off before the grant is checked (§8.2)
  const opening = registry.addOpening({ grantId: conn.grant.id, deviceName: conn.device.name, endsAt: conn.grant.endsAt }, (_reason, text) => refuse(text));
  const member = opening.member;
  client.on('error', (err: Error) => log.info({ err: err.message }, 'technician SFTP protocol error'));
  const onGoneEarly = () => (clientGone = true);
  // the client's EOF ends the session (as sftp-server exits on EOF): ssh2 does not close the channel itself
  client.on('end', onGoneEarly);
  client.on('close', onGoneEarly);
  let refused = false;
  /** answers the client's requests with the reason for a while, then closes the channel */
  function refuse(text: string): void {
    opening.remove();
    if (refused) return;
    refused = true;
    held.refuse(`Portcullis: ${text}`);
    setTimeout(() => endChannel(client, 1), REFUSAL_LINGER_MS).unref();
  }

  const run = async () => {
    let current: ConnectionGrant;
    try {
      current = await authorizeConnection(deps, { grantId: conn.grant.id, principal: conn.device.name });
    } catch (err) {
      if (!isAppError(err)) throw err;
      return refuse(`access refused: ${err.message}`);
    }
    registry.observe(current.grant.id, current.grant.endsAt);
    const policy = current.device.policy;
    if (!policy.allowUpload && !policy.allowDownload) {
      refuse('file transfer (SFTP) is not allowed on this device by policy');
      await auditRefusedChannel(deps, current, 'SFTP').catch((err) => log.warn({ err }, 'audit failed'));
      return;
    }
    if (opening.cutWhileOpening || clientGone) return refuse('the session ended');
    let device: ssh2.SFTPWrapper;
    try {
      device = await openDeviceSftp(await link.get());
    } catch (err) {
      log.warn({ err: (err as Error).message, device: current.device.name }, 'device SFTP unavailable');
      return refuse(err instanceof DeviceUnavailable ? err.message : 'the device refused to open SFTP');
    }
    device.on('error', (err: Error) => log.warn({ err: err.message }, 'device SFTP error'));
    if (opening.cutWhileOpening || clientGone) {
      device.end();
      return refuse('the session ended');
    }
    const artifacts = await declaredArtifacts(deps, current);
    const { session, recording } = await recordSessionStart(deps, current, {
      channel: 'sftp', command: null, clientAddress, proxyInstance: ctx.instanceId,
      recordingPath: (id) => path.join(ctx.recordingsDir, `${id}.cast`), deviceLogin: link.deviceLogin,
    });
    member.sessionId = session.id;
    const recorder = await createRecorder({
      path: recording!.path, width: 80, height: 24, recordInput: false,
      title: `${current.device.name} — ${current.technician.displayName} (${current.technician.username}) — grant ${current.grant.id} — SFTP`,
    });
    const sessionContext: SessionContext = {
      sessionId: session.id, grantId: current.grant.id, requestId: current.grant.requestId, channel: 'sftp',
      device: { id: current.device.id, name: current.device.name },
      technician: { id: current.technician.id, username: current.technician.username, displayName: current.technician.displayName },
    };
    const tell = (e: NotifyEvent) => void deps.notifier.notify(e).catch((err) => log.warn({ err, sessionId: session.id, event: e.type }, 'session notification failed'));
    tell({ type: 'session.started', session: sessionContext, at: session.startedAt.toISOString() });
    metrics.liveSessions.inc();

    let bytesIn = 0;
    let bytesOut = 0;
    let finished = false;
    const records = new Set<Promise<void>>();
    const onTransfer = (r: TransferResult) => {
      const line = transferLine(r);
      recorder.marker(line);
      recorder.output(Buffer.from(`[portcullis] ${line}\r\n`));
      const work = recordTransfer(deps, current, sessionContext, artifacts, r).then(
        () => undefined,
        (err) => log.error({ err, sessionId: session.id, path: r.path }, 'could not record a transfer'),
      );
      records.add(work);
      void work.finally(() => records.delete(work));
    };
    // a supervised device: files are opened or changed only while an approver of its department
    // watches this session (§8.6); until the first one does, the client's requests wait
    const supervision = policy.supervision === 'required'
      ? superviseInput(ctx, session.id, current.device, { notify: (_text, marker) => recorder.marker(marker) })
      : null;
    const heldBack = () => (supervision?.held ? `waiting for a supervisor from ${policy.approverDepartment} to watch this session` : null);
    const ops = new SftpOperations(client, device, {
      policy, log, now: () => deps.clock.now(), onTransfer, heldBack,
      onRefusedOperation: (operation, p, reason) => {
        recorder.marker(`refused ${operation}: ${p} — ${reason}`);
        void auditRefusedOperation(deps, current, session.id, { operation, path: p, reason }).catch((err) => log.warn({ err }, 'audit failed'));
      },
      onBytes: (direction, n) => (direction === 'in' ? (bytesIn += n) : (bytesOut += n)),
    });

    const finish = async (reason: SessionEndReason, why: string) => {
      if (finished) return;
      finished = true;
      registry.remove(member);
      ops.endAll(why);
      ops.stop();
      endChannel(client, reason === 'client_closed' ? 0 : 1);
      device.end();
      metrics.liveSessions.dec();
      metrics.bytes.inc({ direction: 'in' }, bytesIn);
      metrics.bytes.inc({ direction: 'out' }, bytesOut);
      await Promise.allSettled([...records]);
      try {
        const r = await recorder.close();
        await recordSessionEnd(deps, session.id, { endReason: reason, bytesIn, bytesOut, recording: { bytes: r.bytes, durationMs: r.durationMs, sha256: r.sha256 } });
      } catch (err) {
        log.error({ err, sessionId: session.id }, 'could not finalise SFTP session');
      }
      tell({ type: 'session.ended', session: sessionContext, at: deps.clock.now().toISOString(), endReason: reason });
    };
    const cut = (reason: CutReason, text: string) => {
      supervision?.stop();
      recorder.marker(reason === 'expired' ? 'expired' : `revoked: ${text}`);
      ctx.track(finish(reason, reason === 'expired' ? 'the grant ended during the transfer' : `access was revoked during the transfer: ${text}`));
    };
    opening.live({
      notify: (_text, marker) => recorder.marker(marker),
      cut: (reason, text) => (finished ? undefined : cut(reason, text)),
    });
    if (supervision) {
      member.supervisionChanged = () => void supervision.refresh();
      client.once('close', () => supervision.stop());
      device.once('close', () => supervision.stop());
      await supervision.start();
      if (supervision.held) recorder.marker('input held: no supervisor');
      await supervision.whenSupervised();
      if (finished) return;
    }
    // (a getter: it may have been set during the awaits above)
    const early = opening.cutWhileOpening as { reason: CutReason; text: string } | null;
    if (early) return cut(early.reason, early.text);
    if (clientGone) return void (await finish('client_closed', 'the session ended before it started'));
    client.removeListener('end', onGoneEarly);
    client.removeListener('close', onGoneEarly);
    const clientEnded = () => {
      supervision?.stop();
      ctx.track(finish('client_closed', 'the technician closed the session with the file open'));
    };
    client.on('end', clientEnded);
    client.on('close', clientEnded);
    device.on('close', () => ctx.track(finish('device_closed', 'the device closed the session')));
    ops.attach();
    held.release();
  };

  run().catch((err) => {
    log.error({ err }, 'SFTP relay failed');
    refuse('internal error');
  });
}
