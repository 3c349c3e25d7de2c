/**
 * The ports core entry points depend on. Implementations live in server/db (PostgreSQL),
 * server/crypto (keys, vault, tokens) and server/jobs / server/notify.
 */
import type { Clock } from './clock.js';
import type {
  AuditEvent,
  AuditEventInput,
  Device,
  DeviceCredential,
  DevicePolicy,
  LifecycleState,
  RoleName,
  User,
  UserSecret,
  Vendor,
} from './types.js';

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface UserRepo {
  insert(u: NewUser): Promise<User>;
  update(id: string, patch: UserPatch): Promise<User | null>;
  byId(id: string): Promise<User | null>;
  byUsername(username: string): Promise<(User & UserSecret) | null>;
  list(filter: { role?: RoleName; vendorId?: string; includeDisabled: boolean }): Promise<User[]>;
  recordLoginFailure(id: string, maxFailures: number, lockUntil: Date, now: Date): Promise<{ failedLogins: number; lockedUntil: Date | null }>;
  recordLoginSuccess(id: string): Promise<void>;
}

export interface NewUser {
  username: string;
  displayName: string;
  roles: RoleName[];
  vendorId: string | null;
  department: string | null;
  slackUserId: string | null;
  passwordHash: string;
}

export interface UserPatch {
  displayName?: string;
  roles?: RoleName[];
  vendorId?: string | null;
  department?: string | null;
  slackUserId?: string | null;
  passwordHash?: string;
  disabled?: boolean;
}

export interface VendorRepo {
  insert(v: Omit<Vendor, 'id' | 'createdAt' | 'updatedAt'>): Promise<Vendor>;
  update(id: string, patch: Partial<Omit<Vendor, 'id' | 'createdAt' | 'updatedAt'>>): Promise<Vendor | null>;
  byId(id: string): Promise<Vendor | null>;
  list(): Promise<Vendor[]>;
}

export type NewDevice = Omit<
  Device,
  'id' | 'lifecycleState' | 'vendorIds' | 'hasCredential' | 'retiredAt' | 'createdAt' | 'updatedAt'
>;
export type DevicePatch = Partial<Omit<NewDevice, 'policy'>> & { policy?: Partial<DevicePolicy> };

export interface DeviceFilter {
  vendorId?: string;
  department?: string;
  state?: LifecycleState;
}

export interface DeviceRepo {
  insert(d: NewDevice): Promise<Device>;
  update(id: string, patch: DevicePatch): Promise<Device | null>;
  /** conditional write: moves only if the device is still in `from` */
  transition(id: string, from: LifecycleState, to: LifecycleState, at: Date): Promise<Device | null>;
  byId(id: string, opts?: { forUpdate?: boolean }): Promise<Device | null>;
  byName(name: string): Promise<Device | null>;
  list(filter: DeviceFilter): Promise<Device[]>;
  setVendors(id: string, vendorIds: string[]): Promise<void>;
}

export interface SealedSecret {
  nonce: Buffer;
  ciphertext: Buffer;
  authTag: Buffer;
}

export interface CredentialRepo {
  upsert(deviceId: string, username: string, kind: DeviceCredential['kind'], sealed: SealedSecret): Promise<{ rotated: boolean }>;
  get(deviceId: string): Promise<{ username: string; kind: DeviceCredential['kind']; sealed: SealedSecret } | null>;
  destroy(deviceId: string): Promise<boolean>;
}

export interface AuditQuery {
  afterSeq?: number;
  limit: number;
  action?: string;
  subjectType?: string;
  subjectId?: string;
  actorId?: string;
}

export interface AuditRepo {
  /** appends one event to the chain; serialised so that concurrent writers never fork it */
  append(e: AuditEventInput, at: Date): Promise<AuditEvent>;
  list(q: AuditQuery): Promise<AuditEvent[]>;
  /** streams the whole chain in seq order, in batches */
  forEach(fn: (e: AuditEvent) => void, batchSize?: number): Promise<void>;
}

/** Repositories bound to one transaction (or to the pool, for reads). */
export interface Tx {
  users: UserRepo;
  vendors: VendorRepo;
  devices: DeviceRepo;
  credentials: CredentialRepo;
  audit: AuditRepo;
}

export interface Store {
  /** all-or-nothing: the repositories passed to fn share one transaction */
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** repositories for reads outside a transaction */
  read: Tx;
}

export interface Vault {
  seal(plaintext: string, associatedData: string): SealedSecret;
  open(sealed: SealedSecret, associatedData: string): string;
}

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(password: string, hash: string): Promise<boolean>;
}

export interface SessionTokenClaims {
  userId: string;
}

export interface TokenIssuer {
  issueSessionToken(userId: string): Promise<{ token: string; expiresAt: Date }>;
  verifySessionToken(token: string): Promise<SessionTokenClaims>;
}

export interface CorePolicy {
  loginMaxFailures: number;
  loginLockoutMinutes: number;
}

/** Everything core entry points need, built once by the entry point. */
export interface CoreDeps {
  store: Store;
  clock: Clock;
  vault: Vault;
  passwords: PasswordHasher;
  tokens: TokenIssuer;
  policy: CorePolicy;
}
