/** The pre-authentication gate on fake timers and stand-in sockets: deadline, attempts, per-address slots. */
import { EventEmitter } from 'node:events';
import type net from 'node:net';
import { describe, expect, it } from 'vitest';
import { PreauthGate, type PreauthRefusal } from '../../proxy/ssh-preauth.js';

class FakeSocket extends EventEmitter {
  destroyed = false;
  constructor(readonly remoteAddress: string | undefined) {
    super();
  }
  destroy() {
    if (this.destroyed) return;
    this.destroyed = true;
    this.emit('close');
  }
}

function rig(limits = { authTimeoutMs: 20_000, maxAttempts: 6, maxUnauthenticatedPerIp: 3 }) {
  let now = 0;
  const timers = new Set<{ fn: () => void; at: number }>();
  const refused: [PreauthRefusal, string][] = [];
  const gate = new PreauthGate({
    limits,
    onRefused: (kind, source) => refused.push([kind, source]),
    timers: {
      setTimeout: (fn, ms) => {
        const t = { fn, at: now + ms };
        timers.add(t);
        return t;
      },
      clearTimeout: (t) => void timers.delete(t as { fn: () => void; at: number }),
    },
  });
  const advance = (ms: number) => {
    now += ms;
    for (const t of [...timers].sort((a, b) => a.at - b.at)) {
      if (t.at > now) break;
      timers.delete(t);
      t.fn();
    }
  };
  const connect = (address: string | undefined = '192.0.2.1') => {
    const socket = new FakeSocket(address);
    return { socket, ticket: gate.admit(socket as unknown as net.Socket) };
  };
  return { gate, refused, timers, advance, connect };
}

describe('PreauthGate', () => {
  it('destroys a connection that has not authenticated by the deadline, and only such', () => {
    const t = rig();
    const idle = t.connect();
    const done = t.connect();
    done.ticket!.authenticated();
    t.advance(19_999);
    expect(idle.socket.destroyed).toBe(false);
    t.advance(1);
    expect(idle.socket.destroyed).toBe(true);
    expect(done.socket.destroyed).toBe(false);
    expect(t.refused).toEqual([['timeout', '192.0.2.1']]);
    expect(t.timers.size).toBe(0);
  });

  it('allows six attempts; the seventh is refused once and the socket goes shortly after', () => {
    const t = rig();
    const c = t.connect();
    for (let i = 0; i < 6; i++) expect(c.ticket!.attempt()).toBe(true);
    expect(c.ticket!.attempt()).toBe(false);
    expect(c.ticket!.attempt()).toBe(false);
    expect(t.refused).toEqual([['too_many_attempts', '192.0.2.1']]);
    t.advance(1000);
    expect(c.socket.destroyed).toBe(true);
    expect(t.refused).toHaveLength(1); // not also a timeout
  });

  it('counts unauthenticated connections per address (IPv4-mapped IPv6 is the same address)', () => {
    const t = rig();
    const held = [t.connect('192.0.2.1'), t.connect('::ffff:192.0.2.1'), t.connect('192.0.2.1')];
    expect(held.every((c) => c.ticket)).toBe(true);
    const fourth = t.connect('192.0.2.1');
    expect(fourth.ticket).toBeNull();
    expect(fourth.socket.destroyed).toBe(true);
    expect(t.connect('192.0.2.2').ticket).not.toBeNull(); // another address is not affected
    expect(t.refused).toEqual([['too_many_unauthenticated', '192.0.2.1']]);
    held[0]!.ticket!.authenticated(); // an authenticated connection frees its slot
    expect(t.connect('192.0.2.1').ticket).not.toBeNull();
    held[1]!.socket.destroy(); // so does a closed one
    expect(t.gate.heldBy('192.0.2.1')).toBe(2);
    expect(t.connect('192.0.2.1').ticket).not.toBeNull();
  });

  it('close() destroys every connection still unauthenticated', () => {
    const t = rig();
    const a = t.connect('192.0.2.1');
    const b = t.connect('192.0.2.2');
    b.ticket!.authenticated();
    t.gate.close();
    expect(a.socket.destroyed).toBe(true);
    expect(b.socket.destroyed).toBe(false);
    const gone = new FakeSocket(undefined); // a socket already gone has no address
    expect(t.gate.admit(gone as unknown as net.Socket)).toBeNull();
  });
});
