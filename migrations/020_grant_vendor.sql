-- Up Migration
-- the vendor a grant was given through (the technician's vendor at approval): a grant lets its
-- technician in only while they still belong to this vendor and it still services the device
ALTER TABLE grants ADD COLUMN vendor_id uuid REFERENCES vendors (id);
UPDATE grants g SET vendor_id = u.vendor_id FROM users u WHERE u.id = g.technician_id AND g.vendor_id IS NULL;
CREATE INDEX grants_vendor_idx ON grants (vendor_id, status);

-- Down Migration
DROP INDEX grants_vendor_idx;
ALTER TABLE grants DROP COLUMN vendor_id;
