-- Up Migration
-- Token revocation: every login token carries the generation it was issued under; raising the
-- generation (logout, password change or reset, disable, role/vendor/department change) ends them all.
-- A password someone else chose (generated first admin, set by an admin) must be changed at first login.
ALTER TABLE users
  ADD COLUMN token_generation integer NOT NULL DEFAULT 0 CHECK (token_generation >= 0),
  ADD COLUMN password_change_required boolean NOT NULL DEFAULT false,
  ADD COLUMN password_changed_at timestamptz;

-- Login throttling, per source address across every username: a flooding address is throttled on
-- its own. `refused`/`refused_audited_at` aggregate refusals into one audit event per address and minute.
CREATE TABLE login_address_failures (
  address text PRIMARY KEY CHECK (length(address) BETWEEN 1 AND 100),
  failures integer NOT NULL DEFAULT 0 CHECK (failures >= 0),
  window_started_at timestamptz NOT NULL,
  locked_until timestamptz,
  refused integer NOT NULL DEFAULT 0 CHECK (refused >= 0),
  refused_audited_at timestamptz
);
CREATE INDEX login_address_failures_window ON login_address_failures (window_started_at);

-- ... and per (username, address): LOGIN_MAX_FAILURES locks that pair only. Keyed by the name typed,
-- so unknown usernames lock the same way as real ones (no account enumeration by the lock).
CREATE TABLE login_account_failures (
  username text NOT NULL CHECK (length(username) BETWEEN 1 AND 64),
  address text NOT NULL CHECK (length(address) BETWEEN 1 AND 100),
  failures integer NOT NULL DEFAULT 0 CHECK (failures >= 0),
  window_started_at timestamptz NOT NULL,
  locked_until timestamptz,
  PRIMARY KEY (username, address)
);
CREATE INDEX login_account_failures_window ON login_account_failures (window_started_at);

-- Down Migration
DROP TABLE login_account_failures;
DROP TABLE login_address_failures;
ALTER TABLE users
  DROP COLUMN password_changed_at,
  DROP COLUMN password_change_required,
  DROP COLUMN token_generation;
