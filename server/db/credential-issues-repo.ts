import type { CredentialIssueRepo } from '../core/ports.js';
import type { CredentialIssue } from '../core/types.js';
import type { Queryable } from './pool.js';

function toIssue(r: Record<string, unknown>): CredentialIssue {
  return {
    id: r.id as string,
    grantId: r.grant_id as string,
    kind: r.kind as CredentialIssue['kind'],
    serial: Number(r.serial),
    keyFingerprint: (r.key_fingerprint as string | null) ?? null,
    tokenId: (r.token_id as string | null) ?? null,
    validAfter: r.valid_after as Date,
    validBefore: r.valid_before as Date,
    usedAt: (r.used_at as Date | null) ?? null,
    issuedAt: r.issued_at as Date,
  };
}

export function credentialIssuesRepo(db: Queryable): CredentialIssueRepo {
  return {
    async insert(c) {
      const { rows } = await db.query(
        `INSERT INTO credential_issues (grant_id, kind, key_fingerprint, token_id, valid_after, valid_before, issued_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *`,
        [c.grantId, c.kind, c.keyFingerprint, c.tokenId, c.validAfter, c.validBefore, c.issuedAt],
      );
      return toIssue(rows[0]);
    },
    async bySerial(serial) {
      const { rows } = await db.query('SELECT * FROM credential_issues WHERE serial = $1', [serial]);
      return rows[0] ? toIssue(rows[0]) : null;
    },
    async consumeToken(tokenId, at) {
      const { rows } = await db.query(
        `UPDATE credential_issues SET used_at = $2 WHERE token_id = $1 AND used_at IS NULL RETURNING *`,
        [tokenId, at],
      );
      return rows[0] ? toIssue(rows[0]) : null;
    },
    async forGrant(grantId) {
      const { rows } = await db.query('SELECT * FROM credential_issues WHERE grant_id = $1 ORDER BY issued_at', [grantId]);
      return rows.map(toIssue);
    },
  };
}
