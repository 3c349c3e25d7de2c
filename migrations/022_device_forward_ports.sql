-- Up Migration
-- Port forwarding reaches only these ports on the device itself (policy.forwardPorts; default none).
ALTER TABLE devices ADD COLUMN forward_ports integer[] NOT NULL DEFAULT '{}'
  CHECK (array_position(forward_ports, NULL) IS NULL AND 0 < ALL (forward_ports) AND 65536 > ALL (forward_ports));

-- Down Migration
ALTER TABLE devices DROP COLUMN forward_ports;
