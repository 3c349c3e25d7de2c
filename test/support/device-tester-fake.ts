/**
 * The harness's device connection test: passes by default (most tests deploy devices at addresses
 * nothing listens on), can be told an outcome, or can run the real test (proxy/device-tester.ts)
 * against a real sshd.
 */
import type { DeviceTester, DeviceTestOutcome } from '../../server/core/ports.js';
import type { Device, DeviceCredential } from '../../server/core/types.js';

export class SettableDeviceTester implements DeviceTester {
  /** what a test answers while no real tester is set */
  outcome: DeviceTestOutcome = { ok: true };
  /** set: every test runs through it */
  real: DeviceTester | null = null;
  /** the names of the devices tested, in order */
  readonly tested: string[] = [];

  async test(device: Device, credential: DeviceCredential): Promise<DeviceTestOutcome> {
    this.tested.push(device.name);
    return this.real ? this.real.test(device, credential) : this.outcome;
  }

  /** back to passing every test */
  reset(): void {
    this.outcome = { ok: true };
    this.real = null;
  }
}
