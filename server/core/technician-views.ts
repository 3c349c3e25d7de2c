/**
 * What a technician sees of the infrastructure behind the proxy: nothing. A caller who holds no role
 * but technician gets devices without their network address, SSH port and pinned host key, and
 * recordings without their file path (they reach devices only through the broker, whose SSH command
 * names the broker). Admins, auditors and approvers see the full records. Pure functions.
 */
import { hasRole, requireUser } from './access.js';
import type { Actor, Device, Recording, User } from './types.js';

// the last connection test's reason names the device's address: infrastructure too
export type TechnicianDevice = Omit<Device, 'address' | 'sshPort' | 'hostKey' | 'lastTest'>;
export type TechnicianRecording = Omit<Recording, 'path'>;

/** True for a user who holds only the technician role (and so sees no infrastructure details). */
export function technicianOnly(user: User): boolean {
  return !hasRole(user, 'admin') && !hasRole(user, 'auditor') && !hasRole(user, 'approver');
}

export function deviceView(actor: Actor, device: Device): Device | TechnicianDevice {
  if (!technicianOnly(requireUser(actor))) return device;
  const { address: _a, sshPort: _p, hostKey: _k, lastTest: _t, ...rest } = device;
  return rest;
}

/** A session (or anything carrying its recording) with the recording's file path removed for technicians. */
export function sessionView<S extends { recording?: Recording | null }>(actor: Actor, s: S): S | (Omit<S, 'recording'> & { recording: TechnicianRecording | null }) {
  if (!technicianOnly(requireUser(actor)) || !s.recording) return s;
  const { path: _p, ...recording } = s.recording;
  return { ...s, recording };
}
