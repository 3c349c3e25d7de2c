-- Up Migration
-- Second factors (§8.5). TOTP: the shared secret is sealed with the credential vault (bound to the
-- user), never stored plain; `last_step` is the last 30-second step whose code was accepted, so a code is
-- good once (a conditional UPDATE moves it forward only). Unconfirmed until a first code proves the
-- authenticator app holds it.
CREATE TABLE mfa_totp (
  user_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  secret_nonce bytea NOT NULL,
  secret_ciphertext bytea NOT NULL,
  secret_auth_tag bytea NOT NULL,
  confirmed_at timestamptz,
  last_step bigint CHECK (last_step >= 0),
  created_at timestamptz NOT NULL
);

-- WebAuthn passkeys: the credential id (base64url) names it; the COSE public key and the signature
-- counter verify each assertion.
CREATE TABLE webauthn_credentials (
  id text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_-]+$' AND length(id) <= 1400),
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  public_key bytea NOT NULL,
  counter bigint NOT NULL DEFAULT 0 CHECK (counter >= 0),
  transports text[] NOT NULL DEFAULT '{}',
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  created_at timestamptz NOT NULL,
  last_used_at timestamptz
);
CREATE INDEX webauthn_credentials_user ON webauthn_credentials (user_id);

-- Recovery codes: only the SHA-256 of each (high-entropy, random) code; single-use.
CREATE TABLE mfa_recovery_codes (
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  code_hash text NOT NULL CHECK (code_hash ~ '^[0-9a-f]{64}$'),
  created_at timestamptz NOT NULL,
  used_at timestamptz,
  PRIMARY KEY (user_id, code_hash)
);

-- Short-lived, single-use challenges: a login's second step (`login`: the mfaToken's SHA-256 names it,
-- with the WebAuthn challenge it last issued), a passkey registration (`register`) and a step-up for
-- deciding on one access request (`step_up`: the nonce the WebAuthn challenge is derived from, with the
-- request's content).
CREATE TABLE mfa_challenges (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  purpose text NOT NULL CHECK (purpose IN ('login', 'register', 'step_up')),
  token_hash text UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
  challenge text CHECK (length(challenge) BETWEEN 16 AND 200),
  nonce text CHECK (length(nonce) BETWEEN 16 AND 200),
  subject_id uuid,
  failures integer NOT NULL DEFAULT 0 CHECK (failures >= 0),
  created_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  used_at timestamptz,
  CHECK (purpose <> 'login' OR token_hash IS NOT NULL),
  CHECK (purpose <> 'step_up' OR (nonce IS NOT NULL AND subject_id IS NOT NULL))
);
CREATE INDEX mfa_challenges_user ON mfa_challenges (user_id, purpose);
CREATE INDEX mfa_challenges_challenge ON mfa_challenges (challenge);
CREATE INDEX mfa_challenges_expiry ON mfa_challenges (expires_at);

-- Down Migration
DROP TABLE mfa_challenges;
DROP TABLE mfa_recovery_codes;
DROP TABLE webauthn_credentials;
DROP TABLE mfa_totp;
