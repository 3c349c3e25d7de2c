/**
 * Device lifecycle (pure): staged → deployed ⇄ suspended → retired. Retirement is final.
 * Only deployed devices can be requested or reached.
 */
import { conflict } from './errors.js';
import type { Device, LifecycleState } from './types.js';

const transitions: Record<LifecycleState, readonly LifecycleState[]> = {
  staged: ['deployed', 'retired'],
  deployed: ['suspended', 'retired'],
  suspended: ['deployed', 'retired'],
  retired: [],
};

export function allowedTransitions(from: LifecycleState): readonly LifecycleState[] {
  return transitions[from];
}

/** Throws a conflict unless `device` may move to `to` now. */
export function assertTransition(device: Pick<Device, 'lifecycleState' | 'hostKey' | 'hasCredential'>, to: LifecycleState): void {
  const from = device.lifecycleState;
  if (from === 'retired') throw conflict('device is retired; retirement is final');
  if (!transitions[from].includes(to)) {
    throw conflict(`cannot move a device from ${from} to ${to}`, { from, to, allowed: [...transitions[from]] });
  }
  if (to === 'deployed' && (!device.hostKey || !device.hasCredential)) {
    throw conflict('a device needs a pinned host key and a vaulted credential before it is deployed');
  }
}

export const isReachable = (d: Pick<Device, 'lifecycleState'>): boolean => d.lifecycleState === 'deployed';
