/**
 * One recorded session: a client channel (SSH channel or browser WebSocket) relayed to a channel
 * on the device. Backpressure is kept both ways by piping; every byte the technician sees is
 * recorded; the session ends exactly once, with its reason, byte counts and recording hash.
 */
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type ssh2 from 'ssh2';
import { isAppError } from '../server/core/errors.js';
import { auditRefusedChannel, authorizeConnection, recordSessionEnd, recordSessionStart, type ConnectionGrant } from '../server/core/sessions.js';
import type { DevicePolicy, Session, SessionEndReason } from '../server/core/types.js';
import type { NotifyEvent, SessionContext } from '../server/core/workflow-ports.js';
import type { ProxyContext } from './context.js';
import { DeviceUnavailable, type DeviceLink } from './device-link.js';
import type { CutReason, LiveMember } from './live-registry.js';
import { IdleWatch } from './idle-watch.js';
import { superviseInput } from './supervised-input.js';
import { notice } from './notices.js';
import { createWorkerRecorder, type WorkerRecorder } from './recording/worker-recorder.js';

export interface PtyInfo {
  term: string;
  cols: number;
  rows: number;
  width: number;
  height: number;
}

export interface ExitInfo {
  code: number | null;
  signal?: string;
}

/** The technician's side of a session. */
export interface ClientChannel {
  input: Readable;
  stdout: Writable;
  stderr: Writable | null;
  /** shows a broker notice to the technician (terminal line or stderr line) */
  notice(text: string): void;
  /** ends the client side once its output has drained, with the device's exit status if known */
  close(exit: ExitInfo | null): void;
  onClosed(listener: () => void): void;
}

export interface RelaySpec {
  channel: 'shell' | 'exec' | 'browser';
  command: string | null;
  pty: PtyInfo | null;
  env: Record<string, string>;
  clientAddress: string | null;
  /** told the session id once the session is recorded */
  onStart?: (sessionId: string) => void;
  /** told why the session ended, before the client side is closed */
  onEnd?: (reason: SessionEndReason, message: string) => void;
}

export interface Relay {
  resize(cols: number, rows: number, width?: number, height?: number): void;
  signal(name: string): void;
}

interface DeviceChannel {
  channel: ssh2.ClientChannel;
  /** the device's exit status or signal, once it has sent one */
  exit(): ExitInfo | null;
}

/**
 * Opens the shell or exec channel on the device. The exit listener is attached inside ssh2's
 * callback, in the same turn: a short command's `exit-status` often arrives in the same TCP read as
 * the request's CHANNEL_SUCCESS, and ssh2 emits 'exit' synchronously while parsing it — a listener
 * attached after an `await` misses it and the client then gets no exit status at all (issue 19).
 */
function openDeviceChannel(device: ssh2.Client, spec: RelaySpec): Promise<DeviceChannel> {
  const pty = spec.pty ? { term: spec.pty.term, cols: spec.pty.cols, rows: spec.pty.rows, width: spec.pty.width, height: spec.pty.height } : undefined;
  return new Promise((resolve, reject) => {
    const done = (err: Error | undefined, channel: ssh2.ClientChannel) => {
      if (err) return reject(err);
      let exit: ExitInfo | null = null;
      channel.on('exit', (code: number | null, signal?: string) => (exit = code !== null && code !== undefined ? { code } : { code: null, ...(signal ? { signal } : {}) }));
      resolve({ channel, exit: () => exit });
    };
    if (spec.command !== null) device.exec(spec.command, { pty, env: spec.env }, done);
    else device.shell(pty ?? false, { env: spec.env }, done);
  });
}

/** What the device's policy, read now, refuses of this channel: the audited kind and the words for people. */
function refusedByPolicy(policy: DevicePolicy, spec: RelaySpec): { what: string; phrase: string } | null {
  if (spec.channel === 'exec' && !policy.allowExec) return { what: 'exec', phrase: 'running commands (exec)' };
  // a shell without a pty is a command runner fed from stdin (`ssh dev < script.sh`): exec by another name
  if (spec.channel === 'shell' && !spec.pty && !policy.allowExec) {
    return { what: 'shell without a pty', phrase: 'a shell without a terminal (commands from stdin)' };
  }
  return null;
}

export async function startRelay(ctx: ProxyContext, conn: ConnectionGrant, link: DeviceLink, client: ClientChannel, spec: RelaySpec): Promise<Relay | null> {
  const { deps, log, registry, metrics } = ctx;
  let clientGone = false;
  client.onClosed(() => (clientGone = true));

  // Registered for cut-off before the grant is checked (§8.2): a revocation that lands while the grant
  // is read, the device connection opens or the session is written still reaches this session.
  const opening = registry.addOpening({ grantId: conn.grant.id, deviceName: conn.device.name, endsAt: conn.grant.endsAt }, (reason, text) => {
    client.notice(text);
    spec.onEnd?.(reason, text);
    client.close({ code: 255 });
  });
  const member = opening.member;
  // once relaying: the registry's cuts, and the session's own idle logoff
  let live: { notify: LiveMember['notify']; cut(reason: CutReason | 'idle', text: string): void } | null = null;
  const abandon = () => {
    opening.remove();
    return null;
  };

  let current: ConnectionGrant;
  let device: ssh2.Client;
  try {
    // the grant is checked again for every channel: it may have ended since the connection was made,
    // and the device's policy is read now, not at login
    current = await authorizeConnection(deps, { grantId: conn.grant.id, principal: conn.device.name });
    registry.observe(current.grant.id, current.grant.endsAt);
    const refused = refusedByPolicy(current.device.policy, spec);
    if (refused) {
      const text = notice.notAllowed(refused.phrase);
      client.notice(text);
      spec.onEnd?.('error', text);
      client.close({ code: 126 });
      await auditRefusedChannel(deps, current, refused.what).catch((err) => log.warn({ err }, 'audit failed'));
      return abandon();
    }
    if (opening.cutWhileOpening || clientGone) return abandon();
    device = await link.get();
  } catch (err) {
    const text = err instanceof DeviceUnavailable ? err.message : isAppError(err) ? `access refused: ${err.message}` : 'internal error';
    if (!isAppError(err) && !(err instanceof DeviceUnavailable)) log.error({ err }, 'relay start failed');
    if (!opening.cutWhileOpening) {
      client.notice(text);
      spec.onEnd?.('error', text);
      client.close({ code: 255 });
    }
    return abandon();
  }
  if (opening.cutWhileOpening || clientGone) return abandon();

  // the session and its recording; if either cannot be written the relay fails (the caller tells the
  // technician) and nothing stays registered
  let session: Session;
  let recorder: WorkerRecorder;
  try {
    const started = await recordSessionStart(deps, current, {
      channel: spec.channel, command: spec.command, clientAddress: spec.clientAddress, proxyInstance: ctx.instanceId,
      recordingPath: (id) => path.join(ctx.recordingsDir, `${id}.cast`), deviceLogin: link.deviceLogin,
    });
    session = started.session;
    member.sessionId = session.id;
    // encoded, written and hashed in the recording worker: the relay's thread only copies the bytes
    recorder = await createWorkerRecorder({
      path: started.recording!.path,
      width: spec.pty?.cols ?? 80,
      height: spec.pty?.rows ?? 24,
      title: `${current.grant.emergency ? 'EMERGENCY (break-glass) — ' : ''}${current.device.name} — ${current.technician.displayName} (${current.technician.username}) — grant ${current.grant.id}`,
      ...(spec.command !== null ? { command: spec.command } : {}),
      recordInput: ctx.recordInput,
      // The backlog before the relay pauses the device (`congested`): raw bytes not yet with the worker, and
      // in the worker the encoded bytes not yet on disk, each held under this. At 1 MiB (the default) a bulk
      // download (~150-300 MiB/s) outran one append's latency under load (p99 2 ms, max 7 ms on this kind of
      // machine); 8 MiB covers those stalls (see README, Benchmark). Memory is only used while a session's
      // recording is behind, and stays bounded per session.
      maxBufferedBytes: 8 * 1024 * 1024,
    });
  } catch (err) {
    opening.remove();
    throw err;
  }
  spec.onStart?.(session.id);
  // notifiers (Slack) hear of the session's start and end; a failing notifier never touches the session
  const sessionContext: SessionContext = {
    sessionId: session.id, grantId: current.grant.id, requestId: current.grant.requestId, channel: spec.channel,
    device: { id: current.device.id, name: current.device.name },
    technician: { id: current.technician.id, username: current.technician.username, displayName: current.technician.displayName },
  };
  const tell = (e: NotifyEvent) => void deps.notifier.notify(e).catch((err) => log.warn({ err, sessionId: session.id, event: e.type }, 'session notification failed'));
  tell({ type: 'session.started', session: sessionContext, at: session.startedAt.toISOString() });
  let bytesIn = 0;
  let bytesOut = 0;
  let endReason: SessionEndReason | null = null;
  let finished = false;
  let devChannel: ssh2.ClientChannel | null = null;
  metrics.liveSessions.inc();

  const finish = async (reason: SessionEndReason) => {
    if (finished) return;
    finished = true;
    registry.remove(member);
    metrics.liveSessions.dec();
    metrics.bytes.inc({ direction: 'in' }, bytesIn);
    metrics.bytes.inc({ direction: 'out' }, bytesOut);
    try {
      const r = await recorder.close();
      await recordSessionEnd(deps, session.id, { endReason: reason, bytesIn, bytesOut, recording: { bytes: r.bytes, durationMs: r.durationMs, sha256: r.sha256 } });
    } catch (err) {
      log.error({ err, sessionId: session.id }, 'could not finalise session');
    }
    tell({ type: 'session.ended', session: sessionContext, at: deps.clock.now().toISOString(), endReason: reason });
  };
  const cutMarker = (reason: CutReason | 'idle', text: string) => {
    recorder.marker(reason === 'expired' ? 'expired' : reason === 'idle' ? `idle: ${text}` : `revoked: ${text}`);
    recorder.output(Buffer.from(`\r\n[portcullis] ${text}\r\n`));
  };
  let idle: IdleWatch | null = null;
  let supervisionStop: (() => void) | null = null;

  live = {
    notify(text, marker) {
      recorder.marker(marker);
      client.notice(text);
      recorder.output(Buffer.from(`\r\n[portcullis] ${text}\r\n`));
    },
    cut(reason: CutReason | 'idle', text) {
      if (finished) return;
      idle?.stop();
      supervisionStop?.();
      endReason ??= reason;
      cutMarker(reason, text);
      client.notice(text);
      spec.onEnd?.(endReason, text);
      client.close({ code: 255 });
      // the device side goes at once, whatever the client does
      devChannel?.close();
      ctx.track(finish(endReason));
    },
  };
  opening.live(live);
  // (a getter: it may have been set during the awaits above)
  const earlyCut = opening.cutWhileOpening as { reason: CutReason; text: string } | null;
  if (earlyCut) {
    // cut while the session was being written: the technician was already told, nothing was relayed
    cutMarker(earlyCut.reason, earlyCut.text);
    await finish(earlyCut.reason);
    return null;
  }

  // supervised device: input is held until an approver of its department watches; a command (exec)
  // waits for one before it is sent at all
  const supervision = current.device.policy.supervision === 'required' ? superviseInput(ctx, session.id, current.device, live) : null;
  if (supervision) {
    member.supervisionChanged = () => void supervision.refresh();
    supervisionStop = () => supervision.stop();
    client.onClosed(() => supervision.stop());
    await supervision.start();
    if (supervision.held) live.notify(notice.supervisionHeld(current.device.policy.approverDepartment, spec.channel === 'exec'), 'input held: no supervisor');
    if (spec.channel === 'exec') await supervision.whenSupervised();
    if (finished || clientGone) {
      supervision.stop();
      await finish(endReason ?? 'client_closed');
      return null;
    }
  }

  let opened: DeviceChannel;
  try {
    opened = await openDeviceChannel(device, spec);
    devChannel = opened.channel;
  } catch (err) {
    if (finished) return null;
    log.warn({ err: (err as Error).message, device: current.device.name }, 'device refused the channel');
    client.notice('the device refused to open the session');
    spec.onEnd?.('error', 'the device refused to open the session');
    client.close({ code: 255 });
    await finish('error');
    return null;
  }
  const ch = devChannel;
  if (finished || clientGone) {
    ch.close();
    await finish(endReason ?? 'client_closed');
    return null;
  }
  // automatic logoff: no technician input for the device's idle timeout cuts an interactive session (the
  // grant stays). A command without a terminal is not interactive: a firmware flash that runs for half
  // an hour without input must not be cut halfway.
  const idleMinutes = current.device.policy.idleTimeoutMinutes;
  if (idleMinutes > 0 && spec.pty) {
    idle = new IdleWatch({
      timeoutMs: idleMinutes * 60_000, clock: deps.clock, timers: ctx.timers,
      onWarn: (msLeft) => live?.notify(notice.idleWarning(msLeft), `idle warning: ${Math.round(msLeft / 1000)} s left`),
      onIdle: () => live?.cut('idle', notice.idle(idleMinutes)),
    });
  }

  // Every byte the technician sees is recorded: when the recording falls behind (a bulk download can
  // outrun the disk for tens of ms), the device's output is paused until it has caught up — the SSH
  // window then holds the device back — instead of the recorder dropping output. pipe() may resume a
  // paused source when the client drains, so the gate is checked again on every chunk.
  const gate = (source: Readable, sink: Writable) => {
    let waiting = false;
    return () => {
      if (!recorder.congested) return;
      source.pause();
      if (waiting) return;
      waiting = true;
      void recorder.drained().then(() => {
        waiting = false;
        if (!sink.writableNeedDrain) source.resume(); // otherwise pipe() resumes it on 'drain'
      });
    };
  };
  const errSink = client.stderr ?? client.stdout;
  const gateOut = gate(ch, client.stdout);
  const gateErr = gate(ch.stderr, errSink);
  ch.on('data', (chunk: Buffer) => {
    bytesOut += chunk.length;
    recorder.output(chunk);
    gateOut();
  });
  ch.stderr.on('data', (chunk: Buffer) => {
    bytesOut += chunk.length;
    recorder.output(chunk);
    gateErr();
  });
  ch.pipe(client.stdout, { end: false });
  ch.stderr.pipe(errSink, { end: false });
  // what the technician types counts as activity even while held; only what reaches the device is
  // counted and recorded. Input is recorded too (RECORD_INPUT): a fast upload through stdin waits for
  // the recording as output does.
  client.input.on('data', () => idle?.touch());
  const toDevice: Readable = supervision ? client.input.pipe(supervision.filter()) : client.input;
  const gateIn = gate(toDevice, ch);
  toDevice.on('data', (chunk: Buffer) => {
    bytesIn += chunk.length;
    recorder.input(chunk);
    gateIn();
  });
  toDevice.pipe(ch);
  ch.on('close', () => {
    supervision?.stop();
    if (finished) return;
    // an exit code means the session ended normally (the technician typed exit, the command
    // finished, stdin ended); a signal or no status at all means the device ended it (a killed
    // process, a reboot, a lost connection)
    const exit = opened.exit();
    const reason = endReason ?? (clientGone || exit?.code != null ? 'client_closed' : 'device_closed');
    spec.onEnd?.(reason, exit?.code !== null && exit?.code !== undefined ? `the session ended (exit status ${exit.code})` : 'the session ended');
    client.close(exit);
    ctx.track(finish(reason));
  });
  client.onClosed(() => {
    if (finished) return;
    ch.close();
    ctx.track(finish(endReason ?? 'client_closed'));
  });

  return {
    resize(cols, rows, width = 0, height = 0) {
      recorder.resize(cols, rows);
      ch.setWindow(rows, cols, height, width);
    },
    signal(name) {
      // ssh2 throws on a signal name it does not know: a client must not be able to crash the proxy
      try {
        ch.signal(name);
      } catch {
        log.debug({ signal: name }, 'unknown signal ignored');
      }
    },
  };
}
