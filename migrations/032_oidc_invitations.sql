-- Up Migration
-- Single sign-on (§8.5): a user signed in through the hospital's OpenID Provider is linked by
-- (issuer, subject), never by a matching username, so an IdP account cannot take over a local one.
-- Vendor onboarding: an account may expire (default: the vendor's contract end); `expired_at` marks
-- that its expiry was carried out (tokens, grants and pending requests ended), once.
ALTER TABLE users
  ADD COLUMN oidc_issuer text CHECK (oidc_issuer IS NULL OR length(oidc_issuer) BETWEEN 1 AND 500),
  ADD COLUMN oidc_subject text CHECK (oidc_subject IS NULL OR length(oidc_subject) BETWEEN 1 AND 255),
  ADD COLUMN expires_at timestamptz,
  ADD COLUMN expired_at timestamptz,
  ADD CONSTRAINT users_oidc_identity_pair CHECK ((oidc_issuer IS NULL) = (oidc_subject IS NULL));
CREATE UNIQUE INDEX users_oidc_identity_key ON users (oidc_issuer, oidc_subject) WHERE oidc_issuer IS NOT NULL;
CREATE INDEX users_expiry_idx ON users (expires_at) WHERE expires_at IS NOT NULL AND expired_at IS NULL;

-- Invitations: a single-use link (only the SHA-256 of its token is kept) that lets the invited person
-- set a password for the account described here. Pending = not accepted, not revoked, not expired.
CREATE TABLE invitations (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  token_hash text NOT NULL CHECK (token_hash ~ '^[0-9a-f]{64}$'),
  username text NOT NULL CHECK (username ~ '^[a-z0-9][a-z0-9._-]{1,63}$'),
  display_name text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
  roles text[] NOT NULL CHECK (
    cardinality(roles) >= 1
    AND roles <@ ARRAY['admin', 'approver', 'auditor', 'technician']::text[]
  ),
  vendor_id uuid NOT NULL REFERENCES vendors (id),
  account_expires_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  invited_by uuid NOT NULL REFERENCES users (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  accepted_at timestamptz,
  accepted_user_id uuid REFERENCES users (id),
  revoked_at timestamptz,
  revoked_by uuid REFERENCES users (id),
  CONSTRAINT invitations_closed_once CHECK (accepted_at IS NULL OR revoked_at IS NULL),
  CONSTRAINT invitations_link_before_account CHECK (expires_at <= account_expires_at)
);
CREATE UNIQUE INDEX invitations_token_hash_key ON invitations (token_hash);
CREATE INDEX invitations_open_idx ON invitations (expires_at) WHERE accepted_at IS NULL AND revoked_at IS NULL;

-- Down Migration
DROP TABLE invitations;
DROP INDEX users_expiry_idx;
DROP INDEX users_oidc_identity_key;
ALTER TABLE users
  DROP CONSTRAINT users_oidc_identity_pair,
  DROP COLUMN expired_at,
  DROP COLUMN expires_at,
  DROP COLUMN oidc_subject,
  DROP COLUMN oidc_issuer;
