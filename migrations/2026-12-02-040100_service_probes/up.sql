-- Service health (issue 24): one row per probe of an upstream (or of PostgreSQL), written by
-- the `service_probe` job (one replica at a time: the job queue's dedupe key), kept 24 hours.
-- `systemStatus.services` reads the newest row per service and computes uptime from the rest.
CREATE TABLE service_probes (
    id         bigserial   PRIMARY KEY,
    service    text        NOT NULL,
    at         timestamptz NOT NULL DEFAULT now(),
    up         boolean     NOT NULL,
    latency_ms integer     NOT NULL,
    error      text        NULL,
    CONSTRAINT service_probes_service_check
        CHECK (service IN ('postgresql', 'authentik', 'stalwart', 'ocis', 'stripe')),
    CONSTRAINT service_probes_latency_check CHECK (latency_ms >= 0)
);

COMMENT ON TABLE service_probes IS
    'Liveness probes of PostgreSQL and the upstreams (the last 24 hours): what each probe saw.';

CREATE INDEX service_probes_service_at_idx ON service_probes (service, at DESC);
CREATE INDEX service_probes_at_idx ON service_probes (at);
