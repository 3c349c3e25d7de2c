/**
 * One device connection per technician connection, opened on first use and shared by its channels.
 * A host key mismatch is a failed device authentication: audited, counted, and never retried.
 * A certificate device is logged in to with a fresh certificate whose key id,
 * `portcullis:<grantId>:<connection uuid>`, names this connection in the device's own sshd log; each
 * session over it carries that id in its `session.started` audit details (`deviceLogin`).
 */
import { randomUUID } from 'node:crypto';
import type ssh2 from 'ssh2';
import { sshFingerprint } from '../server/crypto/ssh-cert.js';
import { recordHostKeyMismatch } from '../server/core/host-key-changes.js';
import { auditDeviceAuthFailure, openDeviceCredential, type ConnectionGrant } from '../server/core/sessions.js';
import type { ProxyContext } from './context.js';
import { connectDevice, DeviceAuthError } from './device-connection.js';
import { notice } from './notices.js';

export class DeviceUnavailable extends Error {}

export class DeviceLink {
  private client?: Promise<ssh2.Client>;
  /** the key id of the device certificate this connection logged in with; null for vaulted credentials */
  deviceLogin: string | null = null;

  constructor(private ctx: ProxyContext, private conn: ConnectionGrant) {}

  get(): Promise<ssh2.Client> {
    this.client ??= this.open();
    return this.client;
  }

  async close(): Promise<void> {
    const c = await this.client?.catch(() => undefined);
    c?.end();
  }

  private async open(): Promise<ssh2.Client> {
    const { deps, log, metrics } = this.ctx;
    const device = this.conn.device;
    const keyId = `portcullis:${this.conn.grant.id}:${randomUUID()}`;
    try {
      const credential = await openDeviceCredential(deps, device.id, { keyId, permitForwarding: device.policy.allowPortForwarding });
      const client = await connectDevice(device, credential);
      if (credential.kind === 'certificate') {
        this.deviceLogin = keyId;
        log.info({ device: device.name, grantId: this.conn.grant.id, keyId }, 'device login with a device certificate');
      }
      client.on('error', (err) => log.warn({ err: err.message, device: device.name }, 'device connection error'));
      return client;
    } catch (err) {
      if (err instanceof DeviceAuthError) {
        metrics.deviceAuthFailures.inc();
        const pinned = Buffer.from(device.hostKey!.split(' ')[1]!, 'base64');
        await auditDeviceAuthFailure(deps, device, {
          reason: 'host key mismatch',
          presentedFingerprint: sshFingerprint(err.presentedKeyBlob),
          pinnedFingerprint: sshFingerprint(pinned),
          grantId: this.conn.grant.id,
        });
        log.warn({ device: device.name }, 'device host key mismatch: refused');
        // kept as the device's pending host key change, for an approver to compare and re-pin (§8.4)
        await recordHostKeyMismatch(deps, device, err.presented(), {
          kind: 'session', grantId: this.conn.grant.id, technicianId: this.conn.technician.id, connection: keyId,
        }).catch((e: Error) => log.warn({ err: e.message, device: device.name }, 'could not record the host key change'));
        throw new DeviceUnavailable(notice.deviceUnverified);
      }
      log.warn({ err: (err as Error).message, device: device.name }, 'device unreachable');
      throw new DeviceUnavailable(notice.deviceUnreachable);
    }
  }
}
