/**
 * The broker's configuration: one zod schema over the environment, parsed once
 * at start-up. Every problem is reported at once. Nothing else reads process.env.
 */
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';

const roleNames = ['api', 'proxy', 'worker'] as const;
export type Role = (typeof roleNames)[number];

const port = z.coerce.number().int().min(0).max(65535);
const optionalUrl = z
  .string()
  .trim()
  .optional()
  .transform((v) => (v ? v : undefined))
  .pipe(z.string().url().optional());

/** OIDC_ROLE_MAP: `group=role,group=role,…`; a group may map to several roles */
const oidcRoleMap = z.string().default('').transform((s, ctx) => {
  const map: Record<string, ('admin' | 'approver' | 'auditor' | 'technician')[]> = {};
  for (const pair of s.split(',').map((p) => p.trim()).filter(Boolean)) {
    const at = pair.lastIndexOf('=');
    const group = pair.slice(0, at).trim();
    const role = pair.slice(at + 1).trim();
    if (at < 1 || !group || !['admin', 'approver', 'auditor', 'technician'].includes(role)) {
      ctx.addIssue({ code: 'custom', message: `"${pair}" is not group=role with role one of admin, approver, auditor, technician` });
      return z.NEVER;
    }
    (map[group] ??= []).push(role as 'admin' | 'approver' | 'auditor' | 'technician');
  }
  return map;
});
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

const schema = z.object({
  PORT: port.default(8080),
  SSH_PORT: port.default(2222),
  HOST: z.string().min(1).default('0.0.0.0'),
  DATA_DIR: z.string().min(1).default('./data'),
  DATABASE_URL: optionalUrl,
  // connections this process keeps to PostgreSQL at most (besides the bus's, the jobs' and the indexer's)
  DATABASE_POOL_SIZE: z.coerce.number().int().min(2).max(500).default(10),
  DATABASE_APP_ROLE: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a role name: lowercase letters, digits and _').optional(),
  DATABASE_APP_PASSWORD: z.string().min(1).optional(),
  MIGRATE_ON_START: z
    .enum(['true', 'false', '1', '0'])
    .default('true')
    .transform((v) => v === 'true' || v === '1'),
  REDIS_URL: optionalUrl,
  EMBEDDED_PG_PORT: port.default(54329),
  PUBLIC_URL: optionalUrl,
  SSH_PUBLIC_HOST: z.string().regex(/^[A-Za-z0-9.:-]{1,253}$/, 'a host name or IP address').optional(),
  ADMIN_PASSWORD: z.string().min(12, 'ADMIN_PASSWORD must be at least 12 characters').optional(),
  ROLES: z
    .string()
    .default('api,proxy,worker')
    .transform((s) => [...new Set(s.split(',').map((r) => r.trim()).filter(Boolean))])
    .pipe(z.array(z.enum(roleNames)).min(1, 'ROLES must name at least one of api, proxy, worker')),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  TOKEN_TTL_MINUTES: z.coerce.number().int().min(1).max(24 * 60).default(60),
  LOGIN_MAX_FAILURES: z.coerce.number().int().min(1).max(100).default(5),
  LOGIN_LOCKOUT_MINUTES: z.coerce.number().int().min(1).max(24 * 60).default(15),
  LOGIN_MAX_FAILURES_PER_ADDRESS: z.coerce.number().int().min(1).max(10_000).default(20),
  LOGIN_ACCOUNT_LOCK_SOURCES: z.coerce.number().int().min(1).max(1000).default(3),
  METRICS_TOKEN: z
    .string()
    .trim()
    .optional()
    .transform((v) => (v ? v : undefined))
    .pipe(z.string().min(16, 'METRICS_TOKEN must be at least 16 characters').optional()),
  REQUEST_TTL_HOURS: z.coerce.number().positive().max(24 * 30).default(24),
  RECORDINGS_DIR: z.string().min(1).optional(),
  KEYS_DIR: z.string().min(1).optional(),
  VAULT_KEY: z.string().min(1).optional(),
  SSH_CA_KEY: z.string().min(1).optional(),
  SSH_HOST_KEY: z.string().min(1).optional(),
  SSH_HOST_CA_KEY: z.string().min(1).optional(),
  /** the device-access CA's ed25519 private key (PEM); default: generated once as DATA_DIR/keys/ssh-device-ca.pem */
  SSH_DEVICE_CA_KEY: z.string().min(1).optional(),
  /** a rotated device key (credential kind `key`) is rotated at least this often */
  CREDENTIAL_MAX_AGE_DAYS: z.coerce.number().positive().max(3650).default(30),
  TOKEN_SIGNING_KEY: z.string().min(1).optional(),
  AUDIT_CHECKPOINT_KEY: z.string().min(1).optional(),
  AUDIT_CHECKPOINT_MINUTES: z.coerce.number().int().min(1).max(7 * 24 * 60).default(60),
  PROXY_INSTANCE: z.string().min(1).max(200).optional(),
  SESSION_WARNING_MINUTES: z
    .string()
    .default('5,1')
    .transform((s) => s.split(',').map((v) => Number(v.trim())))
    .pipe(z.array(z.number().positive().max(60)).min(1).max(5)),
  SSH_AUTH_TIMEOUT_SECONDS: z.coerce.number().positive().max(600).default(20),
  SSH_MAX_UNAUTHENTICATED_PER_IP: z.coerce.number().int().min(1).max(10_000).default(10),
  SSH_AUTH_AUDIT_WINDOW_SECONDS: z.coerce.number().positive().max(3600).default(60),
  SSH_MAX_CONNECTIONS_PER_GRANT: z.coerce.number().int().min(1).max(100_000).default(64),
  SESSION_RECHECK_SECONDS: z.coerce.number().positive().max(3600).default(5),
  JOB_QUEUE_PREFIX: z.string().regex(/^[A-Za-z0-9_-]{0,40}$/, 'letters, digits, _ and -, at most 40').default(''),
  RECORD_INPUT: z
    .enum(['true', 'false', '1', '0'])
    .default('true')
    .transform((v) => v === 'true' || v === '1'),
  COOKIE_SECURE: z
    .enum(['true', 'false', 'auto'])
    .default('auto'),
  SLACK_BOT_TOKEN: z.string().min(1).optional(),
  SLACK_SIGNING_SECRET: z.string().min(1).optional(),
  SLACK_CHANNEL: z.string().min(1).optional(),
  SLACK_API_URL: optionalUrl,
  SIEM_SYSLOG_URL: z
    .string()
    .trim()
    .optional()
    .transform((v) => (v ? v : undefined))
    .pipe(z.string().regex(/^(tcp|tls):\/\/(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}\/?$/, 'SIEM_SYSLOG_URL must be tcp://host:port or tls://host:port').optional()),
  SIEM_TLS_CA: z.string().min(1).optional(),
  SIEM_FORMAT: z.enum(['cef', 'json', 'ocsf']).default('cef'),
  SIEM_HEC_URL: optionalUrl,
  SIEM_HEC_TOKEN: z.string().min(1).optional(),
  /** roles whose users must set up a second factor (§8.5); empty: nobody must */
  MFA_REQUIRED_ROLES: z
    .string()
    .default('technician,approver,admin')
    .transform((s) => [...new Set(s.split(',').map((r) => r.trim()).filter(Boolean))])
    .pipe(z.array(z.enum(['admin', 'approver', 'auditor', 'technician']))),
  STEP_UP_SECONDS: z.coerce.number().int().min(10).max(24 * 3600).default(300),
  WEBAUTHN_RP_ID: z.string().regex(/^[A-Za-z0-9.-]{1,253}$/, 'a host name').optional(),
  WEBAUTHN_RP_NAME: z.string().min(1).max(100).default('Portcullis'),
  OIDC_ISSUER: optionalUrl,
  OIDC_CLIENT_ID: z.string().min(1).optional(),
  OIDC_CLIENT_SECRET: z.string().min(1).optional(),
  OIDC_ROLES_CLAIM: z.string().min(1).default('groups'),
  OIDC_ROLE_MAP: oidcRoleMap,
  OIDC_DEPARTMENT_CLAIM: z.string().min(1).optional(),
  OIDC_DISPLAY_NAME: z.string().trim().min(1).max(100).default('your hospital sign-in'),
}).superRefine((env, ctx) => {
  // single sign-on: a configured issuer needs a client and at least one group mapped to a role
  if (!env.OIDC_ISSUER) return;
  const problem = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
  if (!env.OIDC_CLIENT_ID) problem('OIDC_CLIENT_ID', 'OIDC_ISSUER is set: OIDC_CLIENT_ID is needed too');
  if (Object.keys(env.OIDC_ROLE_MAP).length === 0) problem('OIDC_ROLE_MAP', 'OIDC_ISSUER is set: map at least one group to a role (group=role,…)');
  const issuer = new URL(env.OIDC_ISSUER);
  if (issuer.protocol !== 'https:' && !LOOPBACK_HOSTS.has(issuer.hostname)) problem('OIDC_ISSUER', 'must be an https URL (plain http only on a loopback address)');
});

export type Config = ReturnType<typeof shapeConfig>;

function shapeConfig(env: z.infer<typeof schema>) {
  const dataDir = path.resolve(env.DATA_DIR);
  const publicUrl = (env.PUBLIC_URL ?? `http://localhost:${env.PORT}`).replace(/\/+$/, '');
  return {
    port: env.PORT,
    sshPort: env.SSH_PORT,
    host: env.HOST,
    dataDir,
    databaseUrl: env.DATABASE_URL,
    databasePoolSize: env.DATABASE_POOL_SIZE,
    /** `npm run migrate` (as the owner) then creates/updates this non-owner role the broker runs as */
    databaseAppRole: env.DATABASE_APP_ROLE ? { role: env.DATABASE_APP_ROLE, password: env.DATABASE_APP_PASSWORD } : undefined,
    /** false: the broker only checks that the owner has migrated the database (it runs as a role that owns nothing) */
    migrateOnStart: env.MIGRATE_ON_START,
    redisUrl: env.REDIS_URL,
    embeddedPgPort: env.EMBEDDED_PG_PORT,
    publicUrl,
    sshPublicHost: env.SSH_PUBLIC_HOST ?? new URL(publicUrl).hostname,
    adminPassword: env.ADMIN_PASSWORD,
    roles: env.ROLES as Role[],
    logLevel: env.LOG_LEVEL,
    tokenTtlMinutes: env.TOKEN_TTL_MINUTES,
    loginMaxFailures: env.LOGIN_MAX_FAILURES,
    loginLockoutMinutes: env.LOGIN_LOCKOUT_MINUTES,
    loginMaxFailuresPerAddress: env.LOGIN_MAX_FAILURES_PER_ADDRESS,
    loginAccountLockSources: env.LOGIN_ACCOUNT_LOCK_SOURCES,
    /** unset: /metrics answers loopback callers only */
    metricsToken: env.METRICS_TOKEN,
    requestTtlHours: env.REQUEST_TTL_HOURS,
    credentialMaxAgeDays: env.CREDENTIAL_MAX_AGE_DAYS,
    keysDir: path.resolve(env.KEYS_DIR ?? path.join(dataDir, 'keys')),
    keyOverrides: {
      vaultKey: env.VAULT_KEY,
      sshUserCa: env.SSH_CA_KEY,
      sshHostKey: env.SSH_HOST_KEY,
      sshHostCa: env.SSH_HOST_CA_KEY,
      sshDeviceCa: env.SSH_DEVICE_CA_KEY,
      tokenSigning: env.TOKEN_SIGNING_KEY,
      auditCheckpoint: env.AUDIT_CHECKPOINT_KEY,
    },
    /** the worker signs a checkpoint of the audit log this often (and at start) */
    auditCheckpointMinutes: env.AUDIT_CHECKPOINT_MINUTES,
    /** every periodic checkpoint, one JSON line each: a copy of the signed heads outside the database */
    auditCheckpointsFile: path.join(dataDir, 'audit-checkpoints.jsonl'),
    recordingsDir: path.resolve(env.RECORDINGS_DIR ?? path.join(dataDir, 'recordings')),
    recordInput: env.RECORD_INPUT,
    sessionWarningMinutes: env.SESSION_WARNING_MINUTES,
    sessionRecheckSeconds: env.SESSION_RECHECK_SECONDS,
    /** prefixes the BullMQ queue names: deployments sharing one Redis (or database) keep their jobs apart */
    jobQueuePrefix: env.JOB_QUEUE_PREFIX,
    sshPreauth: {
      authTimeoutSeconds: env.SSH_AUTH_TIMEOUT_SECONDS,
      maxUnauthenticatedPerIp: env.SSH_MAX_UNAUTHENTICATED_PER_IP,
      auditWindowSeconds: env.SSH_AUTH_AUDIT_WINDOW_SECONDS,
    },
    /** connections (SSH and browser terminal) one grant may hold through one process at once; more are refused */
    sshMaxConnectionsPerGrant: env.SSH_MAX_CONNECTIONS_PER_GRANT,
    // stable across restarts of the same deployment: the host, the data directory and the roles
    proxyInstance: env.PROXY_INSTANCE ?? `${os.hostname()}:${dataDir}:${env.ROLES.join('+')}`,
    cookieSecure: env.COOKIE_SECURE === 'auto' ? publicUrl.startsWith('https:') : env.COOKIE_SECURE === 'true',
    slack: {
      botToken: env.SLACK_BOT_TOKEN,
      signingSecret: env.SLACK_SIGNING_SECRET,
      channel: env.SLACK_CHANNEL,
      apiUrl: env.SLACK_API_URL,
    },
    /** second factors and step-up (§8.5): the WebAuthn relying party is PUBLIC_URL's host unless WEBAUTHN_RP_ID says otherwise */
    mfa: {
      requiredRoles: env.MFA_REQUIRED_ROLES as string[],
      stepUpSeconds: env.STEP_UP_SECONDS,
      rpId: env.WEBAUTHN_RP_ID ?? new URL(publicUrl).hostname,
      rpName: env.WEBAUTHN_RP_NAME,
      origin: new URL(publicUrl).origin,
    },
    /** SIEM streaming (§8.7): the worker delivers every audit event to each sink set here */
    siem: {
      syslogUrl: env.SIEM_SYSLOG_URL,
      /** PEM file of the CA that signed the TLS syslog receiver's certificate */
      tlsCa: env.SIEM_TLS_CA,
      format: env.SIEM_FORMAT,
      hecUrl: env.SIEM_HEC_URL,
      hecToken: env.SIEM_HEC_TOKEN,
    },
    /** single sign-on for staff through the hospital's OpenID Provider (§8.5); undefined: local accounts only */
    oidc: env.OIDC_ISSUER
      ? {
          issuer: env.OIDC_ISSUER,
          clientId: env.OIDC_CLIENT_ID!,
          clientSecret: env.OIDC_CLIENT_SECRET,
          rolesClaim: env.OIDC_ROLES_CLAIM,
          roleMap: env.OIDC_ROLE_MAP,
          departmentClaim: env.OIDC_DEPARTMENT_CLAIM,
          displayName: env.OIDC_DISPLAY_NAME,
          /** plain http is allowed for a loopback issuer only (checked above) */
          allowHttp: new URL(env.OIDC_ISSUER).protocol === 'http:',
        }
      : undefined,
  };
}

/** Parses the environment; throws one Error listing every problem. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(env)'}: ${i.message}`);
    throw new Error(`invalid configuration:\n${lines.join('\n')}`);
  }
  return shapeConfig(parsed.data);
}
