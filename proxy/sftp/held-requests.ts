/**
 * SFTP requests that arrive before the relay is ready. The subsystem must be accepted at once
 * (OpenSSH sends its INIT without waiting for the reply, and ssh2 drops channel data that arrives
 * before accept), but the grant, the policy and the device's SFTP channel are checked and opened
 * after that: requests are held meanwhile, in order, and then replayed to the relay's handlers — or
 * answered with a refusal. A request ssh2 finds no listener for is answered OP_UNSUPPORTED by ssh2,
 * so every operation has a holding listener. Bounded: beyond the cap a request is answered FAILURE.
 */
import ssh2, { type SFTPWrapper } from 'ssh2';

const { STATUS_CODE: STATUS } = ssh2.utils.sftp;

export const SFTP_OPERATIONS = [
  'OPEN', 'READ', 'WRITE', 'CLOSE', 'FSTAT', 'FSETSTAT', 'OPENDIR', 'READDIR', 'STAT', 'LSTAT', 'REALPATH', 'READLINK',
  'SETSTAT', 'REMOVE', 'MKDIR', 'RMDIR', 'RENAME', 'SYMLINK',
] as const;

const MAX_HELD = 256;

export interface HeldRequests {
  /** stops holding and emits the held requests again, to the listeners attached since */
  release(): void;
  /** stops holding and answers every request (held and to come) PERMISSION_DENIED with `message` */
  refuse(message: string): void;
}

export function holdRequests(sftp: SFTPWrapper): HeldRequests {
  const held: [string, unknown[]][] = [];
  const listeners = new Map<string, (...args: unknown[]) => void>();
  const answer = (reqid: unknown, code: number, message: string) => {
    try {
      sftp.status(reqid as number, code, message);
    } catch {
      // the channel is gone
    }
  };
  for (const op of SFTP_OPERATIONS) {
    const hold = (...args: unknown[]) => {
      if (held.length >= MAX_HELD) return answer(args[0], STATUS.FAILURE, 'Portcullis: too many requests before the session was ready');
      held.push([op, args]);
    };
    listeners.set(op, hold);
    sftp.on(op, hold);
  }
  const stop = () => {
    for (const [op, fn] of listeners) sftp.removeListener(op, fn);
    listeners.clear();
  };
  return {
    release() {
      stop();
      for (const [op, args] of held.splice(0)) sftp.emit(op, ...args);
    },
    refuse(message) {
      stop();
      for (const [, args] of held.splice(0)) answer(args[0], STATUS.PERMISSION_DENIED, message);
      for (const op of SFTP_OPERATIONS) sftp.on(op, (reqid: number) => answer(reqid, STATUS.PERMISSION_DENIED, message));
    },
  };
}
