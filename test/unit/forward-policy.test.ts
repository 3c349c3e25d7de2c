/** Which forwards a device's policy allows (SPEC §8.2): only the device itself, only listed ports, never on a supervised device. */
import { describe, expect, it } from 'vitest';
import { defaultPolicy } from '../../server/core/devices.js';
import type { Device } from '../../server/core/types.js';
import { forwardRefusal } from '../../proxy/forward.js';

const device = (policy: Partial<Device['policy']>): Device => ({
  id: 'd', name: 'pump-7', manufacturer: 'M', model: 'X', serialNumber: null, firmwareBaseline: '1', department: 'icu',
  clinicalPurpose: 'p', criticality: 'low', address: '10.1.2.3', sshPort: 22, hostKey: null, lifecycleState: 'deployed',
  policy: { ...defaultPolicy('low', 'icu'), ...policy }, vendorIds: [], hasCredential: true, retiredAt: null,
  createdAt: new Date(), updatedAt: new Date(),
} as unknown as Device);

describe('forwardRefusal', () => {
  const open = device({ allowPortForwarding: true, forwardPorts: [443, 8443] });
  it('allows the device itself (its address or its own loopback) on listed ports only', () => {
    expect(forwardRefusal(open, '10.1.2.3', 443)).toBeNull();
    expect(forwardRefusal(open, 'LOCALHOST', 8443)).toBeNull();
    expect(forwardRefusal(open, '127.0.0.1', 443)).toBeNull();
    expect(forwardRefusal(open, '10.1.2.3', 22)).toMatch(/port 22 is not among/);
    expect(forwardRefusal(open, '10.1.2.4', 443)).toMatch(/only the device itself/);
    expect(forwardRefusal(open, 'db.hospital.local', 1433)).toMatch(/only the device itself/);
  });
  it('refuses everything without allowPortForwarding, with no ports listed, and on a supervised device', () => {
    expect(forwardRefusal(device({ forwardPorts: [443] }), '10.1.2.3', 443)).toMatch(/not allowed on this device/);
    expect(forwardRefusal(device({ allowPortForwarding: true }), '10.1.2.3', 443)).toMatch(/not among/);
    expect(forwardRefusal(device({ allowPortForwarding: true, forwardPorts: [443], supervision: 'required' }), '10.1.2.3', 443)).toMatch(/supervised/);
  });
});
