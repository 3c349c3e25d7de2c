/**
 * Key material, generated once and kept: files 0600 under the keys directory, or given by the
 * environment (production). Creation is exclusive (`wx`), so processes starting together on a
 * shared directory end up with the same keys. Private keys never leave this module's callers.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import ssh2 from 'ssh2';

export interface KeyMaterial {
  /** ed25519 private key that signs technicians' OpenSSH user certificates */
  sshUserCa: KeyObject;
  /** ed25519 private key that signs the proxy's host certificates (technicians trust it once, in known_hosts) */
  sshHostCa: KeyObject;
  /** ed25519 private key of the device-access CA: signs the proxy's per-connection device certificates (§8.4) */
  sshDeviceCa: KeyObject;
  /** the proxy's SSH host key, OpenSSH private key format (what ssh2's Server takes) */
  sshHostKey: string;
  /** ed25519 private key signing bearer and terminal tokens (jose EdDSA) */
  tokenSigning: KeyObject;
  tokenVerifying: KeyObject;
  /** 32-byte AES-256-GCM key sealing device credentials; never stored in the database */
  vaultKey: Buffer;
  /** ed25519 private key signing audit checkpoints (never used for anything else) */
  auditCheckpoint: KeyObject;
}

export interface KeyOverrides {
  sshUserCa?: string;
  sshHostCa?: string;
  sshDeviceCa?: string;
  sshHostKey?: string;
  tokenSigning?: string;
  vaultKey?: string;
  auditCheckpoint?: string;
}

async function readOrCreate(file: string, create: () => string): Promise<string> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const content = create();
  try {
    await fs.writeFile(file, content, { mode: 0o600, flag: 'wx' });
    return content;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return fs.readFile(file, 'utf8');
    throw err;
  }
}

const newEd25519Pem = () =>
  generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

/** An ed25519 key in OpenSSH private key format (what ssh2 and OpenSSH read). */
export const newOpenSshKey = (): string => newHostKey();

/** ssh2's generator now and then yields a key its own parser refuses: keep only one that parses. */
function newHostKey(): string {
  for (let i = 0; i < 10; i++) {
    const key = ssh2.utils.generateKeyPairSync('ed25519').private;
    const parsed = ssh2.utils.parseKey(key);
    if (!(parsed instanceof Error) && !Array.isArray(parsed) && parsed.getPublicSSH().length > 0) return key;
  }
  throw new Error('could not generate an SSH host key');
}

function parseVaultKey(text: string, source: string): Buffer {
  const key = Buffer.from(text.trim(), 'base64');
  if (key.length !== 32) throw new Error(`${source}: the vault key must be 32 bytes, base64-encoded`);
  return key;
}

function parseEd25519(pem: string, source: string): KeyObject {
  const key = createPrivateKey(pem);
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${source}: expected an ed25519 private key`);
  return key;
}

export async function loadKeys(keysDir: string, overrides: KeyOverrides = {}): Promise<KeyMaterial> {
  await fs.mkdir(keysDir, { recursive: true, mode: 0o700 });
  const file = (name: string) => path.join(keysDir, name);
  const caPem = overrides.sshUserCa ?? (await readOrCreate(file('ssh-user-ca.pem'), newEd25519Pem));
  const hostCaPem = overrides.sshHostCa ?? (await readOrCreate(file('ssh-host-ca.pem'), newEd25519Pem));
  const deviceCaPem = overrides.sshDeviceCa ?? (await readOrCreate(file('ssh-device-ca.pem'), newEd25519Pem));
  const hostKey = overrides.sshHostKey ?? (await readOrCreate(file('ssh-host-ed25519'), newHostKey));
  const tokenPem = overrides.tokenSigning ?? (await readOrCreate(file('token-signing.pem'), newEd25519Pem));
  const checkpointPem = overrides.auditCheckpoint ?? (await readOrCreate(file('audit-checkpoint.pem'), newEd25519Pem));
  const vaultText = overrides.vaultKey ?? (await readOrCreate(file('vault.key'), () => randomBytes(32).toString('base64') + '\n'));

  const parsedHost = ssh2.utils.parseKey(hostKey);
  if (parsedHost instanceof Error) throw new Error(`SSH host key: ${parsedHost.message}`);
  const tokenSigning = parseEd25519(tokenPem, 'token signing key');
  return {
    sshUserCa: parseEd25519(caPem, 'SSH user CA key'),
    sshHostCa: parseEd25519(hostCaPem, 'SSH host CA key'),
    sshDeviceCa: parseEd25519(deviceCaPem, 'SSH device CA key'),
    sshHostKey: hostKey,
    tokenSigning,
    tokenVerifying: createPublicKey(tokenSigning),
    vaultKey: parseVaultKey(vaultText, 'vault key'),
    auditCheckpoint: parseEd25519(checkpointPem, 'audit checkpoint key'),
  };
}

/** The public half of the proxy host key as an OpenSSH line ("ssh-ed25519 AAAA…"), for known_hosts. */
export function hostKeyLine(hostKey: string): string {
  const parsed = ssh2.utils.parseKey(hostKey);
  if (parsed instanceof Error || Array.isArray(parsed)) throw new Error('unreadable SSH host key');
  return `${parsed.type} ${parsed.getPublicSSH().toString('base64')}`;
}
