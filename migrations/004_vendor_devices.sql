-- Up Migration
CREATE TABLE vendor_devices (
  vendor_id uuid NOT NULL REFERENCES vendors (id),
  device_id uuid NOT NULL REFERENCES devices (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (vendor_id, device_id)
);
CREATE INDEX vendor_devices_device_idx ON vendor_devices (device_id);

-- Down Migration
DROP TABLE vendor_devices;
