/**
 * Supervised input (issue 15, SPEC §8.6) without a network: input is dropped — never queued — while
 * nobody supervises, passes while someone does, and is held again when the last supervisor leaves;
 * every change is reported once; an unreadable database leaves the state as it was.
 */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { Supervisor } from '../../server/core/supervision.js';
import { SupervisionGate, type SupervisionChange } from '../../proxy/supervision-gate.js';

const ann: Supervisor = { userId: 'u-ann', displayName: 'Ann Approver', username: 'ann' };
const bob: Supervisor = { userId: 'u-bob', displayName: 'Bob Biomed', username: 'bob' };

function setup() {
  let answer: Supervisor[] | Error = [];
  const changes: SupervisionChange[] = [];
  let discards = 0;
  const errors: unknown[] = [];
  let tick: (() => void) | null = null;
  const gate = new SupervisionGate({
    read: async () => {
      if (answer instanceof Error) throw answer;
      return answer;
    },
    timers: { setTimeout: (fn) => ((tick = fn), 1), clearTimeout: () => void (tick = null) },
    refreshMs: 5000,
    onChange: (c) => changes.push(c),
    onDiscard: () => discards++,
    onError: (err) => errors.push(err),
  });
  const input = new PassThrough();
  const device: string[] = [];
  input.pipe(gate.filter()).on('data', (d: Buffer) => device.push(d.toString()));
  const type = async (text: string) => {
    input.write(text);
    await new Promise((r) => setImmediate(r));
  };
  return {
    gate, changes, errors, device, type,
    set: (a: Supervisor[] | Error) => (answer = a),
    discards: () => discards,
    fire: async () => {
      tick?.();
      await new Promise((r) => setImmediate(r));
    },
  };
}

describe('SupervisionGate', () => {
  it('drops input until someone supervises, passes it while they do, holds it again when they leave', async () => {
    const s = setup();
    await s.gate.start();
    expect(s.gate.held).toBe(true);
    await s.type('rm -rf /data\r');
    await s.type('more');
    expect(s.device).toEqual([]);
    expect(s.discards()).toBe(1); // told once per held stretch
    expect(s.gate.discardedBytes).toBe(17);

    s.set([ann]);
    await s.gate.refresh(); // the bus hint
    expect(s.gate.held).toBe(false);
    expect(s.changes.at(-1)).toMatchObject({ held: false, joined: [ann], left: [] });
    await s.type('ls\r');
    expect(s.device).toEqual(['ls\r']); // nothing typed while held came through

    s.set([ann, bob]);
    await s.fire(); // the periodic refresh
    expect(s.changes.at(-1)).toMatchObject({ held: false, joined: [bob], left: [] });

    s.set([]);
    await s.gate.refresh();
    expect(s.gate.held).toBe(true);
    expect(s.changes.at(-1)).toMatchObject({ held: true, left: [ann, bob] });
    await s.type('reboot\r');
    expect(s.device).toEqual(['ls\r']);
    expect(s.discards()).toBe(2);
  });

  it('whenSupervised waits for the first supervisor; stop releases it', async () => {
    const s = setup();
    await s.gate.start();
    let released = false;
    void s.gate.whenSupervised().then(() => (released = true));
    await s.fire();
    expect(released).toBe(false);
    s.set([ann]);
    await s.fire();
    expect(released).toBe(true);

    const t = setup();
    await t.gate.start();
    let stopped = false;
    void t.gate.whenSupervised().then(() => (stopped = true));
    t.gate.stop();
    await new Promise((r) => setImmediate(r));
    expect(stopped).toBe(true);
  });

  it('a database that cannot be read keeps the state as it was and is reported', async () => {
    const s = setup();
    s.set([ann]);
    await s.gate.start();
    s.set(new Error('connection refused'));
    await s.fire();
    expect(s.gate.held).toBe(false);
    expect(s.errors).toHaveLength(1);
    const held = setup();
    held.set(new Error('down'));
    await held.gate.start();
    expect(held.gate.held).toBe(true);
  });
});
