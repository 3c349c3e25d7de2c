/**
 * The real OpenSSH client driven from tests: run to completion, or keep running (piped, or under
 * `script` for a real tty) and wait for output; plus ssh2's client for presenting a certificate
 * OpenSSH itself refuses to load. Every process started here is killed by killStrays().
 */
import { spawn, type ChildProcess } from 'node:child_process';
import ssh2 from 'ssh2';
import { certificateKey } from '../../proxy/ssh2-cert-auth.js';

export interface SshResult { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; ms: number; timedOut: boolean }

const live = new Set<ChildProcess>();

/** Kills every ssh/script process a test left behind (call from afterEach). */
export function killStrays(): void {
  for (const p of live) killTree(p);
  live.clear();
}

function killTree(p: ChildProcess): void {
  if (p.exitCode !== null || p.signalCode !== null || !p.pid) return;
  try {
    process.kill(-p.pid, 'SIGKILL'); // spawned detached: its own process group
  } catch {
    p.kill('SIGKILL');
  }
}

/** Runs ssh to completion. `input` undefined: stdin is /dev/null; a string is written then closed. */
export function runSsh(args: string[], opts: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<SshResult> {
  const t0 = performance.now();
  const proc = spawn('ssh', args, { stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], detached: true, env: { ...process.env, ...opts.env } });
  live.add(proc);
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (d) => (stdout += d));
  proc.stderr!.on('data', (d) => (stderr += d));
  if (opts.input !== undefined) {
    proc.stdin!.on('error', () => undefined);
    proc.stdin!.end(opts.input);
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killTree(proc);
  }, opts.timeoutMs ?? 15_000);
  return new Promise((resolve) => {
    proc.once('close', (code, signal) => {
      clearTimeout(timer);
      live.delete(proc);
      resolve({ code, signal, stdout, stderr, ms: performance.now() - t0, timedOut });
    });
  });
}

export interface Exit { code: number | null; signal: NodeJS.Signals | null; at: number }

/** A running ssh (piped, or under `script` for a real tty) with its output and a way to wait for text. */
export class SshProc {
  readonly proc: ChildProcess;
  readonly exited: Promise<Exit>;
  private out = '';
  private waiters = new Set<() => void>();

  constructor(command: string, args: string[], env: NodeJS.ProcessEnv = {}) {
    this.proc = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true, env: { ...process.env, TERM: 'xterm-256color', ...env } });
    live.add(this.proc);
    const onData = (d: Buffer) => {
      this.out += d.toString('utf8');
      for (const w of [...this.waiters]) w();
    };
    this.proc.stdout!.on('data', onData);
    this.proc.stderr!.on('data', onData);
    this.proc.stdin!.on('error', () => undefined);
    this.exited = new Promise((resolve) => {
      this.proc.once('close', (code, signal) => {
        const at = performance.now();
        live.delete(this.proc);
        for (const w of [...this.waiters]) w();
        resolve({ code, signal, at });
      });
    });
  }

  get output(): string {
    return this.out;
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  write(text: string): void {
    this.proc.stdin!.write(text);
  }

  /** Position in the output, to wait for something printed after it. */
  mark(): number {
    return this.out.length;
  }

  waitForOutput(re: RegExp, timeoutMs = 5000, from = 0): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const m = this.out.slice(from).match(re);
        if (m) {
          done();
          resolve(m);
        } else if (!this.running) {
          done();
          reject(new Error(`ssh exited before ${re} appeared; output:\n${this.out}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${re}; output:\n${this.out}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Resolves with the exit, or rejects after timeoutMs. */
  async waitExit(timeoutMs = 5000): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`ssh still running after ${timeoutMs} ms; output:\n${this.out}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  kill(): void {
    killTree(this.proc);
  }
}

/** ssh with pipes (`-tt` in args for a pty without a local terminal). */
export const spawnSsh = (args: string[], env: NodeJS.ProcessEnv = {}) => new SshProc('ssh', args, env);

/** Runs ssh with `input` on stdin; resolves with the exact bytes it printed on stdout. */
export function sshBytes(args: string[], input: Buffer): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  const proc = spawn('ssh', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  live.add(proc);
  const out: Buffer[] = [];
  let stderr = '';
  proc.stdout.on('data', (d: Buffer) => out.push(d));
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  proc.stdin.on('error', () => undefined);
  proc.stdin.end(input);
  const timer = setTimeout(() => proc.kill('SIGKILL'), 30_000);
  return new Promise((resolve) => proc.once('close', (code) => {
    clearTimeout(timer);
    live.delete(proc);
    resolve({ code, stdout: Buffer.concat(out), stderr });
  }));
}

/** single-quotes a word for sh */
export const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * `ssh -tt` on a real terminal: util-linux `script` gives it a pty of cols x rows (so the pty-req carries
 * that size). When `resizeFlag` is given, creating that file resizes the terminal to `resizeTo`: the
 * kernel sends SIGWINCH and ssh sends a window-change.
 */
export function spawnSshOnTty(args: string[], tty: { cols: number; rows: number; resizeFlag?: string; resizeTo?: { cols: number; rows: number } }): SshProc {
  const parts = [`stty cols ${tty.cols} rows ${tty.rows}`];
  if (tty.resizeFlag && tty.resizeTo) {
    parts.push(`(while [ ! -e ${shq(tty.resizeFlag)} ]; do sleep 0.05; done; stty cols ${tty.resizeTo.cols} rows ${tty.resizeTo.rows} </dev/tty) &`);
  }
  parts.push(`exec ssh -tt ${args.map(shq).join(' ')}`);
  return new SshProc('script', ['-qefc', parts.join('\n'), '/dev/null']);
}

/**
 * Presents a certificate line to the proxy with ssh2's client (the real OpenSSH client refuses to load a
 * certificate whose CA signature does not verify, so it cannot send a forged one). The request is
 * written the way OpenSSH writes it (proxy/ssh2-cert-auth.ts), so a genuine certificate for a
 * usable grant is accepted: that is the control every refusal here is compared with. Resolves
 * 'accepted' (authentication succeeded; no channel is opened) or the client's error message.
 */
export function presentCertificate(port: number, username: string, certLine: string, privateKey: string): Promise<string> {
  const key = certificateKey(privateKey, certLine);
  return new Promise((resolve) => {
    const c = new ssh2.Client();
    c.on('ready', () => {
      c.end();
      resolve('accepted');
    });
    c.on('error', (err) => resolve(err.message));
    c.connect({
      host: '127.0.0.1', port, username, readyTimeout: 5000, hostVerifier: () => true,
      authHandler: [{ type: 'publickey', username, key } as ssh2.PublicKeyAuthMethod],
    });
  });
}
