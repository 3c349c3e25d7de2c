/** Second factors in PostgreSQL (migration 031): TOTP secrets, passkeys, recovery code hashes, challenges. */
import type { MfaChallenge, MfaRepo, PasskeyRecord } from '../core/mfa-ports.js';
import type { Queryable } from './pool.js';

type Row = Record<string, unknown>;

function toPasskey(r: Row): PasskeyRecord {
  return {
    id: r.id as string,
    name: r.name as string,
    createdAt: r.created_at as Date,
    lastUsedAt: (r.last_used_at as Date | null) ?? null,
    publicKey: new Uint8Array(r.public_key as Buffer),
    counter: Number(r.counter),
    transports: (r.transports as string[] | null) ?? [],
  };
}

function toChallenge(r: Row): MfaChallenge {
  return {
    id: r.id as string,
    userId: r.user_id as string,
    purpose: r.purpose as MfaChallenge['purpose'],
    challenge: (r.challenge as string | null) ?? null,
    nonce: (r.nonce as string | null) ?? null,
    subjectId: (r.subject_id as string | null) ?? null,
    failures: r.failures as number,
    expiresAt: r.expires_at as Date,
  };
}

const LIVE = 'used_at IS NULL AND expires_at > $3';

export function mfaRepo(db: Queryable): MfaRepo {
  return {
    async summary(userId) {
      const { rows } = await db.query(
        `SELECT (SELECT confirmed_at FROM mfa_totp WHERE user_id = $1) AS totp_confirmed_at,
                (SELECT count(*) FROM webauthn_credentials WHERE user_id = $1)::int AS passkeys,
                (SELECT count(*) FROM mfa_recovery_codes WHERE user_id = $1 AND used_at IS NULL)::int AS recovery_left`,
        [userId],
      );
      const r = rows[0] as Row;
      return { totpConfirmedAt: (r.totp_confirmed_at as Date | null) ?? null, passkeys: r.passkeys as number, recoveryCodesLeft: r.recovery_left as number };
    },
    async totp(userId) {
      const { rows } = await db.query('SELECT * FROM mfa_totp WHERE user_id = $1', [userId]);
      const r = rows[0] as Row | undefined;
      if (!r) return null;
      return {
        sealed: { nonce: r.secret_nonce as Buffer, ciphertext: r.secret_ciphertext as Buffer, authTag: r.secret_auth_tag as Buffer },
        confirmedAt: (r.confirmed_at as Date | null) ?? null,
        lastStep: r.last_step === null ? null : Number(r.last_step),
        createdAt: r.created_at as Date,
      };
    },
    async putPendingTotp(userId, sealed, at) {
      const { rowCount } = await db.query(
        `INSERT INTO mfa_totp (user_id, secret_nonce, secret_ciphertext, secret_auth_tag, created_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (user_id) DO UPDATE SET secret_nonce = EXCLUDED.secret_nonce, secret_ciphertext = EXCLUDED.secret_ciphertext,
           secret_auth_tag = EXCLUDED.secret_auth_tag, created_at = EXCLUDED.created_at, last_step = NULL
         WHERE mfa_totp.confirmed_at IS NULL`,
        [userId, sealed.nonce, sealed.ciphertext, sealed.authTag, at],
      );
      return rowCount === 1;
    },
    async confirmTotp(userId, step, at) {
      const { rowCount } = await db.query(
        'UPDATE mfa_totp SET confirmed_at = $3, last_step = $2 WHERE user_id = $1 AND confirmed_at IS NULL AND (last_step IS NULL OR last_step < $2)',
        [userId, step, at],
      );
      return rowCount === 1;
    },
    async useTotpStep(userId, step) {
      const { rowCount } = await db.query(
        'UPDATE mfa_totp SET last_step = $2 WHERE user_id = $1 AND confirmed_at IS NOT NULL AND (last_step IS NULL OR last_step < $2)',
        [userId, step],
      );
      return rowCount === 1;
    },
    async deleteTotp(userId) {
      const { rowCount } = await db.query('DELETE FROM mfa_totp WHERE user_id = $1', [userId]);
      return rowCount === 1;
    },
    async passkeys(userId) {
      const { rows } = await db.query('SELECT * FROM webauthn_credentials WHERE user_id = $1 ORDER BY created_at, id', [userId]);
      return rows.map(toPasskey);
    },
    async passkey(userId, id) {
      const { rows } = await db.query('SELECT * FROM webauthn_credentials WHERE user_id = $1 AND id = $2', [userId, id]);
      return rows[0] ? toPasskey(rows[0] as Row) : null;
    },
    async insertPasskey(userId, p, at) {
      const { rows } = await db.query(
        `INSERT INTO webauthn_credentials (id, user_id, public_key, counter, transports, name, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *`,
        [p.id, userId, Buffer.from(p.publicKey), p.counter, p.transports, p.name, at],
      );
      const { publicKey: _k, counter: _c, transports: _t, ...passkey } = toPasskey(rows[0] as Row);
      return passkey;
    },
    async usePasskey(id, counter, at) {
      await db.query('UPDATE webauthn_credentials SET counter = GREATEST(counter, $2), last_used_at = $3 WHERE id = $1', [id, counter, at]);
    },
    async deletePasskey(userId, id) {
      const { rowCount } = await db.query('DELETE FROM webauthn_credentials WHERE user_id = $1 AND id = $2', [userId, id]);
      return rowCount === 1;
    },
    async replaceRecoveryCodes(userId, hashes, at) {
      await db.query('DELETE FROM mfa_recovery_codes WHERE user_id = $1', [userId]);
      await db.query(
        'INSERT INTO mfa_recovery_codes (user_id, code_hash, created_at) SELECT $1, h, $3 FROM unnest($2::text[]) AS h',
        [userId, hashes, at],
      );
    },
    async useRecoveryCode(userId, hash, at) {
      const { rowCount } = await db.query(
        'UPDATE mfa_recovery_codes SET used_at = $3 WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL',
        [userId, hash, at],
      );
      return rowCount === 1;
    },
    async deleteRecoveryCodes(userId) {
      await db.query('DELETE FROM mfa_recovery_codes WHERE user_id = $1', [userId]);
    },
    async insertChallenge(c) {
      const { rows } = await db.query(
        `INSERT INTO mfa_challenges (user_id, purpose, token_hash, challenge, nonce, subject_id, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *`,
        [c.userId, c.purpose, c.tokenHash ?? null, c.challenge ?? null, c.nonce ?? null, c.subjectId ?? null, c.createdAt, c.expiresAt],
      );
      return toChallenge(rows[0] as Row);
    },
    async loginChallenge(tokenHash, now) {
      const { rows } = await db.query(
        `SELECT * FROM mfa_challenges WHERE token_hash = $1 AND purpose = $2 AND ${LIVE} FOR UPDATE`,
        [tokenHash, 'login', now],
      );
      return rows[0] ? toChallenge(rows[0] as Row) : null;
    },
    async challengeByValue(userId, purpose, challenge, now) {
      const { rows } = await db.query(
        `SELECT * FROM mfa_challenges WHERE user_id = $1 AND purpose = $2 AND ${LIVE} AND challenge = $4 FOR UPDATE`,
        [userId, purpose, now, challenge],
      );
      return rows[0] ? toChallenge(rows[0] as Row) : null;
    },
    async setChallenge(id, challenge) {
      await db.query('UPDATE mfa_challenges SET challenge = $2 WHERE id = $1', [id, challenge]);
    },
    async countChallengeFailure(id) {
      const { rows } = await db.query('UPDATE mfa_challenges SET failures = failures + 1 WHERE id = $1 RETURNING failures', [id]);
      return (rows[0] as Row | undefined)?.failures as number ?? 0;
    },
    async useChallenge(id, at) {
      const { rowCount } = await db.query('UPDATE mfa_challenges SET used_at = $2 WHERE id = $1 AND used_at IS NULL', [id, at]);
      return rowCount === 1;
    },
    async purgeChallenges(before) {
      await db.query('DELETE FROM mfa_challenges WHERE expires_at < $1', [before]);
    },
  };
}
