/** The first admin's one-time password goes to the terminal, or to a 0600 file when there is none (issue 18 item 3). */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FIRST_PASSWORD_FILE, tellFirstPassword } from '../../server/first-password.js';

const dirs: string[] = [];
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'pc-first-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe('tellFirstPassword', () => {
  it('writes to the terminal when there is one, and leaves no file', () => {
    const dir = tmp();
    const terminal = path.join(dir, 'tty');
    fs.writeFileSync(terminal, '');
    expect(tellFirstPassword('password s3cret\n', dir, { terminal })).toEqual({ where: 'terminal' });
    expect(fs.readFileSync(terminal, 'utf8')).toBe('password s3cret\n');
    expect(fs.existsSync(path.join(dir, FIRST_PASSWORD_FILE))).toBe(false);
  });

  it('without a terminal, writes a file only its owner can read, replacing an old one', () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, FIRST_PASSWORD_FILE), 'stale', { mode: 0o644 });
    const told = tellFirstPassword('password s3cret\n', dir, { terminal: path.join(dir, 'no-such-dir', 'tty') });
    expect(told).toEqual({ where: 'file', file: path.join(dir, FIRST_PASSWORD_FILE) });
    expect(fs.readFileSync(path.join(dir, FIRST_PASSWORD_FILE), 'utf8')).toBe('password s3cret\n');
    expect(fs.statSync(path.join(dir, FIRST_PASSWORD_FILE)).mode & 0o777).toBe(0o600);
  });
});
