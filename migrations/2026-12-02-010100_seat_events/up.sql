-- A tenant's seat warnings as events: one row each time its seat usage crosses 80 % or
-- 100 % (up or back down); the latest row is the level announced so far.
CREATE TABLE seat_events (
    id        bigserial   PRIMARY KEY,
    tenant_id uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    level     smallint    NOT NULL,
    used      integer     NOT NULL,
    included  integer     NOT NULL,
    at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT seat_events_level_valid CHECK (level IN (0, 80, 100))
);
CREATE INDEX seat_events_tenant_idx ON seat_events (tenant_id, id);
COMMENT ON TABLE seat_events IS 'A tenant''s seat usage crossing 80 % or 100 % (or back below): the seat warnings as events (seatWarnings).';
COMMENT ON COLUMN seat_events.level IS 'The warning level reached: 80 or 100 (percent), 0 when back below 80 %.';
COMMENT ON COLUMN seat_events.used IS 'Members the tenant had then.';
COMMENT ON COLUMN seat_events.included IS 'Seats the tenant had then.';
