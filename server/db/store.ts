/** The PostgreSQL implementation of the core Store port: repositories bound to a pool or a transaction. */
import type pg from 'pg';
import { AppError, conflict, invalid } from '../core/errors.js';
import type { Store, Tx } from '../core/ports.js';
import { auditRepo, transactionAuditRepo } from './audit-repo.js';
import { credentialIssuesRepo } from './credential-issues-repo.js';
import { credentialsRepo } from './credentials-repo.js';
import { recordingsRepo } from './recordings-repo.js';
import { sessionsRepo } from './sessions-repo.js';
import { decisionsRepo } from './decisions-repo.js';
import { devicesRepo } from './devices-repo.js';
import { grantsRepo } from './grants-repo.js';
import { invitationsRepo } from './invitations-repo.js';
import { hostKeyChangesRepo } from './host-key-changes-repo.js';
import { requestsRepo } from './requests-repo.js';
import type { Pool, Queryable } from './pool.js';
import { supervisorsRepo } from './supervisors-repo.js';
import { searchRepo } from './search-repo.js';
import { auditLogRepo } from './audit-context.js';
import { reportsRepo } from './reports-repo.js';
import { siemSinksRepo } from './siem-repo.js';
import { mfaRepo } from './mfa-repo.js';
import { approvalLinksRepo } from './approval-links-repo.js';
import { slackMessagesRepo } from './slack-messages-repo.js';
import { transfersRepo } from './transfers-repo.js';
import { usersRepo } from './users-repo.js';
import { vendorsRepo } from './vendors-repo.js';

export function repositories(db: Queryable): Tx {
  return {
    users: usersRepo(db),
    vendors: vendorsRepo(db),
    invitations: invitationsRepo(db),
    devices: devicesRepo(db),
    credentials: credentialsRepo(db),
    audit: auditRepo(db),
    requests: requestsRepo(db),
    decisions: decisionsRepo(db),
    grants: grantsRepo(db),
    sessions: sessionsRepo(db),
    recordings: recordingsRepo(db),
    credentialIssues: credentialIssuesRepo(db),
    transfers: transfersRepo(db),
    supervisors: supervisorsRepo(db),
    search: searchRepo(db),
    auditLog: auditLogRepo(db),
    reports: reportsRepo(db),
    siemSinks: siemSinksRepo(db),
    mfa: mfaRepo(db),
    hostKeyChanges: hostKeyChangesRepo(db),
    approvalLinks: approvalLinksRepo(db),
    slackMessages: slackMessagesRepo(db),
  };
}

/** Constraint violations that slipped past validation become domain errors, never 500s. */
export function mapDatabaseError(err: unknown): unknown {
  if (err instanceof AppError || typeof err !== 'object' || err === null) return err;
  const e = err as pg.DatabaseError;
  switch (e.code) {
    case '23505':
      return conflict(`already exists (${e.constraint ?? 'unique'})`);
    case '23503':
      return invalid(`refers to something that does not exist (${e.constraint ?? 'foreign key'})`);
    case '23514':
    case '23502':
    case '22P02':
    case '22007':
    case '22008':
      return invalid(`rejected by the database (${e.constraint ?? e.code})`);
    default:
      return err;
  }
}

export function createStore(pool: Pool): Store {
  const read = repositories(pool);
  return {
    read,
    async transaction(fn) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        // audit appends are linked into the chain by the COMMIT's own message, holding its lock as briefly as possible
        const audit = transactionAuditRepo(client);
        const result = await fn({ ...repositories(client), audit });
        await audit.commit();
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw mapDatabaseError(err);
      } finally {
        client.release();
      }
    },
  };
}
