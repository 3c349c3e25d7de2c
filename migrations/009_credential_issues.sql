-- Up Migration
-- Every certificate or terminal token minted for a grant. Only public facts are kept:
-- the serial, the key fingerprint and the validity; never anything that could be replayed.
CREATE SEQUENCE credential_serial_seq START 1000;
CREATE TABLE credential_issues (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  grant_id uuid NOT NULL REFERENCES grants (id),
  kind text NOT NULL CHECK (kind IN ('ssh_certificate', 'terminal_token')),
  serial bigint NOT NULL UNIQUE DEFAULT nextval('credential_serial_seq'),
  key_fingerprint text,
  token_id text UNIQUE,
  valid_after timestamptz NOT NULL,
  valid_before timestamptz NOT NULL,
  used_at timestamptz,
  issued_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT credential_issues_validity CHECK (valid_before > valid_after),
  CONSTRAINT credential_issues_kind_fields CHECK (
    (kind = 'ssh_certificate' AND key_fingerprint IS NOT NULL)
    OR (kind = 'terminal_token' AND token_id IS NOT NULL)
  )
);
CREATE INDEX credential_issues_grant_idx ON credential_issues (grant_id);

-- Down Migration
DROP TABLE credential_issues;
DROP SEQUENCE credential_serial_seq;
