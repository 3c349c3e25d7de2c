-- Up Migration
-- Appending to the audit chain in one round trip (server/db/audit-repo.ts). A transaction's events are
-- linked here, under the chain's advisory lock, and the caller sends COMMIT in the same message, so the
-- lock — which every audited change of every process waits for — is never held while a client process
-- is busy elsewhere (a proxy relaying gigabytes answered each step of the old append a second late).
-- Each event comes with its canonical JSON (server/core/audit-chain.ts) split around the two values
-- only known under the lock: head || prev_hash || '","seq":' || seq || tail. The hash is the SHA-256
-- of exactly that text, the same value hashAuditEvent computes; verification is unchanged.
CREATE FUNCTION audit_append(events jsonb) RETURNS void
LANGUAGE plpgsql
SECURITY INVOKER
SET search_path = public, pg_temp
AS $$
DECLARE
  prev_seq bigint;
  prev text;
  e jsonb;
  h text;
BEGIN
  PERFORM pg_advisory_xact_lock(1886351988); -- 0x706f7274, the lock of audit-repo.ts
  SELECT seq, hash INTO prev_seq, prev FROM audit_events ORDER BY seq DESC LIMIT 1;
  IF NOT FOUND THEN
    prev_seq := 0;
    prev := repeat('0', 64);
  END IF;
  FOR e IN SELECT value FROM jsonb_array_elements(events) LOOP
    prev_seq := prev_seq + 1;
    h := encode(sha256(convert_to((e->>'head') || prev || '","seq":' || prev_seq::text || (e->>'tail'), 'UTF8')), 'hex');
    INSERT INTO audit_events (seq, at, actor_type, actor_id, action, subject_type, subject_id, details, prev_hash, hash)
    VALUES (prev_seq, (e->>'at')::timestamptz, e->>'actorType', e->>'actorId', e->>'action', e->>'subjectType',
            e->>'subjectId', e->'details', prev, h);
    prev := h;
  END LOOP;
END
$$;

-- Down Migration
DROP FUNCTION audit_append(jsonb);
