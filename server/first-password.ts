/**
 * Tells the operator the generated first-admin password once, where logs do not go: the controlling
 * terminal when there is one (`npm start > broker.log` still shows it on the screen, not in the file),
 * otherwise a file readable by the broker's user only under DATA_DIR, whose path — never the
 * password — is what the log says.
 */
import fs from 'node:fs';
import path from 'node:path';

export const FIRST_PASSWORD_FILE = 'first-admin-password';

export type Told = { where: 'terminal' } | { where: 'file'; file: string };

export function tellFirstPassword(text: string, dataDir: string, opts: { terminal?: string } = {}): Told {
  try {
    // a process without a controlling terminal (a service, a container, a detached child) gets ENXIO here
    const fd = fs.openSync(opts.terminal ?? '/dev/tty', 'w');
    try {
      fs.writeSync(fd, text);
    } finally {
      fs.closeSync(fd);
    }
    return { where: 'terminal' };
  } catch {
    const file = path.join(dataDir, FIRST_PASSWORD_FILE);
    fs.mkdirSync(dataDir, { recursive: true });
    fs.rmSync(file, { force: true });
    fs.writeFileSync(file, text, { mode: 0o600, flag: 'wx' });
    return { where: 'file', file };
  }
}
